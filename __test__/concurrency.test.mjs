// Concurrency: many calls in flight in one process, several processes on one file, and a
// lock held by another program.
//   - 10,000 gets and sets in flight together (issued in bursts, awaited with Promise.all) on
//     distinct ids and on a few hot ids, some of them large enough to be encoded in slices:
//     no error; each id ends holding the value of its last caller, which is also its last
//     resolved writer; promises resolve in call order; every get sees the value of the last
//     set issued before it.
//   - Two processes writing one file at once (different sessions on a file neither has
//     created yet; then the same session): no ERR_BUSY within the default busyTimeoutMs, no
//     confirmed write lost, every read-back right.
//   - A third program holding the write lock (better-sqlite3, BEGIN IMMEDIATE for 2 s): with
//     a tiny busyTimeoutMs a write rejects with ERR_BUSY, soon and writing nothing; reads go
//     on; the store works once the lock is released. With the default timeout the write waits.
//   - Calls made while a large keys.set is being encoded: they resolve in call order, and a
//     saveCreds() among them saves the creds as they were at the call.
//   - Writes made together in one turn (held and committed as one): seen by reads and ordered
//     with a clear made in that turn, resolved in call order, kept by a close made in it; all
//     refused after a takeover; one refused while encoding leaves the others written.
// BRA_HEAVY=1: 100,000 calls, and 20,000 writes per process. BRA_SEED=<n> replays a mix.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { useRustAuthState, ErrorCode } from '../index.js'
import { run, integrity, Database, NO_SQLITE } from './helpers/procs.mjs'
import { bytesOf, rng, heavy, seed } from './helpers/signal-shapes.mjs'
import { valueOf } from './helpers/writer-child.mjs'

const OPS = heavy ? 100_000 : 10_000
const PER_PROCESS = heavy ? 20_000 : 1500
const HOT = 16

const key = (type, id) => `${type}\u0000${id}`
async function collect(iterable) {
  const out = []
  for await (const x of iterable) out.push(x)
  return out
}

describe(`${OPS} concurrent calls from one process (seed ${seed})`, () => {
  let dir, auth
  const sets = [] // in call order: { writes: [[type, id, value]], resolved }
  const gets = [] // { type, ids, expected: [value], got }
  const lastCalled = new Map() // key -> value of the last set called (undefined: deleted)
  const writers = new Map() // key -> indexes into `sets`, in call order
  let final // key -> stored value at the end
  const counts = { distinct: 0, hot: 0, big: 0, deletes: 0, gets: 0, bulkGets: 0 }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bra-conc-'))
    auth = await useRustAuthState(join(dir, 'auth.db'))
    const { keys } = auth.state
    const random = rng(seed)
    let resolved = 0
    const pending = []
    const set = (data) => {
      const entry = { writes: [], resolved: 0 }
      const index = sets.push(entry) - 1
      for (const [type, byId] of Object.entries(data)) {
        for (const [id, value] of Object.entries(byId)) {
          const k = key(type, id)
          entry.writes.push([type, id, value])
          lastCalled.set(k, value ?? undefined)
          if (!writers.has(k)) writers.set(k, [])
          writers.get(k).push(index)
        }
      }
      pending.push(keys.set(data).then(() => (entry.resolved = ++resolved)))
    }
    const hotValue = (op, j) => ({ op, hot: j, key: bytesOf(16, 'hot', op) })
    let burst = 0
    for (let op = 0; op < OPS; op++) {
      // Calls come in bursts, with the event loop turning in between (as a bot handling
      // events): calls made while a large one is being encoded, and calls made after it.
      if (--burst <= 0) {
        burst = 1 + Math.floor(random() * 60)
        const pause = random()
        if (pause < 0.3) await new Promise(setImmediate)
        else if (pause < 0.5) await null
      }
      const r = random()
      if (r < 0.35) {
        counts.distinct++
        set({ session: { [`d-${op}`]: { op, key: bytesOf(32, 'd', op).toString('base64') } } })
      } else if (r < 0.64) {
        counts.hot++
        const j = Math.floor(random() * HOT)
        const value = random() < 0.05 ? (counts.deletes++, null) : hotValue(op, j)
        // Some calls write the same id in two types at once.
        set(random() < 0.2 ? { 'sender-key': { [`hot-${j}`]: value }, session: { [`hot-${j}`]: value } } : { 'sender-key': { [`hot-${j}`]: value } })
      } else if (r < 0.645) {
        // A large call (a group send): encoded in slices, while later calls wait their turn.
        counts.big++
        const session = {}
        for (let i = 0; i < 400; i++) session[`big-${op}-${i}`] = { op, i, chain: bytesOf(33, op, i).toString('base64') }
        const hot = {}
        for (let j = 0; j < HOT; j++) hot[`hot-${j}`] = hotValue(op, j)
        set({ session, 'sender-key': hot })
      } else {
        counts.gets++
        const type = random() < 0.7 ? 'sender-key' : 'session'
        const n = random() < 0.05 ? (counts.bulkGets++, 40) : 1 + Math.floor(random() * 4)
        const ids = Array.from({ length: n }, () => (random() < 0.7 ? `hot-${Math.floor(random() * HOT)}` : `d-${Math.floor(random() * op)}`))
        const entry = { type, ids, expected: ids.map((id) => lastCalled.get(key(type, id))), got: null }
        gets.push(entry)
        pending.push(keys.get(type, ids).then((got) => (entry.got = got)))
      }
    }
    await Promise.all(pending) // rejects on the first error
    final = new Map()
    for (const type of ['session', 'sender-key']) {
      const ids = [...writers.keys()].filter((k) => k.startsWith(`${type}\u0000`)).map((k) => k.slice(type.length + 1))
      const stored = await keys.get(type, ids)
      for (const id of ids) final.set(key(type, id), stored[id])
    }
  })
  after(async () => {
    await auth?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('settles every call without an error', (t) => {
    assert.ok(sets.every((s) => s.resolved > 0))
    assert.ok(gets.every((g) => g.got !== null))
    t.diagnostic(`${OPS} calls: ${JSON.stringify(counts)}; ${writers.size} ids written; errors: 0`)
  })

  it('leaves each id with the value of its last caller', () => {
    for (const [k, want] of lastCalled) assert.deepEqual(final.get(k), want, k.replace('\u0000', ' '))
  })

  it('leaves each id with the value of its last resolved writer', () => {
    for (const [k, indexes] of writers) {
      const last = indexes.reduce((a, b) => (sets[b].resolved > sets[a].resolved ? b : a))
      const want = sets[last].writes.find(([type, id]) => key(type, id) === k)[2] ?? undefined
      assert.deepEqual(final.get(k), want, `${k.replace('\u0000', ' ')}: last resolved writer was call ${last}`)
    }
  })

  it('resolves writes in the order they were called', () => {
    const order = sets.map((s, i) => [s.resolved, i]).sort((a, b) => a[0] - b[0]).map(([, i]) => i)
    const first = order.findIndex((v, i) => i > 0 && v < order[i - 1])
    assert.equal(first, -1, `call ${order[first]} resolved after call ${order[first - 1]}`)
  })

  it('answers every get with the last value set before it was called', () => {
    for (const { type, ids, expected, got } of gets) {
      ids.forEach((id, i) => assert.deepEqual(got[id], expected[i], `get ${type} ${id}`))
      for (const id of Object.keys(got)) assert.ok(ids.includes(id), `get returned an id not asked for: ${id}`)
    }
  })
})

describe('several processes writing one file', { skip: Database ? false : NO_SQLITE, timeout: heavy ? 1_800_000 : 180_000 }, () => {
  let dir
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bra-multi-'))))
  after(() => rmSync(dir, { recursive: true, force: true }))

  /** Starts writers together, waits for them; returns what each confirmed. */
  async function writers(path, specs, lease = 'lease') {
    const children = specs.map(([sessionId, tag]) => run('writer-child.mjs', [path, sessionId, tag, PER_PROCESS, 32, lease]))
    try {
      await Promise.all(children.map((c) => c.line('LOADED', 120_000)))
      for (const c of children) c.stdin.write('GO\n')
      const results = await Promise.all(children.map((c) => c.exited))
      return results.map(({ code, signal, stderr, lines }, i) => {
        const errors = lines.filter((l) => l.startsWith('E '))
        assert.deepEqual(errors, [], `writer ${specs[i][1]}: ${stderr}`)
        assert.equal(code, 0, `writer ${specs[i][1]} exited with ${code ?? signal}: ${stderr}`)
        assert.ok(lines.includes('DONE'))
        return lines.filter((l) => l.startsWith('T ')).map((l) => Number(l.slice(2)))
      })
    } finally {
      for (const c of children) if (c.exitCode === null) c.kill('SIGKILL')
    }
  }

  async function check(path, sessionId, tags, confirmed) {
    const store = await useRustAuthState(path, { sessionId })
    try {
      const ids = await collect(store.state.keys.listIds('session'))
      const want = tags.flatMap((tag) => Array.from({ length: PER_PROCESS }, (_, i) => `${tag}-${i + 1}`))
      assert.deepEqual(ids.filter((id) => id !== 'shared').sort(), want.sort(), `ids of session ${sessionId}`)
      for (const [t, tag] of tags.entries()) {
        assert.equal(confirmed[t].length, PER_PROCESS, `writer ${tag} confirmed every write`)
        const got = await store.state.keys.get('session', confirmed[t].map((i) => `${tag}-${i}`))
        for (const i of confirmed[t]) assert.deepEqual(got[`${tag}-${i}`], valueOf(tag, i), `${tag}-${i}`)
      }
      const { shared } = await store.state.keys.get('session', ['shared'])
      assert.ok(
        tags.some((tag) => shared.tag === tag && shared.i === PER_PROCESS),
        `shared holds the last write of one writer, not ${JSON.stringify(shared)}`,
      )
      assert.equal(store.state.creds.accountSyncCounter, PER_PROCESS - (PER_PROCESS % 10))
    } finally {
      await store.close()
    }
  }

  it(`two processes, two sessions, on a file neither has created: ${PER_PROCESS} writes each`, async (t) => {
    const path = join(dir, 'new', 'auth.db')
    const confirmed = await writers(path, [['alpha', 'A'], ['beta', 'B']])
    assert.equal(integrity(path), 'ok')
    await check(path, 'alpha', ['A'], [confirmed[0]])
    await check(path, 'beta', ['B'], [confirmed[1]])
    t.diagnostic(`${2 * PER_PROCESS} writes confirmed, none lost, no ERR_BUSY`)
  })

  // Only with the lease turned off (see lease.test.mjs): the file itself stays sound.
  it(`two processes, one session, lease off: ${PER_PROCESS} writes each`, async (t) => {
    const path = join(dir, 'same.db')
    await (await useRustAuthState(path, { sessionId: 'shared-session' })).close()
    const confirmed = await writers(path, [['shared-session', 'A'], ['shared-session', 'B']], 'nolease')
    assert.equal(integrity(path), 'ok')
    await check(path, 'shared-session', ['A', 'B'], confirmed)
    t.diagnostic(`${2 * PER_PROCESS} writes confirmed, none lost, no ERR_BUSY`)
  })
})

describe('another program holding the write lock', { skip: Database ? false : NO_SQLITE, timeout: 120_000 }, () => {
  let dir
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bra-busy-'))))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('makes a write with a tiny busyTimeoutMs reject with ERR_BUSY, writing nothing; then the store works', async () => {
    const path = join(dir, 'tiny.db')
    const auth = await useRustAuthState(path, { busyTimeoutMs: 50 })
    const { keys } = auth.state
    let counter
    try {
      const kept = { session: { before: { n: 1 } }, 'pre-key': { 1: { public: Buffer.alloc(32, 1), private: Buffer.alloc(32, 2) } } }
      await keys.set(kept)
      const credsBefore = auth.state.creds.accountSyncCounter
      const holder = run('lock-child.mjs', [path, '2000'])
      await holder.line('LOCKED', 60_000)

      const start = performance.now()
      const busy = (err) => err.code === ErrorCode.ERR_BUSY && /locked/i.test(err.message)
      await assert.rejects(keys.set({ session: { during: { n: 2 } }, 'pre-key': { 1: null } }), busy)
      const waited = performance.now() - start
      assert.ok(waited < 1500, `the write waited ${waited.toFixed(0)} ms for a 50 ms busyTimeoutMs`)
      counter = credsBefore + 1
      auth.state.creds.accountSyncCounter = counter
      await assert.rejects(auth.saveCreds(), busy)
      await assert.rejects(keys.clear(), busy)
      // Readers are not blocked by a writer: small reads and large ones.
      assert.deepEqual(await keys.get('session', ['before']), kept.session)
      const many = Array.from({ length: 100 }, (_, i) => `x${i}`)
      assert.deepEqual(await keys.get('session', [...many, 'before']), kept.session)
      assert.equal(holder.lines.includes('RELEASED'), false, 'the lock was still held during the checks')

      const { code } = await holder.exited
      assert.equal(code, 0)
      await keys.set({ session: { after: { n: 3 } } })
      await auth.saveCreds()
      assert.deepEqual(await keys.get('session', ['before', 'during', 'after']), { before: { n: 1 }, after: { n: 3 } })
      assert.deepEqual(await keys.get('pre-key', ['1']), kept['pre-key'], 'the rejected call deleted nothing')
    } finally {
      await auth.close()
    }
    const again = await useRustAuthState(path)
    assert.equal(again.state.creds.accountSyncCounter, counter, 'creds saved once the lock was gone')
    assert.deepEqual(await again.state.keys.get('session', ['before', 'during', 'after']), { before: { n: 1 }, after: { n: 3 } })
    await again.close()
  })

  it('makes a write with the default busyTimeoutMs wait for the lock, then succeed', async () => {
    const path = join(dir, 'default.db')
    const auth = await useRustAuthState(path)
    try {
      const holder = run('lock-child.mjs', [path, '1000'])
      await holder.line('LOCKED', 60_000)
      const start = performance.now()
      const write = auth.state.keys.set({ session: { waited: { ok: true } } })
      await write
      const waited = performance.now() - start
      assert.ok(holder.lines.includes('RELEASED'), 'the write resolved while the lock was still held')
      assert.ok(waited > 200, `the write resolved after ${waited.toFixed(0)} ms, within a 1 s lock`)
      assert.equal((await holder.exited).code, 0)
      assert.deepEqual(await auth.state.keys.get('session', ['waited']), { waited: { ok: true } })
    } finally {
      await auth.close()
    }
  })
})

describe('calls made while a large call is being encoded', () => {
  let dir
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bra-order-'))))
  after(() => rmSync(dir, { recursive: true, force: true }))

  const largeSet = () => {
    const big = {}
    for (let i = 0; i < 3000; i++) big[`p${i}`] = { chain: bytesOf(33, i).toString('base64'), i }
    return { session: big }
  }

  it('resolve in call order, the last caller resolving last and winning', async () => {
    const a = await useRustAuthState(join(dir, 'order.db'))
    try {
      const resolved = []
      const calls = [a.state.keys.set(largeSet()).then(() => resolved.push(0))]
      for (let i = 1; i <= 40; i++) {
        calls.push(a.state.keys.set({ 'sender-key': { x: Buffer.from([i]) } }).then(() => resolved.push(i)))
        await new Promise(setImmediate) // the event loop turns between two calls, as between two events
      }
      await Promise.all(calls)
      const { x } = await a.state.keys.get('sender-key', ['x'])
      assert.equal(x[0], 40, 'the last caller won')
      assert.equal(x[0], resolved.at(-1), `the store holds the value of call ${x[0]}, the last to resolve was call ${resolved.at(-1)}`)
      assert.deepEqual(resolved, Array.from({ length: 41 }, (_, i) => i), 'resolution order')
    } finally {
      await a.close()
    }
  })

  it('saveCreds() saves the creds as they are at the call', async () => {
    const path = join(dir, 'creds.db')
    const a = await useRustAuthState(path)
    try {
      const large = a.state.keys.set(largeSet()) // encoded in slices
      a.state.creds.accountSyncCounter = 2
      const saved = a.saveCreds() // the creds as they are now: counter 2
      a.state.creds.accountSyncCounter = 3 // a later change, not yet saved
      await Promise.all([large, saved])
    } finally {
      await a.close()
    }
    const b = await useRustAuthState(path)
    const counter = b.state.creds.accountSyncCounter
    await b.close()
    assert.equal(counter, 2, 'saveCreds() saved a change made after it was called')
  })
})

// Writes made in one turn, after a first one, are held and committed together when the turn
// ends (or when the store's next call comes first): on this thread when the store can, through
// the storage thread with durability 'full'.
describe('writes made together in one turn', () => {
  let dir
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bra-turn-'))))
  after(() => rmSync(dir, { recursive: true, force: true }))

  for (const durability of ['normal', 'full']) {
    it(`are read back by calls made in the same turn, resolve in call order, and survive a close made in it (${durability})`, async () => {
      const path = join(dir, `${durability}.db`)
      const a = await useRustAuthState(path, { durability })
      const ids = Array.from({ length: 300 }, (_, i) => `s${i}`) // past the 256 writes held at most
      const resolved = []
      const sets = ids.map((id, i) => a.state.keys.set({ session: { [id]: { i } } }).then(() => resolved.push(i)))
      const read = a.state.keys.get('session', ['s0', 's150', 's299'])
      const one = a.state.keys.get('session', ['s299'])
      // A clear and a write after it, in the same turn: the clear applies after every write above.
      const k = a.state.keys.set({ 'sender-key': { k: { v: 1 } } })
      a.state.keys.clear()
      const cleared = a.state.keys.get('sender-key', ['k'])
      const after = a.state.keys.set({ 'sender-key': { k2: { v: 2 } } })
      const closed = a.close()
      await Promise.all([...sets, k, after, closed])
      assert.deepEqual(await read, { s0: { i: 0 }, s150: { i: 150 }, s299: { i: 299 } })
      assert.deepEqual(await one, { s299: { i: 299 } })
      assert.deepEqual(await cleared, {}, 'the clear made in the turn came before this read')
      assert.deepEqual(resolved, ids.map((_, i) => i), 'resolution order')
      const b = await useRustAuthState(path)
      try {
        assert.deepEqual(await b.state.keys.get('session', ['s0', 's299']), {}, 'cleared')
        assert.deepEqual(await b.state.keys.get('sender-key', ['k', 'k2']), { k2: { v: 2 } })
      } finally {
        await b.close()
      }
    })
  }

  it('fail together with ERR_LEASE_LOST once the session was taken over, writing nothing', async () => {
    const path = join(dir, 'lease.db')
    const a = await useRustAuthState(path)
    const b = await useRustAuthState(path, { takeover: true })
    try {
      const results = await Promise.allSettled([1, 2, 3].map((i) => a.state.keys.set({ session: { [`x${i}`]: { i } } })))
      assert.deepEqual(results.map((r) => r.reason?.code), Array(3).fill(ErrorCode.ERR_LEASE_LOST))
      assert.deepEqual(await b.state.keys.get('session', ['x1', 'x2', 'x3']), {})
    } finally {
      await a.close().catch(() => {})
      await b.close()
    }
  })

  it('keep a failed write from failing the writes made with it', async () => {
    const a = await useRustAuthState(join(dir, 'fail.db'))
    try {
      const bad = { session: { x: { f: () => {} } } } // refused as it is encoded
      const results = await Promise.allSettled([
        a.state.keys.set({ session: { a: { n: 1 } } }),
        a.state.keys.set({ session: { b: { n: 2 } } }),
        a.state.keys.set(bad),
        a.state.keys.set({ session: { c: { n: 3 } } }),
      ])
      assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled'])
      assert.equal(results[2].reason.code, ErrorCode.ERR_UNSUPPORTED_VALUE)
      assert.deepEqual(await a.state.keys.get('session', ['a', 'b', 'c', 'x']), { a: { n: 1 }, b: { n: 2 }, c: { n: 3 } })
    } finally {
      await a.close()
    }
  })
})
