'use strict'
// Reads and writes the folders of Baileys' useMultiFileAuthState: `creds.json` and one
// `${type}-${id}.json` per key, JSON made with BufferJSON.
//
// Baileys names a key's file with fixFileName(`${type}-${id}.json`), which turns '/' into '__'
// and ':' into '-'. That cannot be undone in general, so each known type reverses it with
// what its ids may contain (as Baileys 6.7 and 7 build them):
//
// | type                   | id as Baileys builds it                         | reversal                 |
// |------------------------|-------------------------------------------------|--------------------------|
// | pre-key                | a number: `5`                                   | none                     |
// | session, identity-key  | a Signal address `user[_domain].device`:        | none (no '/', ':' or '-')|
// |                        | `5511999.0`, `1011_1.12` (LID), `55_128.99`     |                          |
// | sender-key             | `${group}::${user[_domain]}::${device}`:        | the last two '--' → '::' |
// |                        | `1234-1600000000@g.us::5511999::12`             | (a group jid holds no ':'|
// |                        |                                                 | but may hold '-')        |
// | sender-key-memory      | a group jid, `1234-1600000000@g.us`             | none                     |
// | app-state-sync-key     | standard base64, `AAD/+w==`                     | '__' → '/' (base64 has no|
// |                        |                                                 | '_', '-' nor ':')        |
// | app-state-sync-version | a patch name, `regular_high`                    | none                     |
// | lid-mapping            | a PN user `5511999`, or `${lidUser}_reverse`    | none                     |
// | device-list            | a user, `5511999`                               | none                     |
// | tctoken                | a user jid, `5511999@s.whatsapp.net`, or the    | `digits-digits@` →       |
// |                        | index `__index` (kept: never '/index')          | `digits:digits@` (device)|
//
// Whatever a rule gives, the id must name the very file it came from (fixFileName of it is
// the file's name), so Baileys asking for that id reads that file; where it would not, the
// name is taken literally. A file no id can name (a ':' in its name) is never read by
// Baileys: it is ignored, and reported.
//
// A file of an unknown type (one Baileys may add later) is kept: its type is the longest run
// of lowercase words joined by '-' that is followed by '-' (`x-new-type-123.json` is type
// `x-new-type`, id `123`), its id the rest, taken literally. Such files are reported.

const { mkdir, readdir, readFile, unlink, writeFile } = require('node:fs/promises')
const { join } = require('node:path')
const { AuthStateError, ErrorCode } = require('./errors.js')
const { loadBaileys } = require('./baileys.js')

/** Every type Baileys stores, longest first so a type is matched before its prefixes. */
const KNOWN_TYPES = [
  'app-state-sync-version',
  'app-state-sync-key',
  'sender-key-memory',
  'identity-key',
  'lid-mapping',
  'device-list',
  'sender-key',
  'pre-key',
  'session',
  'tctoken',
]

const literal = (name) => name
const ID_READERS = {
  'sender-key': (name) => name.replace(/--([^-]+)--(\d+)$/, '::$1::$2'),
  'app-state-sync-key': (name) => name.replaceAll('__', '/'),
  tctoken: (name) => name.replace(/^(\d+)-(\d+)@/, '$1:$2@'),
}

const UNKNOWN_TYPE = /^([a-z]+(?:-[a-z]+)*)-(.+)$/s

/** Baileys' fixFileName (use-multi-file-auth-state.js). */
const fixFileName = (file) => file.replace(/\//g, '__').replace(/:/g, '-')

const fileOf = (type, id) => fixFileName(`${type}-${id}.json`)

/** How many files are read or written at once. */
const PARALLEL = 64

function invalidFolder(message) {
  return new AuthStateError(message, ErrorCode.ERR_INVALID_SOURCE)
}

/** Sets `obj[key]`, as an own property even for '__proto__'. */
function put(obj, key, value) {
  if (key === '__proto__') Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true })
  else obj[key] = value
}

/**
 * The type and id a key file holds, `known` telling whether the type is one of Baileys';
 * null when Baileys would never read the file.
 */
function keyOfFile(file) {
  const base = file.slice(0, -'.json'.length)
  const type = KNOWN_TYPES.find((t) => base.startsWith(`${t}-`))
  if (type !== undefined) {
    const name = base.slice(type.length + 1)
    const id = (ID_READERS[type] ?? literal)(name)
    if (fileOf(type, id) === file) return { type, id, known: true }
    if (fileOf(type, name) === file) return { type, id: name, known: true }
    return null
  }
  const match = UNKNOWN_TYPE.exec(base)
  if (match === null || fileOf(match[1], match[2]) !== file) return null
  return { type: match[1], id: match[2], known: false }
}

/** Runs `work(item, index)` over `items`, `PARALLEL` at a time. */
async function eachParallel(items, work) {
  let next = 0
  const worker = async () => {
    while (next < items.length) {
      const i = next++
      await work(items[i], i)
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker))
}

/** Creds fields every login has; creds without them would be a new login, not this one. */
const ESSENTIAL_CREDS = ['noiseKey', 'signedIdentityKey', 'signedPreKey', 'registrationId']

/**
 * Reads a folder written by useMultiFileAuthState, all or nothing.
 *
 * Resolves to `{ creds, data, counts, unknown, ignored }`: `data` is `{ [type]: { [id]: value } }`
 * with values as useMultiFileAuthState returns them, `counts` the keys per type, `unknown` the
 * files of unknown types (`{ file, type, id }`, kept in `data`), `ignored` the names of entries
 * Baileys would never read as keys (not `.json` files, names no id maps to, empty values).
 * Rejects with ERR_INVALID_SOURCE, naming the file, if creds.json is missing or incomplete or a
 * file cannot be read or parsed.
 */
async function readFolder(folder, { onProgress } = {}) {
  const { BufferJSON, proto } = await loadBaileys()
  let entries
  try {
    entries = await readdir(folder, { withFileTypes: true })
  } catch (err) {
    throw invalidFolder(`cannot read the auth folder ${folder}: ${err.message}`)
  }

  const parse = async (file) => {
    const path = join(folder, file)
    let text
    try {
      text = await readFile(path, { encoding: 'utf-8' })
    } catch (err) {
      if (err.code === 'ENOENT' && file === 'creds.json') {
        throw invalidFolder(`${path} is missing: ${folder} is not a multi-file auth folder`)
      }
      throw invalidFolder(`cannot read ${path}: ${err.message}`)
    }
    try {
      return JSON.parse(text, BufferJSON.reviver)
    } catch (err) {
      throw invalidFolder(`${path} is not complete JSON (${text.length === 0 ? 'empty' : err.message})`)
    }
  }

  const credsPath = join(folder, 'creds.json')
  const creds = await parse('creds.json')
  const missing = ESSENTIAL_CREDS.filter((field) => creds?.[field] == null)
  if (typeof creds !== 'object' || creds === null || Array.isArray(creds) || missing.length > 0) {
    throw invalidFolder(`${credsPath} does not hold complete creds (missing: ${missing.join(', ') || 'an object'})`)
  }

  const ignored = []
  const keyFiles = []
  for (const entry of entries) {
    if (entry.name === 'creds.json') continue
    // Links are followed, as Baileys' readFile follows them.
    const isFile = entry.isFile() || entry.isSymbolicLink()
    const key = isFile && entry.name.endsWith('.json') ? keyOfFile(entry.name) : null
    if (key === null) ignored.push(entry.name)
    else keyFiles.push({ file: entry.name, ...key })
  }
  // Sorted so that data, counts and reports do not depend on the directory's order.
  keyFiles.sort((a, b) => (a.file < b.file ? -1 : 1))

  const values = new Array(keyFiles.length)
  let done = 0
  await eachParallel(keyFiles, async ({ file }, i) => {
    values[i] = await parse(file)
    onProgress?.({ done: ++done, total: keyFiles.length })
  })

  const data = {}
  const counts = {}
  const unknown = []
  keyFiles.forEach(({ file, type, id, known }, i) => {
    let value = values[i]
    // Baileys writes only truthy values and reads any falsy one as missing.
    if (!value) {
      ignored.push(file)
      return
    }
    if (type === 'app-state-sync-key') value = proto.Message.AppStateSyncKeyData.fromObject(value)
    if (!known) unknown.push({ file, type, id })
    put((data[type] ??= {}), id, value)
    counts[type] = (counts[type] ?? 0) + 1
  })
  return { creds, data, counts, unknown, ignored: ignored.sort() }
}

/**
 * Writes `{ creds, data }` as useMultiFileAuthState writes it, into `folder` (created if
 * needed). A folder that exists and is not empty is refused (ERR_INVALID_SOURCE) unless
 * `overwrite`, which first removes its `.json` files (other files are left). creds.json is
 * written last: a folder cut short has none, and reads as not a multi-file folder rather than
 * as a new login. Resolves to `{ counts }`.
 */
async function writeFolder(folder, { creds, data }, { overwrite = false } = {}) {
  const { BufferJSON } = await loadBaileys()
  const render = (value) => JSON.stringify(value, BufferJSON.replacer)

  // Everything is rendered before the folder is touched: a value that cannot be written
  // leaves it as it was.
  const files = new Map()
  const counts = {}
  for (const [type, byId] of Object.entries(data ?? {})) {
    for (const [id, value] of Object.entries(byId ?? {})) {
      // Baileys deletes a key on any falsy value.
      if (!value) continue
      const file = fileOf(type, id)
      if (files.has(file)) {
        throw new AuthStateError(
          `${type} ids ${JSON.stringify(files.get(file).id)} and ${JSON.stringify(id)} would both be written to ${file}`,
          ErrorCode.ERR_INVALID_ARGUMENT,
        )
      }
      files.set(file, { id, text: render(value) })
      counts[type] = (counts[type] ?? 0) + 1
    }
  }
  const credsText = render(creds)

  let existing = []
  try {
    existing = await readdir(folder, { withFileTypes: true })
  } catch (err) {
    if (err.code !== 'ENOENT') throw invalidFolder(`cannot use ${folder} as an auth folder: ${err.message}`)
  }
  if (existing.length > 0 && !overwrite) {
    throw invalidFolder(`${folder} is not empty; pass { overwrite: true } to replace the auth files in it`)
  }
  try {
    await mkdir(folder, { recursive: true, mode: 0o700 })
    const stale = existing.filter((e) => (e.isFile() || e.isSymbolicLink()) && e.name.endsWith('.json'))
    await eachParallel(stale, (e) => unlink(join(folder, e.name)))
    // Private keys: readable by the owner only.
    const write = (file, text) => writeFile(join(folder, file), text, { mode: 0o600 })
    await eachParallel([...files], ([file, { text }]) => write(file, text))
    await write('creds.json', credsText)
  } catch (err) {
    throw invalidFolder(`cannot write the auth folder ${folder}: ${err.message}`)
  }
  return { counts }
}

module.exports = { KNOWN_TYPES, readFolder, writeFolder }
