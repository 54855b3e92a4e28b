'use strict'
// baileys-rust-auth: Baileys' auth state in one transactional SQLite file.
// This file shapes the API; values are encoded in lib/codec.js, stored by the native core.

const { resolve } = require('node:path')
const native = require('./binding.js')
const { AuthStateError, ErrorCode } = require('./lib/errors.js')
const codec = require('./lib/codec.js')
const { loadBaileys } = require('./lib/baileys.js')

const DURABILITY = ['normal', 'full']
const LIST_PAGE = 256

function invalid(message) {
  return new AuthStateError(message, ErrorCode.ERR_INVALID_ARGUMENT)
}

function checkOptions(path, options) {
  if (typeof path !== 'string' || path === '') throw invalid('path must be a non-empty string')
  if (path.includes('\0')) throw invalid('path must not contain NUL')
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object') throw invalid('options must be an object')
  const { sessionId = 'default', durability = 'normal', busyTimeoutMs = 5000 } = options
  if (typeof sessionId !== 'string' || sessionId === '' || sessionId.length > 256) {
    throw invalid('options.sessionId must be a non-empty string of at most 256 characters')
  }
  if (!DURABILITY.includes(durability)) {
    throw invalid(`options.durability must be one of ${DURABILITY.map((d) => `'${d}'`).join(', ')}`)
  }
  if (!Number.isInteger(busyTimeoutMs) || busyTimeoutMs < 0 || busyTimeoutMs > 2 ** 31 - 1) {
    throw invalid('options.busyTimeoutMs must be a whole number of milliseconds')
  }
  return { sessionId, durability, busyTimeoutMs }
}

const noop = () => {}

/**
 * Whether a write was already made in this turn of the event loop. A write made alone may run
 * at once on this thread; writes made together (`Promise.all` of many sets, a busy bot) go
 * through the storage thread, where they share one commit.
 */
let writing = false
function alone() {
  if (writing) return false
  writing = true
  queueMicrotask(() => (writing = false))
  return true
}

/**
 * Hands calls to the native store in the order they were made. An encoder returns a frame,
 * or a promise of one when large data is encoded in slices; calls made meanwhile wait their
 * turn. A bad argument becomes a rejected promise, never a throw.
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
        return send(frame)
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

  return function submit(encode, send) {
    if (tail !== null) return after(tail.then(encode), send)
    let frame
    try {
      frame = encode()
    } catch (err) {
      return Promise.reject(err)
    }
    return frame instanceof Promise ? after(frame, send) : send(frame)
  }
}

/** Streams a type's entries page by page, so a huge type is never held in memory whole. */
async function* pages(store, type, withValues, present) {
  codec.checkType(type)
  let after = null
  for (;;) {
    const page = await codec.decodeList(await store.listPage(type, after, LIST_PAGE, withValues), withValues)
    for (const item of page) yield present(item)
    if (page.length < LIST_PAGE) return
    const last = page[page.length - 1]
    after = withValues ? last[0] : last
  }
}

function makeKeys(store, submit, proto) {
  const AppStateSyncKeyData = proto.Message.AppStateSyncKeyData
  const same = (x) => x
  // Baileys reads app-state keys as protobuf messages (as useMultiFileAuthState returns them).
  const asAppStateKeys = (found) => {
    for (const id in found) found[id] = AppStateSyncKeyData.fromObject(found[id])
    return found
  }
  const asAppStatePair = ([id, v]) => [id, AppStateSyncKeyData.fromObject(v)]
  const withoutPrototype = (found) => Object.assign(Object.create(null), found)
  return {
    get(type, ids) {
      return submit(
        () => (codec.checkType(type), codec.encodeIds(ids)),
        (frame) => {
          // Small reads are answered on this thread when no write is in flight.
          const now = store.getSync(type, frame)
          let found = now !== null ? Promise.resolve(codec.decodeMap(now)) : store.get(type, frame).then(codec.decodeMap)
          // An absent id named like an Object.prototype member ('constructor'...) must not read
          // as present: such rare requests get a result without a prototype.
          if (ids.some((id) => id in Object.prototype)) found = found.then(withoutPrototype)
          return type === 'app-state-sync-key' ? found.then(asAppStateKeys) : found
        },
      )
    },
    set: (data) => submit(() => codec.encodeSet(data), (frame) => store.set(frame, alone())),
    clear: () => submit(noop, () => store.clear()),
    list: (type) => pages(store, type, true, type === 'app-state-sync-key' ? asAppStatePair : same),
    listIds: (type) => pages(store, type, false, same),
  }
}

/**
 * Opens (or creates) the auth state of one session in an SQLite file.
 * Drop-in for Baileys' `useMultiFileAuthState(folder)`.
 */
async function useRustAuthState(path, options) {
  const { sessionId, durability, busyTimeoutMs } = checkOptions(path, options)
  const { initAuthCreds, proto } = await loadBaileys()
  const store = new native.NativeStore()
  try {
    await store.open(resolve(path), sessionId, durability === 'full', busyTimeoutMs)
  } catch (err) {
    store.close().catch(() => {})
    throw err
  }
  // A failed start must not leave the file open until garbage collection.
  const abandon = async (err) => {
    await store.close().catch(noop)
    throw err
  }
  const saved = await store.loadCreds().catch(abandon)
  let creds
  try {
    creds = saved === null ? initAuthCreds() : codec.decodeValue(saved)
  } catch (err) {
    await abandon(err)
  }
  const submit = makeSubmitter()
  // Baileys saves on every creds.update, often with nothing changed: identical creds are not
  // written again, and the caller waits for the write that already holds them.
  let last = null
  const saveCreds = () => {
    // Encoded now, even if the write waits behind a large call: what is saved is the
    // object as it is at the moment of the call.
    let now
    try {
      now = Buffer.from(codec.encodeValue(creds))
    } catch (err) {
      return Promise.reject(err)
    }
    return submit(
      () => now,
      (bytes) => {
        if (last !== null && !store.closed && last.bytes.equals(bytes)) return last.done
        const entry = { bytes, done: store.saveCreds(bytes, alone()) }
        last = entry
        entry.done.catch(() => {
          if (last === entry) last = null
        })
        return entry.done
      },
    )
  }
  if (saved === null) await saveCreds().catch(abandon)
  // Idempotent: shutdown paths often close twice, and the second call waits for the first.
  let closing
  const close = () => (closing ??= submit(noop, () => store.close()))
  return {
    state: { creds, keys: makeKeys(store, submit, proto) },
    // Called as `ev.on('creds.update', saveCreds)`: the update argument is ignored, the
    // object Baileys mutated in place is what is saved.
    saveCreds,
    close,
  }
}

module.exports = { useRustAuthState, AuthStateError, ErrorCode }
