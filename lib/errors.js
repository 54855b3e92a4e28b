'use strict'
// The error class every rejection is an instance of, and the codes (defined in src/error.rs).

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

/** Every error code, as `{ ERR_X: 'ERR_X' }`. */
const ErrorCode = Object.freeze(Object.fromEntries(native.errorCodes().map((c) => [c, c])))

module.exports = { AuthStateError, ErrorCode }
