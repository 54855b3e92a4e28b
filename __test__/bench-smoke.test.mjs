// The benchmark at tiny sizes, so that it keeps running: every workload, every store, both
// modes, the Rust limit and the JSON figures. Its numbers are not checked, only that it runs.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..')

const WORKLOAD_ROWS = [
  /^W1 +keys\.set of \d+ pre-keys/m,
  /^W2 +keys\.get of those \d+ pre-keys/m,
  /^W3 +\d+ sequential awaited single-session sets/m,
  /^W3 +\d+ sequential single-session gets/m,
  /^W3c +\d+ single-session sets, \d+ at a time/m,
  /^W4 +keys\.get of \d+ sessions/m,
  /^W4 +keys\.set of \d+ sessions/m,
  /^W5 +\d+ sequential saveCreds\(\)/m,
  /^W6 +open \+ first get/m,
  /^W6 +bytes on disk/m,
  /^W6 +files after close/m,
  /^W7 +longest event-loop stall during W1/m,
  /^W7 +longest event-loop stall during W4/m,
  /^W8 +Signal conversation/m,
  /^W8 +share of that time/m,
  /^W9 +RSS/m,
]
const STORES = ['rust (normal)', 'rust (full)', 'multi-file', 'reference', 'limit (normal)', 'limit (full)']

describe('npm run bench', () => {
  it('runs every workload on every store in smoke mode', { timeout: 10 * 60 * 1000 }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'bra-bench-smoke-'))
    try {
      const out = join(dir, 'results.json')
      const run = spawnSync(process.execPath, ['benches/run.mjs', '--smoke', '--out', out], {
        cwd: pkg,
        encoding: 'utf8',
        maxBuffer: 16 * 2 ** 20,
      })
      assert.equal(run.status, 0, `exit ${run.status ?? run.signal}\n${run.stderr}`)
      for (const row of WORKLOAD_ROWS) assert.match(run.stdout, row)
      for (const store of STORES) assert.ok(run.stdout.includes(`  ${store} `), `no row for ${store}`)
      assert.match(run.stdout, /^== plain ==$/m)
      assert.match(run.stdout, /^== with an AsyncLocalStorage active/m)
      assert.match(run.stdout, /^ {2}plain: \d+\/\d+ pass/m)

      const results = JSON.parse(readFileSync(out, 'utf8'))
      assert.equal(results.meta.smoke, true)
      for (const mode of ['plain', 'als']) {
        for (const row of ['W1', 'W2', 'W3set', 'W3get', 'W3c', 'W4get', 'W4set', 'W5', 'W6open', 'W8rate']) {
          const figures = results.modes[mode][row]
          for (const store of ['rust', 'rust-full', 'multi-file', 'reference']) {
            assert.ok(figures[store].median > 0, `${mode} ${row} ${store}`)
          }
        }
      }
      for (const store of ['rust', 'rust-full', 'multi-file', 'reference']) assert.ok(results.rss[store].peak > 0)
      assert.ok(results.limit.normal.W1.median > 0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('benches/w8-split.mjs', () => {
  it('splits the conversation\'s writes of both stores in smoke mode', { timeout: 5 * 60 * 1000 }, () => {
    const run = spawnSync(process.execPath, ['--expose-gc', 'benches/w8-split.mjs', '--smoke'], { cwd: pkg, encoding: 'utf8' })
    assert.equal(run.status, 0, `exit ${run.status ?? run.signal}\n${run.stderr}`)
    for (const store of ['this store', 'reference']) {
      assert.match(run.stdout, new RegExp(`^${store} +\\d+ msg/s, [\\d.]+ ms a message`, 'm'))
      // Every write timed: a count of writes above zero on the store's row of steps.
      assert.match(run.stdout, new RegExp(`^${store} +[\\d.\\s-]+ [1-9]\\d*( \\(\\d+ not at once\\))?$`, 'm'))
    }
  })
})

describe('benches/storages.mjs', () => {
  it('prints the cost of an await beside each count of storages', () => {
    const run = spawnSync(process.execPath, ['benches/storages.mjs', '0', '2'], { cwd: pkg, encoding: 'utf8' })
    assert.equal(run.status, 0, `exit ${run.status ?? run.signal}\n${run.stderr}`)
    assert.match(run.stdout, /^Node\.js [\d.]+, µs per await with n storages that have run: 0: [\d.]+, 2: [\d.]+$/m)
  })
})

describe('benches/ab.mjs --reference', () => {
  it('alternates this store with the reference and prints each workload\'s paired ratio', { timeout: 5 * 60 * 1000 }, () => {
    const run = spawnSync(process.execPath, ['--expose-gc', 'benches/ab.mjs', '--reference', '--smoke'], { cwd: pkg, encoding: 'utf8' })
    assert.equal(run.status, 0, `exit ${run.status ?? run.signal}\n${run.stderr}`)
    assert.match(run.stdout, /^this checkout against the reference store, 1 round \(/m)
    const rows = run.stdout.split('\n').filter((line) => /^W\d/.test(line))
    assert.equal(rows.length, 8, run.stdout)
    for (const row of rows) {
      assert.match(row, /this +[\d.]+ +reference +[\d.]+ +this\/reference [\d.]+ +\([\d.]+x (faster|slower)\)$/)
    }
  })
})

describe('benches/bounds.mjs', () => {
  it('times each row whole and in its parts, beside the reference', { timeout: 5 * 60 * 1000 }, () => {
    const run = spawnSync(process.execPath, ['--expose-gc', 'benches/bounds.mjs', '--smoke'], { cwd: pkg, encoding: 'utf8' })
    assert.equal(run.status, 0, `exit ${run.status ?? run.signal}\n${run.stderr}`)
    assert.match(run.stdout, /^1 round, variants alternated/m)
    const rows = run.stdout.split('\n').filter((line) => /^W\d/.test(line))
    assert.deepEqual(
      rows.map((row) => row.split(' ')[0]),
      ['W1', 'W3', 'W5'],
    )
    for (const row of rows) assert.match(row, /\(target: [\d.]+× the reference\)$/)
    const variants = run.stdout.split('\n').filter((line) => line.startsWith('  '))
    assert.equal(variants.length, 12, run.stdout)
    for (const line of variants) {
      assert.match(line, /^ {2}(reference +[\d.]+ ms|[a-z ]+? +[\d.]+ ms +[\d.]+×)$/)
    }
  })
})
