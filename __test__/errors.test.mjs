// Bad input answers with a rejected promise carrying an AuthStateError with a documented
// code; the process stays up and the data already stored stays intact.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync, readFileSync, mkdirSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { useRustAuthState, AuthStateError, ErrorCode } from '../index.js'

const rejectsWith = (promise, code) =>
  assert.rejects(promise, (err) => {
    assert.ok(err instanceof AuthStateError, `not an AuthStateError: ${err}`)
    assert.ok(err instanceof Error)
    assert.equal(err.code, code, err.message)
    assert.ok(err.message.length > 0)
    return true
  })

describe('bad input', () => {
  let dir, auth
  const kept = { 'pre-key': { 1: { private: Buffer.alloc(32, 1), public: Buffer.alloc(32, 2) } } }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bra-errors-'))
    auth = await useRustAuthState(join(dir, 'auth.db'))
    await auth.state.keys.set(kept)
  })
  after(async () => {
    await auth.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('refuses malformed get arguments', async () => {
    const { keys } = auth.state
    await rejectsWith(keys.get('pre-key', 'not-an-array'), ErrorCode.ERR_INVALID_ARGUMENT)
    await rejectsWith(keys.get('pre-key', [1, 2]), ErrorCode.ERR_INVALID_ARGUMENT)
    await rejectsWith(keys.get('pre-key', [null]), ErrorCode.ERR_INVALID_ARGUMENT)
    await rejectsWith(keys.get('', ['1']), ErrorCode.ERR_INVALID_ARGUMENT)
    await rejectsWith(keys.get(undefined, ['1']), ErrorCode.ERR_INVALID_ARGUMENT)
  })

  it('refuses malformed set arguments', async () => {
    const { keys } = auth.state
    for (const bad of [null, undefined, 42, 'x', [], [{ a: 1 }]]) {
      await rejectsWith(keys.set(bad), ErrorCode.ERR_INVALID_ARGUMENT)
    }
    await rejectsWith(keys.set({ session: 'not-an-object' }), ErrorCode.ERR_INVALID_ARGUMENT)
    await rejectsWith(keys.set({ session: [1, 2] }), ErrorCode.ERR_INVALID_ARGUMENT)
    await rejectsWith(keys.set({ '': { a: 1 } }), ErrorCode.ERR_INVALID_ARGUMENT)
  })

  it('refuses values that cannot be stored, writing nothing of the call', async () => {
    const { keys } = auth.state
    const circular = { a: 1 }
    circular.self = { back: circular }
    const cases = [
      [() => 1, ErrorCode.ERR_UNSUPPORTED_VALUE],
      [{ nested: [Symbol('s')] }, ErrorCode.ERR_UNSUPPORTED_VALUE],
      [{ big: 10n }, ErrorCode.ERR_UNSUPPORTED_VALUE],
      [new Uint16Array(4), ErrorCode.ERR_UNSUPPORTED_VALUE],
      [new ArrayBuffer(4), ErrorCode.ERR_UNSUPPORTED_VALUE],
      [circular, ErrorCode.ERR_CIRCULAR_VALUE],
    ]
    for (const [value, code] of cases) {
      // The good write beside the bad one must not land either: one call, one transaction.
      await rejectsWith(
        keys.set({ session: { good: { ok: true } }, 'pre-key': { 2: value } }),
        code,
      )
      assert.deepEqual(await keys.get('session', ['good']), {})
    }
    let deep = {}
    for (let i = 0; i < 300; i++) deep = { deep }
    await rejectsWith(keys.set({ x: { deep } }), ErrorCode.ERR_VALUE_TOO_DEEP)
    await rejectsWith(keys.set({ x: { ['i'.repeat(5000)]: 1 } }), ErrorCode.ERR_VALUE_TOO_LARGE)
  })

  it('keeps earlier data intact', async () => {
    assert.deepEqual(await auth.state.keys.get('pre-key', ['1']), kept['pre-key'])
  })

  it('refuses bad paths and options before touching anything', async () => {
    await rejectsWith(useRustAuthState(''), ErrorCode.ERR_INVALID_ARGUMENT)
    await rejectsWith(useRustAuthState(42), ErrorCode.ERR_INVALID_ARGUMENT)
    await rejectsWith(useRustAuthState(join(dir, 'o.db'), { sessionId: '' }), ErrorCode.ERR_INVALID_ARGUMENT)
    await rejectsWith(useRustAuthState(join(dir, 'o.db'), { durability: 'fast' }), ErrorCode.ERR_INVALID_ARGUMENT)
    await rejectsWith(useRustAuthState(join(dir, 'o.db'), { busyTimeoutMs: -1 }), ErrorCode.ERR_INVALID_ARGUMENT)
    for (const bad of [
      { lease: 'yes' },
      { takeover: 1 },
      { leaseTtlMs: 10 },
      { leaseTtlMs: 1.5 },
      { credsDebounceMs: -5 },
      { logger: { info() {} } },
      { logger: null },
    ]) {
      await rejectsWith(useRustAuthState(join(dir, 'o.db'), bad), ErrorCode.ERR_INVALID_ARGUMENT)
    }
    assert.ok(!readdirSync(dir).includes('o.db'))
  })

  it('refuses a directory, and a file that is not a database, leaving it byte for byte', async () => {
    const sub = join(dir, 'a-directory')
    mkdirSync(sub)
    await rejectsWith(useRustAuthState(sub), ErrorCode.ERR_CANNOT_OPEN)
    const garbage = join(dir, 'garbage.db')
    const bytes = Buffer.from('{"this":"is a creds.json, not a database"}'.repeat(200))
    writeFileSync(garbage, bytes)
    await rejectsWith(useRustAuthState(garbage), ErrorCode.ERR_NOT_A_DATABASE)
    assert.deepEqual(readFileSync(garbage), bytes)
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('garbage')), ['garbage.db'])
  })
})

describe('close', () => {
  it('waits for pending writes, then refuses every call with ERR_CLOSED', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bra-close-'))
    try {
      const path = join(dir, 'auth.db')
      const { state, saveCreds, close } = await useRustAuthState(path)
      const writes = []
      for (let i = 0; i < 100; i++) writes.push(state.keys.set({ session: { [`${i}.0`]: { n: i } } }))
      state.creds.registered = true
      writes.push(saveCreds())
      await close()
      await Promise.all(writes) // every write queued before close resolved
      for (const call of [
        () => state.keys.get('session', ['1.0']),
        () => state.keys.set({ session: { x: { y: 1 } } }),
        () => state.keys.clear(),
        () => saveCreds(),
        () => state.keys.listIds('session').next(),
      ]) {
        await rejectsWith(call(), ErrorCode.ERR_CLOSED)
      }
      await close() // closing twice is harmless
      const again = await useRustAuthState(path)
      assert.equal(again.state.creds.registered, true)
      assert.deepEqual(await again.state.keys.get('session', ['99.0']), { '99.0': { n: 99 } })
      await again.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('exports', () => {
  it('lists every error code once, as constants', () => {
    const codes = Object.keys(ErrorCode)
    assert.ok(codes.length >= 16)
    for (const c of codes) assert.equal(ErrorCode[c], c)
    assert.ok(Object.isFrozen(ErrorCode))
  })
})
