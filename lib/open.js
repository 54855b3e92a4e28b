'use strict'
// Options and opening: shared by useRustAuthState and the session tools.

const { resolve } = require('node:path')
const native = require('../binding.js')
const { AuthStateError, ErrorCode } = require('./errors.js')

/**
 * Optimised JavaScript is tied to the hidden classes of the objects it ran on, and V8 holds
 * the class of Buffers made by native code weakly. Were no such Buffer alive, a full garbage
 * collection would drop the class and, with it, the compiled code of every function that
 * read a frame (the whole decoder): the next reads would run unoptimised, about half as
 * fast. One is kept for the life of the process.
 */
native.keptFrame = native.frameBuffer()

const DURABILITY = ['normal', 'full']
const POSTGRES = /^postgres(ql)?:\/\//i
const REDIS = /^rediss?:\/\//i
const REDISS = /^rediss:\/\//i

/** Whether `location` is a server URL (PostgreSQL or Redis) rather than a file path. */
const isUrl = (location) => typeof location === 'string' && (POSTGRES.test(location) || REDIS.test(location))
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

/**
 * The server options of `options` (`schema`, `prefix`, `clientName`, `redisWait`, `tls`),
 * checked against the kind of `location`: each belongs to one kind of store.
 */
function checkServerOptions(location, options) {
  const { schema, prefix, clientName, redisWait, tls } = options
  const postgres = POSTGRES.test(location)
  const redis = REDIS.test(location)
  if (schema !== undefined) {
    if (!postgres) throw invalid('options.schema applies to postgres:// URLs only')
    if (typeof schema !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) {
      throw invalid('options.schema must be a lowercase identifier: a-z, 0-9 and _, not starting with a digit, at most 63 characters')
    }
  }
  if (prefix !== undefined) {
    if (!redis) throw invalid('options.prefix applies to redis:// URLs only')
    if (typeof prefix !== 'string' || prefix === '' || Buffer.byteLength(prefix) > 256 || /[{}]/.test(prefix)) {
      throw invalid("options.prefix must be a string of 1 to 256 bytes without '{' or '}'")
    }
  }
  if (clientName !== undefined) {
    if (!postgres && !redis) throw invalid('options.clientName applies to server URLs only')
    if (typeof clientName !== 'string' || !/^[\x21-\x7e]{1,63}$/.test(clientName)) {
      throw invalid('options.clientName must be 1 to 63 printable ASCII characters without spaces')
    }
  }
  if (redisWait !== undefined) {
    if (!redis) throw invalid('options.redisWait applies to redis:// URLs only')
    if (redisWait === null || typeof redisWait !== 'object') throw invalid('options.redisWait must be { replicas, timeoutMs }')
    const { replicas, timeoutMs } = redisWait
    if (!Number.isInteger(replicas) || replicas < 0 || replicas > 2 ** 31 - 1) {
      throw invalid('options.redisWait.replicas must be a whole number')
    }
    wholeMs(timeoutMs, 'redisWait.timeoutMs')
  }
  if (tls !== undefined) {
    // A PostgreSQL URL says all of its TLS itself, as libpq's do.
    if (!REDISS.test(location)) {
      throw invalid('options.tls applies to rediss:// URLs only (a postgres:// URL takes sslmode= and sslrootcert=)')
    }
    if (tls === null || typeof tls !== 'object' || Object.keys(tls).some((k) => k !== 'ca')) {
      throw invalid('options.tls must be { ca }, ca the path of a PEM file')
    }
    checkPath(tls.ca, 'options.tls.ca')
  }
  return { schema, prefix, clientName, redisWait, tls }
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
  const server = checkServerOptions(path, options)
  return { sessionId, durability, busyTimeoutMs, lease, takeover, leaseTtlMs, credsDebounceMs, logger, ...server }
}

/**
 * Opens the native store of one session. A failed open never leaves the file (or a
 * connection) held; the returned `abandon(err)` closes the store and rethrows, for failures
 * after this point.
 */
async function openStore(path, options) {
  const { sessionId, durability = 'normal', busyTimeoutMs = 5000, schema, prefix, clientName, redisWait, tls } = options
  const store = new native.NativeStore()
  const abandon = async (err) => {
    await store.close().catch(noop)
    throw err
  }
  await store
    .open(isUrl(path) ? path : resolve(path), {
      sessionId,
      full: durability === 'full',
      busyTimeoutMs,
      schema,
      prefix,
      clientName,
      redisWaitReplicas: redisWait?.replicas,
      redisWaitTimeoutMs: redisWait?.timeoutMs,
      tlsCa: tls && resolve(tls.ca),
    })
    .catch(abandon)
  return { store, abandon }
}

module.exports = { checkOptions, checkServerOptions, checkPath, checkSessionId, isUrl, openStore, invalid, noop, silent }
