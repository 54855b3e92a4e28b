'use strict'
// baileys-rust-auth: Baileys' auth state in one transactional SQLite file.
// This file shapes the API; values are encoded in lib/codec.js, stored by the native core.

const { AuthStateError, ErrorCode } = require('./lib/errors.js')
const codec = require('./lib/codec.js')
const { checkOptions, openStore, noop } = require('./lib/open.js')
const { takeLease } = require('./lib/lease.js')
const { Metrics } = require('./lib/metrics.js')
const tools = require('./lib/tools.js')
const { loadBaileys } = require('./lib/baileys.js')
const { pages } = require('./lib/pages.js')
const { Absent } = require('./lib/absent.js')

/** Where small reads answered on this thread put their frame (see NativeStore.getSync). */
const scratch = Buffer.allocUnsafeSlow(256 * 1024)


/**
 * Whether a write was already made in this turn of the event loop. The first write of a turn
 * may run at once on this thread; the ones made with it (`Promise.all` of many sets, a busy
 * bot) are held and share one commit when the turn ends (see setLater).
 */
let writing = false
const settled = Promise.resolve()
const doneWriting = () => (writing = false)
function alone() {
  if (writing) return false
  writing = true
  settled.then(doneWriting)
  return true
}

/** What a write that completed at once on this thread hands back instead of a promise. */
const DONE = Symbol('done')

/**
 * Hands calls to the native store in the order they were made. An encoder returns a frame,
 * or a promise of one when large data is encoded in slices; calls made meanwhile wait their
 * turn. `send` returns a promise, or the result itself when the call completed at once on
 * this thread (`DONE` for a write): the caller then makes the one promise it returns. A bad
 * argument becomes a rejected promise, never a throw.
 */
function makeSubmitter() {
  let tail = null // settles once every call made so far has reached the native store

  function after(framed, send) {
    let submitted = noop
    const done = new Promise((resolve) => (submitted = resolve))
    tail = done
    const result = framed.then(
      (frame) => {
        submitted()
        const out = send(frame)
        return out === DONE ? undefined : out
      },
      (err) => {
        submitted()
        throw err
      },
    )
    // Later calls take this path until this one has settled, so promises also settle in
    // call order (a direct call could otherwise share its commit and settle first).
    const release = () => {
      if (tail === done) tail = null
    }
    result.then(release, release)
    return result
  }

  function submit(encode, send) {
    if (tail !== null) return after(tail.then(encode), send)
    try {
      const frame = encode()
      return frame instanceof Promise ? after(frame, send) : send(frame)
    } catch (err) {
      return Promise.reject(err)
    }
  }
  /** Whether every call made so far has reached the native store. */
  submit.idle = () => tail === null
  return submit
}

/** Streams a type's entries page by page, so a huge type is never held in memory whole. */
async function* items(store, type, withValues, present) {
  codec.checkType(type)
  for await (const page of pages(store, type, withValues)) for (const item of page) yield present(item)
}

/**
 * The promise a call returns, its outcome recorded in `metrics`: at once for a call that
 * completed on this thread (`out` is its result), else when the promise settles, on a side
 * branch, so the caller's promise settles with no extra step. A write `later` holds is
 * recorded when it commits (see setLater).
 */
function finish(metrics, op, type, started, items, bytes, out, later = null) {
  if (out instanceof Promise) {
    const done = (v) => metrics.record(op, type, started, items(), bytes(v), undefined)
    const failed = (err) => metrics.record(op, type, started, items(), 0, err)
    if (later?.holds(out)) later.whenCommitted(out, done, failed)
    else out.then(done, failed)
    return out
  }
  metrics.record(op, type, started, items(), bytes(out), undefined)
  // A write done at once hands back the one promise fulfilled with nothing that every such
  // write shares: a promise made per write costs each write its making (and, in a process
  // running an AsyncLocalStorage, the engine's hook on it), and awaiting either is the same.
  return out === DONE ? settled : Promise.resolve(out)
}

/**
 * Writes `frame`: at once on this thread (`now`) when it is the turn's first write and the
 * store can, else through `queued` (held with the turn's other writes, or on a server sent to
 * the storage thread). `now` is null where no write completes at once (PostgreSQL): asking
 * would cost each write a native call. On Redis's fast lane a write whose answer is late
 * comes back as the promise of its outcome.
 */
function write(store, now, queued, frame) {
  if (now !== null && alone()) {
    const done = now.call(store, frame)
    if (done === true) return DONE
    if (done instanceof Promise) return done
    if (done !== false) return Promise.reject(done)
  }
  return queued.call(store, frame)
}

/**
 * Stores holding writes to commit at the end of this turn. `process.exit()` called in the
 * same turn ends the process before that: its 'exit' event commits them first.
 */
const holding = new Map() // store -> its flush
let exitHooked = false
const flushAll = () => {
  for (const flush of holding.values()) flush()
}

/**
 * `store.setLater`, for writes made together after a first one: the store holds them, and a
 * microtask queued with the first of them commits them all in one transaction (on this
 * thread when the store can). Any other call of the store commits them first.
 *
 * What is done once they commit (`whenCommitted`: their metrics) is done at that microtask
 * when the store reports every one fulfilled, as it does when they commit on this thread:
 * a reaction on each promise would cost a promise more per write.
 */
function setLater(store) {
  let last = null // the promise of the latest write held
  let waiting = [] // promise, done, failed: of each write held since the last flush
  const flush = () => {
    holding.delete(store)
    const fulfilled = store.flush()
    const held = waiting
    last = null
    waiting = []
    for (let i = 0; i < held.length; i += 3) {
      if (fulfilled) held[i + 1](undefined)
      else held[i].then(held[i + 1], held[i + 2])
    }
  }
  const hold = (frame) => {
    if (!holding.has(store)) {
      holding.set(store, flush)
      settled.then(flush)
      if (!exitHooked) {
        exitHooked = true
        process.once('exit', flushAll)
      }
    }
    return (last = store.setLater(frame))
  }
  hold.holds = (promise) => promise === last
  hold.whenCommitted = (promise, done, failed) => waiting.push(promise, done, failed)
  return hold
}

/**
 * A read of more than twice `READ_PART` ids through the storage thread is made in parts of
 * at least `READ_PART` ids (at most `READ_PARTS` parts), all queued at once: this thread
 * decodes each part while the next ones are read and prepared there, instead of waiting for
 * the whole. Measured after a collection, medians: 500 sessions 17.8 -> 13.8 ms, 812
 * pre-keys 1.95 -> 1.56 ms (SQLite); 18.2 -> 13.4 ms and 1.80 -> 1.31 ms (Redis).
 */
const READ_PART = 64
const READ_PARTS = 16

/**
 * Reads `ids` (known sound) in parts, decoded in order into one object; `counted(bytes)`
 * is told each part's size. Queued back to back, the parts see the same writes of this
 * store as one read would: any write called later is queued behind them.
 */
function readInParts(store, type, ids, counted) {
  const out = codec.idMap()
  const size = Math.max(READ_PART, Math.ceil(ids.length / READ_PARTS))
  let decoded = null
  for (let i = 0; i < ids.length; i += size) {
    const part = store.get(type, codec.encodeIds(ids.slice(i, i + size)))
    const decode = (frame) => (counted(frame.length), codec.decodeMap(frame, out))
    decoded = decoded === null ? part.then(decode) : Promise.all([part, decoded]).then(([frame]) => decode(frame))
  }
  return decoded.then(() => codec.idsFilled(out))
}

const none = () => 0
const one = () => 1

/** `absent`: an Absent while this store holds the session's lease, else null. */
function makeKeys(store, submit, proto, metrics, absent) {
  const AppStateSyncKeyData = proto.Message.AppStateSyncKeyData
  const same = (x) => x
  // Baileys reads app-state keys as protobuf messages (as useMultiFileAuthState returns them).
  const asAppStateKeys = (found) => {
    for (const id in found) found[id] = AppStateSyncKeyData.fromObject(found[id])
    return found
  }
  const asAppStatePair = ([id, v]) => [id, AppStateSyncKeyData.fromObject(v)]
  const withoutPrototype = (found) => Object.assign(Object.create(null), found)
  // An absent id named like an Object.prototype member ('constructor'...) must not read as
  // present: such rare requests get a result without a prototype.
  const shape = (type, ids, found) => {
    if (ids.some((id) => id in Object.prototype)) found = withoutPrototype(found)
    return type === 'app-state-sync-key' ? asAppStateKeys(found) : found
  }
  const local = !store.remote
  const quick = store.quick
  const later = local ? setLater(store) : null
  return {
    get(type, ids) {
      const started = performance.now()
      const count = () => (Array.isArray(ids) ? ids.length : 0)
      // Answered at once when nothing is in flight and every id is known absent; with calls
      // in flight it waits its turn, so that promises still settle in call order.
      if (absent !== null && Array.isArray(ids) && submit.idle() && absent.has(type, ids)) {
        return finish(metrics, 'get', type, started, count, none, shape(type, ids, {}))
      }
      const writes = absent?.writes
      const seen = (found) => (absent?.note(type, ids, found, writes), shape(type, ids, found))
      let bytes = 0
      const out = submit(
        () => (codec.checkType(type), codec.encodeIds(ids)),
        (frame) => {
          // Small reads of a file (or of Redis through its fast lane) are answered on this
          // thread when no call is in flight, into a buffer kept for it and decoded before
          // anything else runs.
          const n = quick ? store.getSync(type, frame, scratch) : -1
          if (n >= 0) return (bytes = n), seen(codec.decodeMapNow(scratch))
          if (ids.length > 2 * READ_PART) return readInParts(store, type, ids, (b) => (bytes += b)).then(seen)
          return store.get(type, frame).then((frame) => ((bytes = frame.length), codec.decodeMap(frame))).then(seen)
        },
      )
      return finish(metrics, 'get', typeof type === 'string' ? type : undefined, started, count, () => bytes, out)
    },
    set(data) {
      const started = performance.now()
      absent?.forget(data)
      let bytes = 0
      let items = 0
      // A large set reaches the native store in parts as it is encoded (see codec.encodeSet).
      const stage = (part) => {
        if (part !== null) bytes += part.length
        store.stage(part)?.then(noop, noop)
      }
      const out = submit(
        () => codec.encodeSet(data, stage, local ? undefined : codec.SERVER_PART),
        (frame) => ((bytes += frame.length), (items = codec.keysOf(data)), write(store, quick ? store.setNow : null, local ? later : store.set, frame)),
      )
      return finish(metrics, 'set', undefined, started, () => items, () => bytes, out, later)
    },
    clear() {
      absent?.forgetAll()
      return finish(metrics, 'clear', undefined, performance.now(), none, none, submit(noop, () => store.clear()))
    },
    list: (type) => items(store, type, true, type === 'app-state-sync-key' ? asAppStatePair : same),
    listIds: (type) => items(store, type, false, same),
  }
}

/**
 * What a store forgets when it loses its lease: the last creds written, and which keys are
 * absent (another process writes the session now). From a scope of its own: the lease's
 * timer keeps this function, and a closure made inside useRustAuthState would keep the whole
 * store alive.
 */
const forgetter = (saved, absent) => () => {
  saved.last = null
  absent.off()
}

/** Records when the signed pre-key was first saved: Baileys keeps no creation time for it. */
function stampSignedPreKey(creds) {
  const spk = creds.signedPreKey
  if (spk !== null && typeof spk === 'object' && spk.timestampS === undefined) {
    spk.timestampS = Math.floor(Date.now() / 1000)
  }
}

/**
 * Opens (or creates) the auth state of one session in an SQLite file.
 * Drop-in for Baileys' `useMultiFileAuthState(folder)`.
 */
async function useRustAuthState(path, options) {
  const opts = checkOptions(path, options)
  const { sessionId, logger, credsDebounceMs } = opts
  const { initAuthCreds, proto } = await loadBaileys()
  const { store, abandon } = await openStore(path, opts)
  // Baileys saves on every creds.update, often with nothing changed: identical creds are not
  // written again, and the caller waits for the write that already holds them. Once the
  // session was taken over they are written anyway (and fail with ERR_LEASE_LOST): the caller
  // has to learn it lost the session.
  const saved = { last: null }
  const absent = opts.lease ? new Absent() : null
  const lease = opts.lease
    ? await takeLease(store, { sessionId, takeover: opts.takeover, ttlMs: opts.leaseTtlMs, logger, onLost: forgetter(saved, absent) }).catch(abandon)
    : null
  const stored = await store.loadCreds().catch(abandon)
  let creds
  try {
    creds = stored === null ? initAuthCreds() : codec.decodeValue(stored)
  } catch (err) {
    await abandon(err)
  }
  const metrics = new Metrics(sessionId)
  const submit = makeSubmitter()
  const saveNow = () => {
    const started = performance.now()
    // Encoded now, even if the write waits behind a large call: what is saved is the
    // object as it is at the moment of the call.
    let now
    try {
      stampSignedPreKey(creds)
      now = Buffer.from(codec.encodeValue(creds))
    } catch (err) {
      return Promise.reject(err)
    }
    const out = submit(
      () => now,
      (bytes) => {
        const { last } = saved
        if (last !== null && !store.closed && last.bytes.equals(bytes)) return last.done
        const written = write(store, store.quick ? store.saveCredsNow : null, store.saveCreds, bytes)
        const entry = { bytes, done: written }
        saved.last = entry
        if (written !== DONE) {
          written.catch(() => {
            if (saved.last === entry) saved.last = null
          })
        }
        return written
      },
    )
    return finish(metrics, 'saveCreds', undefined, started, one, () => now.length, out)
  }
  // With a debounce, calls within the window share one write of the creds as they are when
  // it fires: a burst of creds.update events costs one commit.
  let pending = null
  const flush = () => {
    const p = pending
    if (p === null) return Promise.resolve()
    pending = null
    clearTimeout(p.timer)
    saveNow().then(p.resolve, p.reject)
    return p.promise
  }
  const saveCreds =
    credsDebounceMs === 0
      ? saveNow
      : () => {
          if (pending === null) {
            const p = { timer: setTimeout(flush, credsDebounceMs) }
            p.promise = new Promise((resolve, reject) => Object.assign(p, { resolve, reject }))
            pending = p
          }
          return pending.promise
        }
  if (stored === null) await saveNow().catch(abandon)
  logger.debug({ sessionId, created: stored === null }, 'auth store open')
  // Idempotent: shutdown paths often close twice, and the second call waits for the first.
  // Everything is queued at the call, so calls made after close() are refused.
  let closing
  const close = () => {
    if (closing) return closing
    const flushed = flush().catch((err) => logger.warn({ sessionId, err }, 'auth store: last creds write failed'))
    // Calls made from now on are refused, not answered from what is known absent.
    absent?.off()
    lease?.release()
    const closed = submit(noop, () => store.close())
    closing = Promise.all([flushed, closed]).then(() => logger.debug({ sessionId }, 'auth store closed'))
    return closing
  }
  const keys = makeKeys(store, submit, proto, metrics, absent)
  const state = { creds, keys }
  return {
    state,
    // Called as `ev.on('creds.update', saveCreds)`: the update argument is ignored, the
    // object Baileys mutated in place is what is saved.
    saveCreds,
    close,
    [Symbol.asyncDispose]: close,
    health: () => (store.remote ? tools.healthOf(store, path, sessionId, metrics) : tools.healthBeside(path, sessionId, metrics)),
    validate: () => tools.validateOpen(store, creds),
    metrics: () => metrics.snapshot(),
    metricsText: () => metrics.text(),
    resetSession: async (options) => {
      await flush()
      absent?.forgetAll()
      const result = await tools.resetOpen(store, path, sessionId, options, submit)
      for (const k of Object.keys(creds)) delete creds[k]
      Object.assign(creds, initAuthCreds())
      await saveNow()
      logger.warn({ sessionId, backup: result.backup }, 'auth session reset')
      return result
    },
  }
}

const { importMultiFile, exportMultiFile, copySession, listSessions, deleteSession, backup, restore, exportJson, importJson, validate, health, resetSession } = tools.api

// Spelled out so that ESM `import { backup } from 'baileys-rust-auth'` sees every name.
module.exports = {
  useRustAuthState,
  importMultiFile,
  exportMultiFile,
  copySession,
  listSessions,
  deleteSession,
  backup,
  restore,
  exportJson,
  importJson,
  validate,
  health,
  resetSession,
  AuthStateError,
  ErrorCode,
}
