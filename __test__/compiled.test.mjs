// The JavaScript hot paths (encoder, metrics, absent-key cache) keep their compiled code
// across full garbage collections. V8 holds an object's hidden class weakly: once every
// instance of a class is gone, a collection drops the class and, with it, the compiled code
// that ran on it, which then runs slowly until compiled again. lib/ keeps one instance of
// each such class alive; this checks, with V8's own trace, that no collection drops it.
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const child = fileURLToPath(new URL('./helpers/gc-child.mjs', import.meta.url))
// Functions of lib/ and index.js whose compiled code was dropped so before a value of each
// class was kept. (`drive` and `slices` are still recompiled after a collection: they start
// one of Node's Immediates, whose class carries the async context's own properties. They
// are small, and cheap to compile again.)
const WATCHED = ['setFrame', 'record', 'finish', 'has', 'note']

it('no full collection drops the compiled code of the encoder, metrics or absent-key cache', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bra-compiled-'))
  try {
    const run = spawnSync(process.execPath, ['--expose-gc', '--trace-deopt', child, dir], {
      encoding: 'utf8',
      timeout: 120_000,
      maxBuffer: 64 * 2 ** 20,
    })
    assert.equal(run.status, 0, run.stderr)
    assert.match(run.stdout, /^done$/m)
    // Lines such as: [marking dependent code 0x… <Code TURBOFAN> (0x… <SharedFunctionInfo
    // setFrame>) (opt id 12) for deoptimization, reason: weak objects]
    const dropped = run.stdout
      .split('\n')
      .filter((line) => line.includes('reason: weak objects'))
      .map((line) => /<SharedFunctionInfo ([^>]*)>/.exec(line)?.[1])
      .filter((name) => WATCHED.includes(name))
    assert.deepEqual(dropped, [], `compiled code dropped by a collection: ${dropped.join(', ')}`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
