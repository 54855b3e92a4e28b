'use strict'
// Baileys is a peer dependency, imported once and only when first needed.

const { AuthStateError, ErrorCode } = require('./errors.js')

let baileys
/** Baileys' module: bots install it as `baileys` or `@whiskeysockets/baileys`. */
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

module.exports = { loadBaileys }
