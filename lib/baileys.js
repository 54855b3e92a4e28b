'use strict'
// Baileys is a peer dependency, imported once and only when first needed.

const { AuthStateError, ErrorCode } = require('./errors.js')

/** The names bots install Baileys under, in the order they are tried. */
const NAMES = ['baileys', '@whiskeysockets/baileys']

/** Whether `err` says that package `name` itself is not installed (not one of its imports). */
const notInstalled = (err, name) =>
  err?.code === 'ERR_MODULE_NOT_FOUND' &&
  ['package', 'module'].some((what) => String(err.message).startsWith(`Cannot find ${what} '${name}'`))

async function importBaileys() {
  for (const name of NAMES) {
    try {
      return await import(name)
    } catch (err) {
      if (notInstalled(err, name)) continue
      // Installed but broken (a dependency missing, say): saying "install Baileys" would
      // send the user the wrong way.
      const failed = new AuthStateError(`Baileys is installed as '${name}' but cannot be loaded: ${err?.message ?? err}`, ErrorCode.ERR_BAILEYS_NOT_FOUND)
      failed.cause = err
      throw failed
    }
  }
  throw new AuthStateError("baileys-rust-auth needs Baileys: install 'baileys' or '@whiskeysockets/baileys'", ErrorCode.ERR_BAILEYS_NOT_FOUND)
}

let baileys
/** Baileys' module; a failed import is tried again on the next call. */
function loadBaileys() {
  baileys ??= importBaileys().catch((err) => {
    baileys = undefined
    throw err
  })
  return baileys
}

module.exports = { loadBaileys }
