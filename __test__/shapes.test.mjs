// Values read back share hidden classes even in a process whose other code has filled the
// root of the classes every `{}` and JSON.parse share (see Plain in lib/codec.js): else the
// engine makes a class per object, and each costs microseconds to build and to use.
import { it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const child = fileURLToPath(new URL('./helpers/shapes-child.mjs', import.meta.url))

it('records of one shape read back with one hidden class after the shared root was filled', () => {
  const run = spawnSync(process.execPath, ['--allow-natives-syntax', child], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(run.status, 0, run.stderr)
  assert.deepEqual(JSON.parse(run.stdout), { filled: 5000, record: true, nested: true, plain: true })
})
