// `npm run bench`: this addon side by side with Baileys' useMultiFileAuthState, a reference
// SQLite store as SQL stores are written today, and the Rust limit, on the same real data.
//
//   node benches/run.mjs [--smoke] [--out results.json]
//
// --smoke (or BENCH_SMOKE=1) runs every workload at tiny sizes, to keep the benchmark working.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SIZES } from './data.mjs'
import { buildResults, printReport } from './report.mjs'
import { STORES } from './stores.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const pkg = resolve(here, '..')
const args = process.argv.slice(2)
const smoke = args.includes('--smoke') || process.env.BENCH_SMOKE === '1'
const outAt = args.indexOf('--out')
const outPath = outAt >= 0 ? resolve(args[outAt + 1]) : join(pkg, smoke ? 'bench-results-smoke.json' : 'bench-results.json')
const sizeName = smoke ? 'smoke' : 'full'
// Rounds of the Rust limit; 'full' fsyncs every commit and takes seconds a round.
const LIMIT_ROUNDS = smoke ? { normal: 1, full: 1 } : { normal: 5, full: 3 }

const started = performance.now()
const log = (msg) => process.stderr.write(`${msg}\n`)

function worker(...taskArgs) {
  const run = spawnSync(process.execPath, ['--expose-gc', join(here, 'worker.mjs'), ...taskArgs], {
    cwd: pkg,
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  if (run.status !== 0) throw new Error(`worker ${taskArgs.join(' ')} failed (${run.status ?? run.signal})`)
}

/** Builds benches/limit.rs (optimised unless smoke) and returns the path of its binary. */
function buildLimit() {
  const cargoArgs = ['build', '--bench', 'limit', '--message-format=json-render-diagnostics']
  if (!smoke) cargoArgs.push('--release')
  const build = spawnSync('cargo', cargoArgs, {
    cwd: pkg,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 2 ** 20,
  })
  if (build.status !== 0) throw new Error(`cargo ${cargoArgs.join(' ')} failed`)
  for (const lineText of build.stdout.split('\n')) {
    if (!lineText.startsWith('{')) continue
    const msg = JSON.parse(lineText)
    if (msg.reason === 'compiler-artifact' && msg.target?.name === 'limit' && msg.executable) return msg.executable
  }
  throw new Error('cargo built no limit binary')
}

function runLimit(exe, fixture) {
  const figures = {}
  for (const [durability, rounds] of Object.entries(LIMIT_ROUNDS)) {
    const run = spawnSync(exe, [fixture, '--rounds', String(rounds), '--durability', durability], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    if (run.status !== 0) throw new Error(`limit bench failed (${run.status ?? run.signal})`)
    Object.assign(figures, JSON.parse(run.stdout))
  }
  return figures
}

const root = mkdtempSync(join(tmpdir(), 'bra-bench-'))
const readJson = (name) => JSON.parse(readFileSync(join(root, `${name}.json`), 'utf8'))
const step = (what, fn) => {
  const t = performance.now()
  log(`${what}...`)
  const result = fn()
  log(`${what}: ${((performance.now() - t) / 1000).toFixed(1)} s`)
  return result
}

try {
  step('real data from Baileys and libsignal', () => worker('data', root, sizeName))
  const exe = step('building the Rust limit', buildLimit)
  const limit = step('running the Rust limit', () => runLimit(exe, join(root, 'limit.fixture')))
  step(`filling one store of each kind with ${SIZES[sizeName].bulk} keys`, () => worker('populate', root))
  const modes = {}
  for (const mode of ['plain', 'als']) {
    step(`workloads, ${mode}`, () => worker('measure', root, mode))
    modes[mode] = readJson(mode)
  }
  const rss = {}
  step('RSS, one process per store', () => {
    for (const store of STORES.filter((s) => !s.server)) {
      worker('rss', root, store.name)
      rss[store.name] = readJson(`rss-${store.name}`)
    }
  })
  const results = buildResults({
    sizes: SIZES[sizeName],
    smoke,
    modes,
    limit,
    bulk: readJson('bulk'),
    rss,
    seconds: (performance.now() - started) / 1000,
    labels: Object.fromEntries(STORES.map((s) => [s.name, s.label])),
    baselines: Object.fromEntries(STORES.filter((s) => s.baseline).map((s) => [s.name, s.baseline])),
  })
  printReport(results)
  writeFileSync(outPath, `${JSON.stringify(results, null, 2)}\n`)
  log(`figures written to ${outPath}`)
} finally {
  rmSync(root, { recursive: true, force: true })
}
