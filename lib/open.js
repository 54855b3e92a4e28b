'use strict'
// Options and opening: shared by useRustAuthState and the session tools.

const { resolve } = require('node:path')
const native = require('../binding.js')
const { AuthStateError, ErrorCode } = require('./errors.js')

const DURABILITY = ['normal', 'full']
const LOGGER_METHODS = ['trace', 'debug', 'info', 'warn', 'error']

const noop = () => {}
/** Stands in when no logger is given. */
const silent = Object.fromEntries(LOGGER_METHODS.map((m) => [m, noop]))

function invalid(message) {
  return new AuthStateError(message, ErrorCode.ERR_INVALID_ARGUMENT)
}

function checkPath(path, what = 'path') {
  if (typeof path !== 'string' || path === '') throw invalid(`${what} must be a non-empty string`)
  if (path.includes('\0')) throw invalid(`${what} must not contain NUL`)
}

function checkSessionId(sessionId) {
  if (typeof sessionId !== 'string' || sessionId === '' || sessionId.length > 256) {
    throw invalid('options.sessionId must be a non-empty string of at most 256 characters')
  }
}

function wholeMs(value, name, min = 0) {
  if (!Number.isInteger(value) || value < min || value > 2 ** 31 - 1) {
    throw invalid(`options.${name} must be a whole number of milliseconds${min > 0 ? ` of at least ${min}` : ''}`)
  }
}

function checkOptions(path, options) {
  checkPath(path)
  if (options === undefined || options === null) options = {}
  if (typeof options !== 'object') throw invalid('options must be an object')
  const {
    sessionId = 'default',
    durability = 'normal',
    busyTimeoutMs = 5000,
    lease = true,
    takeover = false,
    leaseTtlMs = 30_000,
    credsDebounceMs = 0,
    logger = silent,
  } = options
  checkSessionId(sessionId)
  if (!DURABILITY.includes(durability)) {
    throw invalid(`options.durability must be one of ${DURABILITY.map((d) => `'${d}'`).join(', ')}`)
  }
  wholeMs(busyTimeoutMs, 'busyTimeoutMs')
  wholeMs(leaseTtlMs, 'leaseTtlMs', 100)
  wholeMs(credsDebounceMs, 'credsDebounceMs')
  for (const [name, v] of [['lease', lease], ['takeover', takeover]]) {
    if (typeof v !== 'boolean') throw invalid(`options.${name} must be a boolean`)
  }
  if (logger === null || typeof logger !== 'object' || LOGGER_METHODS.some((m) => typeof logger[m] !== 'function')) {
    throw invalid(`options.logger must have pino's methods (${LOGGER_METHODS.join(', ')})`)
  }
  return { sessionId, durability, busyTimeoutMs, lease, takeover, leaseTtlMs, credsDebounceMs, logger }
}

/**
 * Opens the native store of one session. A failed open never leaves the file held; the
 * returned `abandon(err)` closes the store and rethrows, for failures after this point.
 */
async function openStore(path, { sessionId, durability = 'normal', busyTimeoutMs = 5000 }) {
  const store = new native.NativeStore()
  const abandon = async (err) => {
    await store.close().catch(noop)
    throw err
  }
  await store.open(resolve(path), sessionId, durability === 'full', busyTimeoutMs).catch(abandon)
  return { store, abandon }
}

module.exports = { checkOptions, checkPath, checkSessionId, openStore, invalid, noop, silent }
