'use strict'
// baileys-rust-auth: Baileys' auth state in one transactional SQLite file.
// This file only shapes the API; storage, encoding and errors live in the native core.

const { resolve } = require('node:path')
const native = require('./binding.js')

/** An error from the auth store; `code` is stable (see README, "Error codes"). */
class AuthStateError extends Error {
  constructor(message, code) {
    super(message)
    this.name = 'AuthStateError'
    this.code = code
  }
}
native.setErrorClass(AuthStateError)

/** Every error code, as `{ ERR_X: 'ERR_X' }`. */
const ErrorCode = Object.freeze(Object.fromEntries(native.errorCodes().map((c) => [c, c])))

const DURABILITY = ['normal', 'full']
const LIST_PAGE = 256

let baileys
/** Baileys is a peer dependency: bots install it as `baileys` or `@whiskeysockets/baileys`. */
function loadBaileys() {
  baileys ??= import('baileys').catch(() =>
    import('@whiskeysockets/baileys').catch(() => {
      baileys = undefined
      throw new AuthStateError(
        "baileys-rust-auth needs Baileys: install 'baileys' or '@whiskeysockets/baileys'",
        ErrorCode.ERR_BAILEYS_NOT_FOUND,
      )
    }),
  )
  return baileys
}

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

/** Streams a type's entries page by page, so a huge type is never held in memory whole. */
async function* pages(store, type, withValues) {
  let after = null
  for (;;) {
    const page = await store.listPage(type, after, LIST_PAGE, withValues)
    yield* page
    if (page.length < LIST_PAGE) return
    const last = page[page.length - 1]
    after = withValues ? last[0] : last
  }
}

function makeKeys(store, proto) {
  const AppStateSyncKeyData = proto.Message.AppStateSyncKeyData
  // Baileys reads app-state keys as protobuf messages (as useMultiFileAuthState returns them).
  const asAppStateKeys = (found) => {
    for (const id in found) found[id] = AppStateSyncKeyData.fromObject(found[id])
    return found
  }
  return {
    get: (type, ids) =>
      type === 'app-state-sync-key' ? store.get(type, ids).then(asAppStateKeys) : store.get(type, ids),
    set: (data) => store.set(data),
    clear: () => store.clear(),
    list: (type) =>
      type === 'app-state-sync-key'
        ? (async function* () {
            for await (const [id, v] of pages(store, type, true)) yield [id, AppStateSyncKeyData.fromObject(v)]
          })()
        : pages(store, type, true),
    listIds: (type) => pages(store, type, false),
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
  let creds = await store.loadCreds()
  if (creds === null) {
    creds = initAuthCreds()
    await store.saveCreds(creds)
  }
  // Idempotent: shutdown paths often close twice, and the second call waits for the first.
  let closing
  const close = () => (closing ??= store.close())
  return {
    state: { creds, keys: makeKeys(store, proto) },
    // Called as `ev.on('creds.update', saveCreds)`: the update argument is ignored, the
    // object Baileys mutated in place is what is saved.
    saveCreds: () => store.saveCreds(creds),
    close,
  }
}

module.exports = { useRustAuthState, AuthStateError, ErrorCode }
