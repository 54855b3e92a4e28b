'use strict'
// The session tools: listing and deleting sessions, whole-session import and export, backup
// and restore, validation, health and reset. Each tool opens its own connection, so a bot
// running on the same file carries on meanwhile.

const fs = require('node:fs')
const codec = require('./codec.js')
const { AuthStateError, ErrorCode } = require('./errors.js')
const { checkPath, checkServerOptions, checkSessionId, isUrl, openStore, invalid, noop, silent } = require('./open.js')
const { takeLease, isLive } = require('./lease.js')
const { loadBaileys } = require('./baileys.js')
const multifile = require('./multifile.js')
const { pages } = require('./pages.js')

const DAY_MS = 86_400_000
/** Past this age the signed pre-key is reported stale, as WhatsApp clients rotate it. */
const SIGNED_PRE_KEY_MAX_DAYS = 30

const fail = (code, message) => new AuthStateError(message, code)

function checkOptionsObject(options) {
  if (options === undefined || options === null) return {}
  if (typeof options !== 'object') throw invalid('options must be an object')
  return options
}

/** The server options (`schema`, `prefix`, `clientName`, `tls`...) a tool passes on to the store. */
const serverOf = (path, options) => (checkPath(path), checkServerOptions(path, checkOptionsObject(options)))

/** Refuses a file-only tool on a server store. */
function fileOnly(what, ...locations) {
  if (locations.some(isUrl)) {
    throw invalid(`${what} copies SQLite files; a server store is copied one session at a time with exportJson and importJson, or whole with the server's own tools`)
  }
}

/**
 * Whether to back the store up before a destructive tool: by default for files; a server
 * store has no file to copy, so there it is refused rather than silently skipped.
 */
function backupFirst(path, keep) {
  if (keep === undefined) return !isUrl(path)
  if (keep && isUrl(path)) fileOnly('options.backup', path)
  return keep
}

/**
 * Runs `f(store)` on a connection of its own, closed afterwards whatever happens. A tool
 * never creates a store by accident: the file must exist unless `create`. With `lease`,
 * the session's lease is held meanwhile, so a bot running it makes the tool fail with
 * ERR_SESSION_LOCKED instead of both writing.
 */
async function withStore(path, sessionId, { lease = false, create = false, takeover = false, server = {} } = {}, f) {
  checkPath(path)
  checkSessionId(sessionId)
  if (!create && !isUrl(path) && !fs.existsSync(path)) throw fail(ErrorCode.ERR_CANNOT_OPEN, `${path}: no such file`)
  const { store, abandon } = await openStore(path, { sessionId, ...server })
  let held = null
  try {
    if (lease) held = await takeLease(store, { sessionId, takeover, ttlMs: 30_000, logger: silent })
    const result = await f(store)
    held?.release()
    await store.close()
    return result
  } catch (err) {
    held?.release()
    return abandon(err)
  }
}


/**
 * The whole session as `{ creds, data: { [type]: { [id]: value } } }`; creds `null` if none.
 * `onPage(keys, total)` follows the reading, page by page.
 */
async function readSession(store, onPage = noop) {
  const saved = await store.loadCreds()
  const creds = saved === null ? null : codec.decodeValue(saved)
  const data = {}
  const counts = JSON.parse(await store.counts())
  const total = counts.reduce((n, c) => n + c.count, 0)
  for (const { type } of counts) {
    const values = (data[type] = {})
    for await (const page of pages(store, type)) {
      for (const [id, v] of page) values[id] = v
      onPage(page.length, total)
    }
  }
  return { creds, data }
}

/** Replaces the whole session with `creds` and `data` in one transaction. */
function replaceSession(store, creds, data) {
  let credsBytes
  let frame
  try {
    credsBytes = creds === null ? null : Buffer.from(codec.encodeValue(creds))
    frame = codec.encodeSet(data)
  } catch (err) {
    return Promise.reject(err)
  }
  // A frame returned at once lives in the shared encoder: hand it over before anything else runs.
  return frame instanceof Promise ? frame.then((f) => store.replace(f, credsBytes)) : store.replace(frame, credsBytes)
}

/** Keys per type in `data`, deletions (`null`) not counted. */
function countData(data) {
  const counts = {}
  let keys = 0
  for (const type of Object.keys(data)) {
    let n = 0
    for (const id in data[type]) if (data[type][id] != null) n++
    counts[type] = n
    keys += n
  }
  return { counts, keys }
}

const bytesEqual = (a, b) => a instanceof Uint8Array && b instanceof Uint8Array && Buffer.compare(a, b) === 0

/** Whether two creds are of the same device: same identity key and registration id. */
function sameDevice(a, b) {
  return a?.registrationId === b?.registrationId && bytesEqual(a?.signedIdentityKey?.public, b?.signedIdentityKey?.public)
}

/**
 * Writes a whole session (creds and keys) into the store at `path`, in one transaction and
 * under the session's lease. Importing the same device again replaces it (idempotent), and so
 * does importing over a session never paired (nothing to lose); another device's session is
 * refused with ERR_SESSION_EXISTS unless `overwrite`.
 */
async function writeSession(path, sessionId, { creds, data }, { overwrite = false, server = {} } = {}) {
  if (creds === null || typeof creds !== 'object') throw fail(ErrorCode.ERR_INVALID_SOURCE, 'the session to import has no creds')
  return withStore(path, sessionId, { lease: true, create: true, server }, async (store) => {
    const saved = await store.loadCreds()
    const current = saved === null ? null : codec.decodeValue(saved)
    if (current?.registered === true && !overwrite && !sameDevice(current, creds)) {
      throw fail(
        ErrorCode.ERR_SESSION_EXISTS,
        `session '${sessionId}' of ${path} holds another device's creds; pass { overwrite: true } to replace it`,
      )
    }
    await replaceSession(store, creds, data)
    return { sessionId, ...countData(data), creds: true }
  })
}

/** The whole session at `path`; ERR_SESSION_NOT_FOUND if it (or the file) holds nothing. */
async function loadSession(path, sessionId, { server = {}, onPage } = {}) {
  checkPath(path)
  if (!isUrl(path) && !fs.existsSync(path)) throw fail(ErrorCode.ERR_SESSION_NOT_FOUND, `${path} does not exist`)
  return withStore(path, sessionId, { server }, async (store) => {
    const session = await readSession(store, onPage)
    if (session.creds === null && Object.keys(session.data).length === 0) {
      throw fail(ErrorCode.ERR_SESSION_NOT_FOUND, `${path} has no session '${sessionId}'`)
    }
    return session
  })
}

const asDate = (ms) => (ms ? new Date(ms) : null)

function describeHolder(h) {
  return h === null ? null : { pid: h.pid, host: h.host, since: new Date(h.sinceMs), live: isLive(h) }
}

/** Every session of the store at `path`. */
async function listSessions(path, options) {
  const server = serverOf(path, options)
  const sessions = await withStore(path, 'default', { server }, async (store) => JSON.parse(await store.sessions()))
  return sessions.map((s) => ({
    sessionId: s.sessionId,
    hasCreds: s.hasCreds,
    keys: s.keys,
    bytes: s.bytes,
    createdAt: asDate(s.createdMs),
    updatedAt: asDate(s.updatedMs),
    holder: describeHolder(s.holder),
  }))
}

/** A name for a backup file beside `path`, unique to the millisecond. */
function backupName(path, label) {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  return `${path}.${label ? `${encodeURIComponent(label)}.` : ''}${stamp}.bak`
}

/** Runs a snapshot, reporting `{ done, total }` pages to `onProgress` as it goes. */
async function snapshot(store, dest, intoExisting, onProgress) {
  if (onProgress !== undefined && typeof onProgress !== 'function') throw invalid('options.onProgress must be a function')
  const report = () => {
    const [done, total] = store.progress
    onProgress?.({ done, total })
  }
  const timer = onProgress ? setInterval(report, 100) : null
  try {
    await store.snapshot(dest, intoExisting)
  } finally {
    clearInterval(timer)
  }
  report()
}

/**
 * Writes a consistent snapshot of the whole store (every session) to the new file `dest`,
 * while others keep writing. `dest` appears only once complete and synced.
 */
async function backup(path, dest, options) {
  const { onProgress } = checkOptionsObject(options)
  checkPath(dest, 'dest')
  fileOnly('backup', path, dest)
  if (fs.existsSync(dest)) throw invalid(`${dest} already exists; a backup never overwrites a file`)
  const started = Date.now()
  await withStore(path, 'default', {}, (store) => snapshot(store, dest, false, onProgress))
  return { dest, bytes: fs.statSync(dest).size, ms: Date.now() - started }
}

/**
 * Replaces the store at `path` with the backup `src`, in one transaction. Refused while a
 * live process holds a session of `path`. Unless `backup: false`, the current content is
 * first saved beside it, so a restore can itself be undone.
 */
async function restore(src, path, options) {
  const { onProgress, backup: keep = true } = checkOptionsObject(options)
  checkPath(path)
  fileOnly('restore', src, path)
  let before = null
  if (fs.existsSync(path) && fs.statSync(path).size > 0) {
    await withStore(path, 'default', {}, async (target) => {
      const busy = JSON.parse(await target.sessions()).find((s) => s.holder !== null && isLive(s.holder))
      if (busy) {
        throw fail(
          ErrorCode.ERR_SESSION_LOCKED,
          `session '${busy.sessionId}' of ${path} is in use by process ${busy.holder.pid} on ${busy.holder.host}; stop it before restoring`,
        )
      }
      if (keep) await target.snapshot((before = backupName(path, 'before-restore')), false)
    })
  }
  const exists = fs.existsSync(path) && fs.statSync(path).size > 0
  const sessions = await withStore(src, 'default', {}, async (store) => {
    await snapshot(store, path, exists, onProgress)
    return JSON.parse(await store.sessions()).length
  })
  return { path, sessions, backup: before }
}

/** Deletes a session (creds, keys, lease). Unless `backup: false`, the file is backed up first. */
async function deleteSession(path, sessionId, options) {
  const { backup, takeover = false } = checkOptionsObject(options)
  const server = serverOf(path, options)
  const keep = backupFirst(path, backup)
  return withStore(path, sessionId, { lease: true, takeover, server }, async (store) => {
    const found = JSON.parse(await store.sessions()).some((s) => s.sessionId === sessionId)
    if (!found) return { deleted: false, backup: null }
    const dest = keep ? backupName(path, sessionId) : null
    if (dest) await store.snapshot(dest, false)
    return { deleted: JSON.parse(await store.deleteSession()), backup: dest }
  })
}

/** Encoded bytes of a whole session, per key, for comparing two copies. */
function fingerprint({ creds, data }) {
  const keys = new Map()
  for (const type of Object.keys(data)) {
    for (const id of Object.keys(data[type])) keys.set(`${type}\0${id}`, Buffer.from(codec.encodeValue(data[type][id])))
  }
  return { creds: creds === null ? null : Buffer.from(codec.encodeValue(creds)), keys }
}

function sameCopy(a, b) {
  if (!(a.creds === null ? b.creds === null : b.creds !== null && a.creds.equals(b.creds))) return false
  if (a.keys.size !== b.keys.size) return false
  for (const [k, v] of a.keys) if (!b.keys.get(k)?.equals(v)) return false
  return true
}

/**
 * Copies one session from the store at `from` to the store at `to` (another file, or the same
 * file under `toSessionId`), in one transaction, then reads it back and compares every value.
 */
async function copySession(from, to, options) {
  const { sessionId = 'default', toSessionId = sessionId, overwrite = false, onProgress, source: fromServer, target: toServer } =
    checkOptionsObject(options)
  if (onProgress !== undefined && typeof onProgress !== 'function') throw invalid('options.onProgress must be a function')
  const servers = { from: serverOf(from, fromServer), to: serverOf(to, toServer) }
  // Keys read from the source, then read back from the copy: twice the keys in all.
  let done = 0
  const onPage = (n, total) => onProgress?.({ done: (done += n), total: 2 * total })
  const source = await loadSession(from, sessionId, { server: servers.from, onPage })
  const result = await writeSession(to, toSessionId, source, { overwrite, server: servers.to })
  const copied = await loadSession(to, toSessionId, { server: servers.to, onPage })
  if (!sameCopy(fingerprint(source), fingerprint(copied))) {
    throw fail(ErrorCode.ERR_CORRUPT, `the copy of session '${sessionId}' read back differs from the source`)
  }
  return { ...result, verified: true }
}

function migrationOptions(path, folder, options) {
  if (typeof folder !== 'string' || folder === '') throw invalid('folder must be a non-empty string')
  const { sessionId = 'default', overwrite = false, onProgress } = checkOptionsObject(options)
  checkPath(path)
  checkSessionId(sessionId)
  if (typeof overwrite !== 'boolean') throw invalid('options.overwrite must be a boolean')
  if (onProgress !== undefined && typeof onProgress !== 'function') throw invalid('options.onProgress must be a function')
  return { sessionId, overwrite, onProgress, server: serverOf(path, options) }
}

const migrated = (sessionId, counts) => ({
  sessionId,
  counts,
  keys: Object.values(counts).reduce((a, b) => a + b, 0),
  creds: true,
})

/**
 * Moves a `useMultiFileAuthState` folder into a session of the store at `path`: the folder is
 * read whole first (nothing is written if any of it is unreadable: ERR_INVALID_SOURCE), then
 * the session is replaced by it in one transaction (see `writeSession`).
 */
async function importMultiFile(folder, path, options) {
  const { sessionId, overwrite, onProgress, server } = migrationOptions(path, folder, options)
  const { creds, data, counts } = await multifile.readFolder(folder, { onProgress })
  await writeSession(path, sessionId, { creds, data }, { overwrite, server })
  return migrated(sessionId, counts)
}

/** Writes a session of the store at `path` as a folder `useMultiFileAuthState` reads. */
async function exportMultiFile(path, folder, options) {
  const { sessionId, overwrite, server } = migrationOptions(path, folder, options)
  const session = await loadSession(path, sessionId, { server })
  const { counts } = await multifile.writeFolder(folder, session, { overwrite })
  return migrated(sessionId, counts)
}

const FORMAT = 'baileys-rust-auth/session'

/** One session as JSON text in Baileys' BufferJSON form: portable to any store. */
async function exportJson(path, options) {
  const { sessionId = 'default' } = checkOptionsObject(options)
  const server = serverOf(path, options)
  const { BufferJSON } = await loadBaileys()
  const { creds, data } = await loadSession(path, sessionId, { server })
  return JSON.stringify({ format: FORMAT, version: 1, sessionId, creds, keys: data }, BufferJSON.replacer)
}

/** Imports a session written by `exportJson`, in one transaction (see `writeSession`). */
async function importJson(json, path, options) {
  const { sessionId, overwrite = false } = checkOptionsObject(options)
  const server = serverOf(path, options)
  const { BufferJSON } = await loadBaileys()
  let parsed
  try {
    parsed = JSON.parse(typeof json === 'string' ? json : Buffer.from(json).toString('utf8'), BufferJSON.reviver)
  } catch (err) {
    throw fail(ErrorCode.ERR_INVALID_SOURCE, `the session JSON does not parse: ${err.message}`)
  }
  if (parsed?.format !== FORMAT || parsed.version !== 1 || typeof parsed.keys !== 'object' || parsed.keys === null) {
    throw fail(ErrorCode.ERR_INVALID_SOURCE, `not a session exported by baileys-rust-auth (format ${FORMAT}, version 1)`)
  }
  return writeSession(path, sessionId ?? parsed.sessionId ?? 'default', { creds: parsed.creds, data: parsed.keys }, { overwrite, server })
}

const isBytes = (v, n) => v instanceof Uint8Array && (n === undefined || v.length === n)
const isObject = (v) => v !== null && typeof v === 'object' && !(v instanceof Uint8Array) && !Array.isArray(v)
const isKeyPair = (k) => isObject(k) && isBytes(k.public, 32) && isBytes(k.private, 32)

/** What each known type's values look like (see README, "Stored values"); unknown types pass. */
const SHAPES = {
  'pre-key': [isKeyPair, 'a key pair of 32-byte public and private keys'],
  session: [(v) => isObject(v) || isBytes(v), 'a session record'],
  'sender-key': [(v) => isBytes(v) || isObject(v) || Array.isArray(v), 'a sender key record'],
  'sender-key-memory': [isObject, 'an object'],
  'app-state-sync-key': [(v) => isObject(v) && isBytes(v.keyData), 'an object with keyData bytes'],
  'app-state-sync-version': [(v) => isObject(v) && typeof v.version === 'number', 'an object with a version number'],
  'lid-mapping': [(v) => typeof v === 'string', 'a string'],
  'device-list': [(v) => Array.isArray(v) && v.every((d) => typeof d === 'string'), 'an array of strings'],
  tctoken: [(v) => isObject(v) && (v.token === undefined || isBytes(v.token)), 'an object with token bytes'],
  'identity-key': [(v) => isBytes(v), 'bytes'],
}

/** Decodes every value of the types in `counts` and checks its shape; the problems found. */
async function checkValues(store, counts) {
  const problems = []
  let keys = 0
  const check = (type, id, value) => {
    keys++
    const shape = SHAPES[type]
    if (shape && !shape[0](value)) problems.push({ type, id, problem: `expected ${shape[1]}` })
  }
  for (const { type } of counts) {
    for await (const ids of pages(store, type, false)) {
      let found
      try {
        found = await codec.decodeMap(await store.get(type, Buffer.from(codec.encodeIds(ids))))
      } catch {
        found = null // some value of this page does not decode: find which, one by one
      }
      for (const id of ids) {
        if (found !== null) {
          check(type, id, found[id])
          continue
        }
        try {
          const one = await codec.decodeMap(await store.get(type, Buffer.from(codec.encodeIds([id]))))
          check(type, id, one[id])
        } catch (err) {
          keys++
          problems.push({ type, id, problem: `does not decode: ${err.message}` })
        }
      }
    }
  }
  return { keys, problems }
}

/** The session report of `validate()`, from its creds and stored values. */
async function validateOpen(store, creds) {
  const warnings = []
  const problems = []
  if (creds === null) problems.push({ problem: 'the session has no creds' })
  const registered = creds?.registered === true
  const spk = creds?.signedPreKey
  const identityKey = isKeyPair(creds?.signedIdentityKey)
  const signedPreKey = isObject(spk) && isKeyPair(spk.keyPair) && isBytes(spk.signature, 64)
  if (creds !== null && !identityKey) problems.push({ problem: 'creds.signedIdentityKey is missing or malformed' })
  if (creds !== null && !signedPreKey) problems.push({ problem: 'creds.signedPreKey is missing or malformed' })
  const ageDays = typeof spk?.timestampS === 'number' ? (Date.now() - spk.timestampS * 1000) / DAY_MS : null
  if (ageDays !== null && ageDays > SIGNED_PRE_KEY_MAX_DAYS) {
    warnings.push(`the signed pre-key is ${Math.floor(ageDays)} days old (over ${SIGNED_PRE_KEY_MAX_DAYS})`)
  }
  if (creds !== null && !registered) warnings.push('the session is not registered: it still has to be paired')
  const counts = JSON.parse(await store.counts())
  const preKeys = counts.find((c) => c.type === 'pre-key')?.count ?? 0
  if (registered && preKeys === 0) warnings.push('no pre-keys are stored: Baileys uploads new ones on connect')
  const values = await checkValues(store, counts)
  problems.push(...values.problems)
  return {
    ok: problems.length === 0 && registered,
    registered,
    me: creds?.me?.id ?? null,
    identityKey,
    signedPreKey: { present: signedPreKey, keyId: spk?.keyId ?? null, ageDays },
    preKeys,
    keys: values.keys,
    problems,
    warnings,
  }
}

/** Bytes the store occupies on disk, its -wal and -shm files included; null for a server. */
function fileBytes(path) {
  if (isUrl(path)) return null
  let bytes = 0
  for (const suffix of ['', '-wal', '-shm']) {
    try {
      bytes += fs.statSync(path + suffix).size
    } catch {
      // absent
    }
  }
  return bytes
}

/** The report of `health()`: counts, sizes, last write, lease and the engine's own check. */
async function healthOf(store, path, sessionId, metrics) {
  const counts = JSON.parse(await store.counts())
  const session = JSON.parse(await store.sessions()).find((s) => s.sessionId === sessionId) ?? null
  const problems = JSON.parse(await store.integrity())
  const lastWriteMs = Math.max(session?.updatedMs ?? 0, metrics?.lastWriteMs ?? 0)
  return {
    sessionId,
    exists: session !== null,
    hasCreds: session?.hasCreds ?? false,
    counts: Object.fromEntries(counts.map((c) => [c.type, { count: c.count, bytes: c.bytes }])),
    keys: counts.reduce((n, c) => n + c.count, 0),
    valueBytes: counts.reduce((n, c) => n + c.bytes, 0),
    fileBytes: fileBytes(path),
    createdAt: asDate(session?.createdMs),
    lastWriteAt: asDate(lastWriteMs),
    holder: describeHolder(session?.holder ?? null),
    integrity: problems.length === 0 ? 'ok' : problems,
  }
}

/**
 * `healthOf` an open SQLite store, read through a connection and thread of its own: counting
 * a large file and checking its integrity takes a while (about 270 ms for 100,000 keys), and
 * on the store's own thread every call made meanwhile would wait for it.
 */
const healthBeside = (path, sessionId, metrics) => withStore(path, sessionId, {}, (side) => healthOf(side, path, sessionId, metrics))

/** Snapshots the file (unless `backup: false`), then empties the session: creds and keys. */
async function resetOpen(store, path, sessionId, options, submit = (_, send) => send()) {
  const keep = backupFirst(path, checkOptionsObject(options).backup)
  const dest = keep ? backupName(path, sessionId) : null
  if (dest) await submit(noop, () => store.snapshot(dest, false))
  await submit(noop, () => store.replace(null, null))
  return { backup: dest }
}

const withSession = (options) => {
  const { sessionId = 'default' } = checkOptionsObject(options)
  return sessionId
}

const api = {
  importMultiFile,
  exportMultiFile,
  copySession,
  listSessions,
  deleteSession,
  backup,
  restore,
  exportJson,
  importJson,
  /** Validates a session at rest (see `validateOpen`). */
  validate: async (path, options) =>
    withStore(path, withSession(options), { server: serverOf(path, options) }, async (store) => {
      const saved = await store.loadCreds()
      return validateOpen(store, saved === null ? null : codec.decodeValue(saved))
    }),
  /** Health of a session at rest (see `healthOf`). */
  health: async (path, options) => {
    const sessionId = withSession(options)
    return withStore(path, sessionId, { server: serverOf(path, options) }, (store) => healthOf(store, path, sessionId))
  },
  /** Resets a session at rest, under its lease (a running bot makes it fail). */
  resetSession: async (path, options) => {
    const sessionId = withSession(options)
    return withStore(path, sessionId, { lease: true, server: serverOf(path, options) }, (store) =>
      resetOpen(store, path, sessionId, options),
    )
  },
}

module.exports = { api, healthOf, healthBeside, validateOpen, resetOpen, readSession, writeSession, loadSession, countData, withStore }
