// A keys.set past 32 kB (of at most 4,096 keys) reaches the native store in parts, each
// written (in a file, in a transaction the last part commits; on Redis, queued in a MULTI
// that the last part's EXEC runs) or kept (on PostgreSQL, written with the last) while the
// next is encoded. On every engine:
// it writes all of its types and ids (deletes too), and one that fails after parts were sent
// writes nothing, nor leaves a part behind for the next write.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'

import { AuthStateError, ErrorCode, useRustAuthState } from '../index.js'
import { bytesOf } from './helpers/signal-shapes.mjs'
import { dropRunData, POSTGRES_URL, REDIS_URL, RUN_PREFIX, RUN_SCHEMA, serverUp } from './helpers/servers.mjs'

const require = createRequire(import.meta.url)
const { NativeStore } = require('../binding.js')

/** Runs `fn`, counting the parts the stores hand to the native side (the real method runs). */
async function countingParts(fn) {
  const stage = NativeStore.prototype.stage
  let parts = 0
  NativeStore.prototype.stage = function (part) {
    if (part !== null) parts++
    return stage.call(this, part)
  }
  try {
    await fn()
  } finally {
    NativeStore.prototype.stage = stage
  }
  return parts
}

/** Sessions shaped as libsignal's (base64 text) and as newer stacks' (bytes). */
const session = (tag, i) => ({ i, chain: bytesOf(33, tag, i).toString('base64'), raw: bytesOf(16, tag, i) })

const dir = mkdtempSync(join(tmpdir(), 'bra-parts-'))
after(() => rmSync(dir, { recursive: true, force: true }))
after(dropRunData)

const engines = [['file', () => [join(dir, `${Date.now()}-${Math.random()}.db`)]]]
if (serverUp('postgres')) engines.push(['PostgreSQL', (id) => [POSTGRES_URL, { schema: RUN_SCHEMA, sessionId: id }]])
if (serverUp('redis')) engines.push(['Redis', (id) => [REDIS_URL, { prefix: RUN_PREFIX, sessionId: id }]])

for (const [engine, where] of engines) {
  describe(`a large keys.set sent in parts (${engine})`, () => {
    it('writes every type and id, deletes included', async () => {
      const auth = await useRustAuthState(...where('parts-all'))
      try {
        const { keys } = auth.state
        const old = {}
        for (let i = 0; i < 500; i++) old[`old-${i}`] = { i }
        await keys.set({ 'sender-key': old })
        const data = { session: {}, 'sender-key': {}, 'pre-key': {} }
        for (let i = 0; i < 2000; i++) data.session[`s-${i}`] = session('s', i)
        for (let i = 0; i < 500; i++) data['sender-key'][`old-${i}`] = i % 2 ? null : { i, again: true }
        for (let i = 0; i < 1500; i++) data['pre-key'][i] = { public: bytesOf(32, 'p', i), private: bytesOf(32, 'q', i) }
        const parts = await countingParts(() => keys.set(data))
        assert.ok(parts >= 2, `sent in ${parts + 1} frames`)

        assert.deepStrictEqual(await keys.get('session', Object.keys(data.session)), data.session)
        assert.deepStrictEqual(await keys.get('pre-key', Object.keys(data['pre-key'])), data['pre-key'])
        const senders = await keys.get('sender-key', Object.keys(old))
        const kept = Object.fromEntries(Object.entries(data['sender-key']).filter(([, v]) => v !== null))
        assert.deepStrictEqual(senders, kept)
      } finally {
        await auth.close()
      }
    })

    it('writes nothing of a set that fails after parts were sent, and leaves no part behind', async () => {
      const auth = await useRustAuthState(...where('parts-failed'))
      try {
        const { keys } = auth.state
        const data = { session: {} }
        for (let i = 0; i < 4000; i++) data.session[`f-${i}`] = session('f', i)
        data.session['f-last'] = { cannot: () => 'be stored' }
        const parts = await countingParts(() =>
          assert.rejects(keys.set(data), (err) => err instanceof AuthStateError && err.code === ErrorCode.ERR_UNSUPPORTED_VALUE),
        )
        assert.ok(parts >= 1, 'the failure came after a part was sent')
        // A small write (answered at once where it can be) and a large one after it.
        await keys.set({ session: { small: { n: 1 } } })
        const large = {}
        for (let i = 0; i < 3000; i++) large[`l-${i}`] = session('l', i)
        await keys.set({ session: large })
        const ids = []
        for await (const id of keys.listIds('session')) ids.push(id)
        assert.deepStrictEqual(ids.sort(), ['small', ...Object.keys(large)].sort())
      } finally {
        await auth.close()
      }
    })

    it('sends a set past 32 kB in parts even when it is encoded at once, and drops them if it then fails', async () => {
      const auth = await useRustAuthState(...where('parts-eager'))
      try {
        const { keys } = auth.state
        const preKeys = (tag) => {
          const out = {}
          for (let i = 0; i < 812; i++) out[i] = { public: bytesOf(32, tag, i), private: bytesOf(32, tag, i + 1) }
          return out
        }
        // Encoded in one go (no pause): the failure comes from the encoder after a part was sent.
        const bad = { 'pre-key': { ...preKeys('b'), last: { cannot: () => 'be stored' } } }
        const sent = await countingParts(() => assert.rejects(keys.set(bad), (err) => err.code === ErrorCode.ERR_UNSUPPORTED_VALUE))
        assert.ok(sent >= 1, 'the failure came after a part was sent')
        assert.deepStrictEqual(await keys.get('pre-key', ['0', '811', 'last']), {})
        const good = preKeys('g')
        const parts = await countingParts(() => keys.set({ 'pre-key': good }))
        assert.ok(parts >= 1, `sent in ${parts + 1} frames`)
        assert.deepStrictEqual(await keys.get('pre-key', Object.keys(good)), good)
      } finally {
        await auth.close()
      }
    })

    it('sends a call of more than 4,096 keys whole, at its end', async () => {
      const auth = await useRustAuthState(...where('parts-import'))
      try {
        const { keys } = auth.state
        const data = { session: {} }
        for (let i = 0; i < 5000; i++) data.session[`i-${i}`] = session('i', i)
        assert.equal(await countingParts(() => keys.set(data)), 0)
        assert.deepStrictEqual(await keys.get('session', Object.keys(data.session)), data.session)
      } finally {
        await auth.close()
      }
    })
  })
}
