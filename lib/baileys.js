'use strict'
// Baileys is a peer dependency, imported once and only when first needed.

const { AuthStateError, ErrorCode } = require('./errors.js')

/** The names bots install Baileys under, in the order they are tried. */
const NAMES = ['baileys', '@whiskeysockets/baileys']

/** Whether `err` says that package `name` itself is not installed (not one of its imports). */
const notInstalled = (err, name) =>
  err?.code === 'ERR_MODULE_NOT_FOUND' &&
  ['package', 'module'].some((what) => String(err.message).startsWith(`Cannot find ${what} '${name}'`))

/** What this package takes from Baileys. */
const USED = ['initAuthCreds', 'proto', 'BufferJSON']

/**
 * The names this package uses, from Baileys' module. A CommonJS Baileys (6.17, npm's
 * `latest`) has them all on `module.exports`, its `default` here; Node lists the other names
 * of such a module by reading its source, and misses `proto` there.
 */
function used(mod, name) {
  const out = {}
  for (const key of USED) {
    out[key] = mod[key] ?? mod.default?.[key]
    if (out[key] === undefined) {
      throw new AuthStateError(`Baileys, installed as '${name}', exports no ${key}: this version is not supported`, ErrorCode.ERR_BAILEYS_NOT_FOUND)
    }
  }
  return out
}

async function importBaileys() {
  for (const name of NAMES) {
    let mod
    try {
      mod = await import(name)
    } catch (err) {
      if (notInstalled(err, name)) continue
      // Installed but broken (a dependency missing, say): saying "install Baileys" would
      // send the user the wrong way.
      const failed = new AuthStateError(`Baileys is installed as '${name}' but cannot be loaded: ${err?.message ?? err}`, ErrorCode.ERR_BAILEYS_NOT_FOUND)
      failed.cause = err
      throw failed
    }
    return used(mod, name)
  }
  throw new AuthStateError("baileys-rust-auth needs Baileys: install 'baileys' or '@whiskeysockets/baileys'", ErrorCode.ERR_BAILEYS_NOT_FOUND)
}

let baileys
/** What this package uses of Baileys' module; a failed import is tried again on the next call. */
function loadBaileys() {
  baileys ??= importBaileys().catch((err) => {
    baileys = undefined
    throw err
  })
  return baileys
}

module.exports = { loadBaileys }
