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
  assert.deepEqual(JSON.parse(run.stdout), { filled: 5000, record: true, nested: true, shaped: true, plain: true })
})

it('objects of known shapes read back the same where code cannot be made from text', () => {
  // lib/codec.js makes a literal per shape with `new Function`; this flag refuses it, and
  // each shape is then built key by key.
  const script = `
    const { mkdtempSync, rmSync } = require('node:fs')
    const { tmpdir } = require('node:os')
    const { join } = require('node:path')
    const { useRustAuthState } = require(${JSON.stringify(fileURLToPath(new URL('../index.js', import.meta.url)))})
    ;(async () => {
      const dir = mkdtempSync(join(tmpdir(), 'bra-nocodegen-'))
      const auth = await useRustAuthState(join(dir, 'auth.db'))
      await auth.state.keys.set({ 'pre-key': { 1: { private: Buffer.from([1]), public: Buffer.from([2]) } } })
      const { 1: got } = await auth.state.keys.get('pre-key', ['1'])
      process.stdout.write(JSON.stringify({ keys: Object.keys(got), private: [...got.private], public: [...got.public] }))
      await auth.close()
      rmSync(dir, { recursive: true, force: true })
    })()`
  const run = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '-e', script], { encoding: 'utf8', timeout: 60_000 })
  assert.equal(run.status, 0, run.stderr)
  assert.deepEqual(JSON.parse(run.stdout), { keys: ['private', 'public'], private: [1], public: [2] })
})
