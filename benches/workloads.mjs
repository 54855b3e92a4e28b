// The workloads, written once against the store interface of stores.mjs. Each `run` does one
// round on one store and resolves to `{ [row]: value }`; only what `ctx.time` wraps is timed
// (and, in the AsyncLocalStorage mode, runs inside `als.run`).
import { AsyncLocalStorage } from 'node:async_hooks'
import { mkdtempSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { makeDevice } from '../examples/signal-device.mjs'
import { bulkFirstId, mutateCreds, structuredCloneWithBuffers } from './data.mjs'

/**
 * The context the workloads run in: stores kept in fresh directories under `scratch`; `als`,
 * an AsyncLocalStorage every timed part runs inside (the benchmark's second mode); `bulk`,
 * the bulk-filled stores W6 opens (worker.mjs), none elsewhere.
 */
export function processContext(data, scratch, { als = null, bulk = null } = {}) {
  const inMode = (fn) => (als ? als.run({ request: 'bench' }, fn) : fn())
  return {
    data,
    bulk,
    freshDir: () => mkdtempSync(join(scratch, 'store-')),
    removeDir: (dir) => rmSync(dir, { recursive: true, force: true }),
    /**
     * Each store starts its timed part on a collected heap, not paying for the last one's
     * garbage; the pause lets the collector's follow-up work (finalizers, sweeping) finish
     * first, or it lands on whichever store yields to the event loop next.
     */
    async settle() {
      if (data.smoke || !globalThis.gc) return
      globalThis.gc()
      await sleep(15)
    },
    /** Runs `fn` as the workload: inside the AsyncLocalStorage in that mode. */
    run: inMode,
    async time(fn) {
      await this.settle()
      const start = performance.now()
      await inMode(fn)
      return performance.now() - start
    },
  }
}

const present = (found) => Object.values(found).filter((v) => v !== null && v !== undefined).length

function expect(ok, what) {
  if (!ok) throw new Error(`benchmark check failed: ${what}`)
}

/** Opens the store in a fresh directory for the length of `fn`. */
async function withStore(store, ctx, fn) {
  const dir = ctx.freshDir()
  const auth = await store.open(dir)
  try {
    return await fn(auth)
  } finally {
    await auth.close()
    ctx.removeDir(dir)
  }
}

const setPreKeys = (auth, data) => auth.keys.set({ 'pre-key': data.preKeys })
const storeSessions = (auth, data) => auth.keys.set({ session: data.sessions })

/** W4's work: one get of every session, then one set of their next records. */
async function getThenSetSessions(auth, data, ids) {
  const found = await auth.keys.get('session', ids)
  await auth.keys.set({ session: data.sessionsNext })
  return found
}

/**
 * The longest event-loop stall while `fn` runs, then the same over as long a stretch with
 * nothing running. The histogram only records from its second tick, so each watch starts a
 * few ticks early; a short tail lets the loop turn once after the last step, so a stall at
 * the very end is recorded too.
 */
async function stall(ctx, fn) {
  const watch = async (work) => {
    const h = monitorEventLoopDelay({ resolution: 1 })
    h.enable()
    await sleep(4)
    const start = performance.now()
    await work()
    await sleep(3)
    const duration = performance.now() - start
    h.disable()
    return { max: h.max / 1e6, duration }
  }
  await ctx.settle()
  const busy = await watch(() => ctx.run(fn))
  const idle = await watch(() => sleep(Math.max(0, busy.duration - 3)))
  return { stall: busy.max, idle: idle.max }
}

/** Time during which at least one call to the wrapped store is pending. */
function busyClock() {
  let pending = 0
  let since = 0
  const clock = { ms: 0 }
  const track = async (call) => {
    if (pending++ === 0) since = performance.now()
    try {
      return await call()
    } finally {
      if (--pending === 0) clock.ms += performance.now() - since
    }
  }
  clock.wrap = (keys) => ({
    get: (type, ids) => track(() => keys.get(type, ids)),
    set: (data) => track(() => keys.set(data)),
  })
  return clock
}

/**
 * Baileys' transaction layer enables an AsyncLocalStorage per socket, and Node.js 20 and 22
 * never disable one by themselves: every promise made afterwards in the process carries a
 * property per storage, and costs more with each (benches/storages.mjs). A bot's process
 * holds one per socket it made; the conversation makes two devices each round, round after
 * round. The storages a round enabled are disabled when it ends, as if its process had
 * ended, so that each round runs as a process with two sockets would. (Node.js 24 keeps
 * storages in the async context, at no such cost, and has no `_enable` to follow.)
 */
const enabledStorages = new Set()
const storageProto = AsyncLocalStorage.prototype
if (typeof storageProto._enable === 'function') {
  const enable = storageProto._enable
  storageProto._enable = function () {
    enabledStorages.add(this)
    return enable.call(this)
  }
}

/** Runs `fn`, then disables the storages enabled meanwhile. */
async function withOwnStorages(fn) {
  const before = new Set(enabledStorages)
  try {
    return await fn()
  } finally {
    for (const storage of enabledStorages) {
      if (before.has(storage)) continue
      storage.disable()
      enabledStorages.delete(storage)
    }
  }
}

const GROUP = '120363000000000099@g.us'

/** A chat as it flows: bursts each way, every tenth message to a group. */
async function conversation(alice, bob, messages) {
  for (let i = 0; i < messages; i++) {
    const text = `message ${i}`
    if (i % 10 === 9) {
      const [from, to] = i % 20 === 9 ? [alice, bob] : [bob, alice]
      expect((await to.receiveFromGroup(await from.sendToGroup(GROUP, text))) === text, 'group message decrypts')
    } else {
      const [from, to] = i % 5 < 3 ? [alice, bob] : [bob, alice]
      expect((await to.receive(await from.send(to, text))) === text, 'message decrypts')
    }
  }
}

export const WORKLOADS = [
  {
    name: 'W1/W2 pre-keys',
    rounds: 7,
    run: (store, ctx) =>
      withStore(store, ctx, async (auth) => {
        const ids = Object.keys(ctx.data.preKeys)
        const W1 = await ctx.time(() => setPreKeys(auth, ctx.data))
        let found
        const W2 = await ctx.time(async () => {
          found = await auth.keys.get('pre-key', ids)
        })
        expect(present(found) === ids.length, 'every pre-key read back')
        return { W1, W2 }
      }),
  },
  {
    name: 'W3 sequential sessions',
    rounds: 5,
    run: (store, ctx) =>
      withStore(store, ctx, async (auth) => {
        const { steps, getIds } = ctx.data
        await storeSessions(auth, ctx.data)
        const W3set = await ctx.time(async () => {
          for (const { id, value } of steps) await auth.keys.set({ session: { [id]: value } })
        })
        let hits = 0
        const W3get = await ctx.time(async () => {
          for (const id of getIds) hits += present(await auth.keys.get('session', [id]))
        })
        expect(hits === getIds.length, 'every session read back')
        return { W3set, W3get }
      }),
  },
  {
    name: 'W3c concurrent sessions',
    rounds: 5,
    run: (store, ctx) =>
      withStore(store, ctx, async (auth) => {
        const { steps, sizes } = ctx.data
        await storeSessions(auth, ctx.data)
        const waves = []
        for (let i = 0; i < steps.length; i += sizes.concurrency) waves.push(steps.slice(i, i + sizes.concurrency))
        const W3c = await ctx.time(async () => {
          for (const wave of waves) await Promise.all(wave.map(({ id, value }) => auth.keys.set({ session: { [id]: value } })))
        })
        return { W3c }
      }),
  },
  {
    name: 'W4 many sessions',
    rounds: 7,
    run: (store, ctx) =>
      withStore(store, ctx, async (auth) => {
        const ids = Object.keys(ctx.data.sessions)
        await storeSessions(auth, ctx.data)
        let found
        const W4get = await ctx.time(async () => {
          found = await auth.keys.get('session', ids)
        })
        expect(present(found) === ids.length, 'every session read back')
        const W4set = await ctx.time(() => auth.keys.set({ session: ctx.data.sessionsNext }))
        return { W4get, W4set }
      }),
  },
  {
    name: 'W5 saveCreds',
    rounds: 5,
    run: (store, ctx) =>
      withStore(store, ctx, async (auth) => {
        Object.assign(auth.creds, structuredCloneWithBuffers(ctx.data.creds))
        await auth.saveCreds()
        const W5 = await ctx.time(async () => {
          for (let i = 0; i < ctx.data.sizes.creds; i++) {
            mutateCreds(auth.creds, i)
            await auth.saveCreds()
          }
        })
        return { W5 }
      }),
  },
  {
    name: 'W6 open a big store',
    rounds: 5,
    async run(store, ctx) {
      if (!ctx.bulk[store.name]) return {} // a server store: no bulk fill
      const { dir } = ctx.bulk[store.name]
      const id = bulkFirstId(ctx.data)
      let auth, found
      const W6open = await ctx.time(async () => {
        auth = await store.open(dir)
        found = await auth.keys.get('session', [id])
      })
      await auth.close()
      expect(present(found) === 1, 'the first get finds its session')
      return { W6open }
    },
  },
  {
    name: 'W7 event-loop stalls',
    rounds: 5,
    run: (store, ctx) =>
      withStore(store, ctx, async (auth) => {
        const w1 = await stall(ctx, () => setPreKeys(auth, ctx.data))
        await storeSessions(auth, ctx.data)
        const ids = Object.keys(ctx.data.sessions)
        const w4 = await stall(ctx, () => getThenSetSessions(auth, ctx.data, ids))
        return { W7w1: w1.stall, W7w1idle: w1.idle, W7w4: w4.stall, W7w4idle: w4.idle }
      }),
  },
  {
    // Its devices' transaction layers enable AsyncLocalStorages, which each round switches
    // off again (withOwnStorages): the workloads after it, in either mode, see none of them.
    name: 'W8 Signal conversation',
    rounds: 5,
    run: (store, ctx) => withOwnStorages(() => conversationRound(store, ctx)),
  },
]

/** One round of W8 on `store`: two devices start a session, then their chat is timed. */
async function conversationRound(store, ctx) {
  const dirs = [ctx.freshDir(), ctx.freshDir()]
  const auths = await Promise.all(dirs.map((d) => store.open(d)))
  const clock = busyClock()
  const [alice, bob] = auths.map((auth, i) =>
    makeDevice(`1555000${String(i + 1).padStart(4, '0')}@s.whatsapp.net`, {
      state: { creds: auth.creds, keys: clock.wrap(auth.keys) },
      saveCreds: auth.saveCreds,
    }),
  )
  try {
    await bob.publishPreKeys(30)
    await alice.startSessionWith(bob)
    clock.ms = 0
    const { messages } = ctx.data.sizes
    const ms = await ctx.time(() => conversation(alice, bob, messages))
    return { W8rate: messages / (ms / 1000), W8share: (100 * clock.ms) / ms }
  } finally {
    await Promise.all(auths.map((a) => a.close()))
    dirs.forEach((d) => ctx.removeDir(d))
  }
}
