'use strict'
// The error class every rejection is an instance of, and the codes (defined in src/error.rs,
// plus the few only JavaScript raises, listed here).

const native = require('../binding.js')

/** An error from the auth store; `code` is stable (see README, "Error codes"). */
class AuthStateError extends Error {
  constructor(message, code) {
    super(message)
    this.name = 'AuthStateError'
    this.code = code
  }
}
native.setErrorClass(AuthStateError)

/** Codes raised by the JavaScript side only (migration from and to multi-file folders). */
const JS_CODES = ['ERR_INVALID_FOLDER', 'ERR_SESSION_EXISTS', 'ERR_SESSION_NOT_FOUND']

/** Every error code, as `{ ERR_X: 'ERR_X' }`. */
const codes = new Set([...native.errorCodes(), ...JS_CODES])
const ErrorCode = Object.freeze(Object.fromEntries([...codes].map((c) => [c, c])))

module.exports = { AuthStateError, ErrorCode }
