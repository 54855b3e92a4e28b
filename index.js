'use strict'
// baileys-rust-auth: Baileys' auth state in one transactional SQLite file.
// This file shapes the API; values are encoded in lib/codec.js, stored by the native core.

const { existsSync } = require('node:fs')
const { resolve } = require('node:path')
const native = require('./binding.js')
const { AuthStateError, ErrorCode } = require('./lib/errors.js')
const codec = require('./lib/codec.js')
const { loadBaileys } = require('./lib/baileys.js')
const multifile = require('./lib/multifile.js')

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
 * Opens the auth state of one session; `isNew` tells whether the session had no creds yet.
 * A new session gets creds from Baileys' initAuthCreds(), saved at once, unless `initCreds` is
 * false: its creds are then an empty object, saved only by saveCreds().
 */
async function openAuthState(path, options, { initCreds = true } = {}) {
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
    if (saved !== null) creds = codec.decodeValue(saved)
    else creds = initCreds ? initAuthCreds() : {}
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
  if (saved === null && initCreds) await saveCreds().catch(abandon)
  // Idempotent: shutdown paths often close twice, and the second call waits for the first.
  let closing
  const close = () => (closing ??= submit(noop, () => store.close()))
  return {
    state: { creds, keys: makeKeys(store, submit, proto) },
    // Called as `ev.on('creds.update', saveCreds)`: the update argument is ignored, the
    // object Baileys mutated in place is what is saved.
    saveCreds,
    close,
    isNew: saved === null,
  }
}

/**
 * Opens (or creates) the auth state of one session in an SQLite file.
 * Drop-in for Baileys' `useMultiFileAuthState(folder)`.
 */
async function useRustAuthState(path, options) {
  const { state, saveCreds, close } = await openAuthState(path, options)
  return { state, saveCreds, close }
}

// ---------------------------------------------------------------------------------------------
// Migration between useMultiFileAuthState folders and a session of this store. The store side
// is readSession and writeSession, nothing else.

/** Creds as one string, independent of key order and of Buffer versus Uint8Array. */
function canonicalCreds(creds, BufferJSON) {
  return JSON.stringify(creds, (key, value) => {
    value = BufferJSON.replacer(key, value)
    if (value === null || typeof value !== 'object' || Array.isArray(value)) return value
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, value[k]]))
  })
}

/**
 * Makes the session hold exactly `creds` and the keys of `data`. Refuses (ERR_SESSION_EXISTS)
 * a session that has other creds, unless `overwrite`.
 */
async function writeSession(path, sessionId, { creds, data }, { overwrite }) {
  const { BufferJSON } = await loadBaileys()
  const auth = await openAuthState(path, { sessionId }, { initCreds: false })
  try {
    const { keys, creds: current } = auth.state
    if (!auth.isNew && !overwrite && canonicalCreds(current, BufferJSON) !== canonicalCreds(creds, BufferJSON)) {
      throw new AuthStateError(
        `session ${JSON.stringify(sessionId)} of ${path} already holds other creds; pass { overwrite: true } to replace it`,
        ErrorCode.ERR_SESSION_EXISTS,
      )
    }
    // One set, so one transaction: the ids the session holds beyond `data` are deleted in it.
    const write = {}
    for (const type of new Set([...multifile.KNOWN_TYPES, ...Object.keys(data)])) {
      const byId = Object.create(null)
      for await (const id of keys.listIds(type)) byId[id] = null
      Object.assign(byId, data[type])
      if (Object.keys(byId).length > 0) write[type] = byId
    }
    await keys.set(write)
    // Replaced, not merged: no field of the old creds survives.
    for (const field of Object.keys(current)) delete current[field]
    Object.assign(current, creds)
    await auth.saveCreds()
  } finally {
    await auth.close()
  }
}

/** The creds and keys of a session (ERR_SESSION_NOT_FOUND if it has no creds). */
async function readSession(path, sessionId) {
  const notFound = () =>
    new AuthStateError(`${path} holds no session ${JSON.stringify(sessionId)}`, ErrorCode.ERR_SESSION_NOT_FOUND)
  // Opening would create the file.
  if (!existsSync(path)) throw notFound()
  const auth = await openAuthState(path, { sessionId }, { initCreds: false })
  try {
    if (auth.isNew) throw notFound()
    const data = {}
    for (const type of multifile.KNOWN_TYPES) {
      // Without a prototype, any id (even '__proto__') is a plain entry.
      for await (const [id, value] of auth.state.keys.list(type)) (data[type] ??= Object.create(null))[id] = value
    }
    return { creds: auth.state.creds, data }
  } finally {
    await auth.close()
  }
}

function migrationOptions(path, folder, options) {
  if (typeof folder !== 'string' || folder === '') throw invalid('folder must be a non-empty string')
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object') throw invalid('options must be an object')
  const { sessionId = 'default', overwrite = false, onProgress } = options
  checkOptions(path, { sessionId })
  if (typeof overwrite !== 'boolean') throw invalid('options.overwrite must be a boolean')
  if (onProgress !== undefined && typeof onProgress !== 'function') throw invalid('options.onProgress must be a function')
  return { sessionId, overwrite, onProgress }
}

const report = (sessionId, counts) => ({
  sessionId,
  counts,
  keys: Object.values(counts).reduce((a, b) => a + b, 0),
  creds: true,
})

/**
 * Copies a useMultiFileAuthState folder into a session of an SQLite file: the session then
 * holds exactly the folder's creds and keys. The folder is read whole first; nothing is
 * written if any of it is unreadable (ERR_INVALID_FOLDER).
 */
async function importMultiFile(folder, path, options) {
  const { sessionId, overwrite, onProgress } = migrationOptions(path, folder, options)
  const { creds, data, counts } = await multifile.readFolder(folder, { onProgress })
  await writeSession(path, sessionId, { creds, data }, { overwrite })
  return report(sessionId, counts)
}

/** Writes a session of an SQLite file as a folder useMultiFileAuthState reads. */
async function exportMultiFile(path, folder, options) {
  const { sessionId, overwrite } = migrationOptions(path, folder, options)
  const { creds, data } = await readSession(path, sessionId)
  const { counts } = await multifile.writeFolder(folder, { creds, data }, { overwrite })
  return report(sessionId, counts)
}

module.exports = { useRustAuthState, importMultiFile, exportMultiFile, AuthStateError, ErrorCode }
