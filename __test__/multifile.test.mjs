// Migration between Baileys' useMultiFileAuthState folders and this store: real folders written
// by Baileys, real Signal conversations carried on across the move in both directions.

import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { existsSync } from 'node:fs'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, test } from 'node:test'

import { BufferJSON, initAuthCreds, proto, useMultiFileAuthState } from 'baileys'
import { SenderKeyName } from 'baileys/lib/Signal/Group/sender-key-name.js'
import { makeLibSignalRepository } from 'baileys/lib/Signal/libsignal.js'
import * as baileys from 'baileys'
import Database from 'better-sqlite3'
import libsignal from 'libsignal'

import { quietLogger } from '../examples/signal-device.mjs'
import { AuthStateError, ErrorCode, exportMultiFile, importMultiFile, useRustAuthState } from '../index.js'
import { KNOWN_TYPES, readFolder } from '../lib/multifile.js'
import {
  appStateSyncKey,
  converse,
  lidDirectory,
  makeParty,
  openStore,
  register,
  sendGroupText,
  startSession,
  tempDir,
  throughBufferJSON,
  uploadPreKeys,
} from './helpers/signal.mjs'

// Companion devices (':12', ':3') and a primary one; groups in the old `creator-timestamp` form
// (with '-') and the current one.
const IDENTITIES = [
  { name: 'A', jid: '5511911111111:12@s.whatsapp.net', lid: '101111111111111:12@lid' },
  { name: 'B', jid: '5511922222222:3@s.whatsapp.net', lid: '102222222222222:3@lid' },
  { name: 'C', jid: '5511933333333@s.whatsapp.net', lid: '103333333333333@lid' },
]
const OLD_GROUP = '5511911111111-1600000000@g.us'
const NEW_GROUP = '120363041234567890@g.us'

async function rejectsWith(promise, code, what) {
  await assert.rejects(promise, (err) => {
    assert.ok(err instanceof AuthStateError, `${what ?? code}: not an AuthStateError: ${err?.stack ?? err}`)
    assert.equal(err.code, code, `${what ?? code}: ${err.message}`)
    return true
  })
}

const multiFile = (folder) => openStore('multifile', folder)
const rust = (path, sessionId) => useRustAuthState(path, { sessionId })

/** A party as seen in a LID-addressed group: its LID is its address there. */
const byLid = (party) => ({ ...party, jid: party.lid })

/**
 * A stretch of conversation: 1:1 both ways over every pair, then every party to both groups,
 * the old one addressed by phone numbers, the new one by LIDs.
 */
async function phase(parties, label) {
  const log = await converse(parties, { label, rounds: 3, group: OLD_GROUP, groupSenders: ['A', 'B', 'C'] })
  for (const from of parties) {
    const members = parties.filter((p) => p !== from).map(byLid)
    log.push(...(await sendGroupText(byLid(from), NEW_GROUP, members, `${label} new group`)))
  }
  for (const e of log) assert.equal(e.received, e.sent, `${label}: ${e.from}→${e.to} ${e.what}`)
  return log
}

/** Opens every party's store with `open(identity)` and makes its device. */
async function openParties(open) {
  const directory = lidDirectory(IDENTITIES)
  const parties = []
  for (const identity of IDENTITIES) parties.push(makeParty(await open(identity), { name: identity.name, directory }))
  return parties
}

const closeAll = async (parties) => {
  for (const party of parties) await party.close()
}

/** A multi-file folder of one registered device with a few pre-keys. */
async function smallFolder(folder, identity = IDENTITIES[0]) {
  const store = await multiFile(folder)
  await register(store, identity)
  const party = makeParty(store, { name: identity.name, directory: lidDirectory(IDENTITIES) })
  await uploadPreKeys(party, 4)
  await party.close()
  return folder
}

/** Every key of a store session, listed per known type, and its creds. */
async function sessionContents(path, sessionId) {
  const { state, close } = await rust(path, sessionId)
  const keys = {}
  for (const type of KNOWN_TYPES) {
    for await (const [id, value] of state.keys.list(type)) (keys[type] ??= {})[id] = value
  }
  await close()
  return { creds: state.creds, keys }
}

/** A digest of an SQLite file with its write-ahead log, if any. */
async function sha256(path) {
  const hash = createHash('sha256').update(await readFile(path))
  if (existsSync(`${path}-wal`)) hash.update(await readFile(`${path}-wal`))
  return hash.digest('hex')
}
const sessionNames = (path) => {
  const db = new Database(path, { readonly: true })
  try {
    return db.prepare('SELECT name FROM session').all().map((r) => r.name)
  } finally {
    db.close()
  }
}

describe('importMultiFile and exportMultiFile', () => {
  test('a Signal conversation on multi-file folders carries on in this store, and again after exporting back', async (t) => {
    const dir = await tempDir(t)
    const folders = IDENTITIES.map(({ name }) => join(dir, `folder-${name}`))
    const db = join(dir, 'auth.db')

    // 1. On Baileys' own useMultiFileAuthState.
    let parties = await openParties(async (identity) => {
      const store = await multiFile(folders[IDENTITIES.indexOf(identity)])
      await register(store, identity)
      return store
    })
    const offered = {}
    for (const party of parties) offered[party.name] = await uploadPreKeys(party, 5)
    const [a, b, c] = parties
    for (const [from, to] of [[a, b], [a, c], [b, c]]) await startSession(from, to, offered[to.name].shift())
    const first = await phase(parties, 'multi-file')
    await closeAll(parties)
    assert.ok(first.some((e) => e.type === 'pkmsg'))

    // The folders hold the names this test is about: sessions of devices by LID, sender keys of
    // the old group (with '-') by phone number and of the new one by LID.
    const files = await readdir(folders[0])
    for (const file of [
      'session-102222222222222_1.3.json',
      `sender-key-${OLD_GROUP}--5511911111111--12.json`,
      `sender-key-${NEW_GROUP}--101111111111111_1--12.json`,
      `sender-key-memory-${OLD_GROUP}.json`,
    ]) {
      assert.ok(files.includes(file), `${file} is not among ${files.join(' ')}`)
    }
    const read = await readFolder(folders[0])
    const expected = ['5511911111111::12', '5511922222222::3', '5511933333333::0'].map((s) => `${OLD_GROUP}::${s}`)
    expected.push(...['101111111111111_1::12', '102222222222222_1::3', '103333333333333_1::0'].map((s) => `${NEW_GROUP}::${s}`))
    assert.deepStrictEqual(Object.keys(read.data['sender-key']).sort(), expected.sort())
    assert.deepStrictEqual(read.unknown, [])
    assert.deepStrictEqual(read.ignored, [])

    // 2. Imported into one SQLite file, a session per device, and carried on there.
    for (const [i, { name }] of IDENTITIES.entries()) {
      const { counts } = await readFolder(folders[i])
      const report = await importMultiFile(folders[i], db, { sessionId: name })
      assert.deepStrictEqual(report, {
        sessionId: name,
        counts,
        keys: Object.values(counts).reduce((x, y) => x + y),
        creds: true,
      })
      const { creds, data } = await readFolder(folders[i])
      assert.deepStrictEqual(await sessionContents(db, name), { creds, keys: data }, `${name}: the store holds the folder`)
    }
    parties = await openParties(({ name }) => rust(db, name))
    const second = await phase(parties, 'imported')
    await closeAll(parties)

    // 3. Exported to fresh folders and carried on with useMultiFileAuthState once more.
    const exported = IDENTITIES.map(({ name }) => join(dir, `exported-${name}`))
    for (const [i, { name }] of IDENTITIES.entries()) {
      const report = await exportMultiFile(db, exported[i], { sessionId: name })
      const { creds, data, counts } = await readFolder(exported[i])
      assert.deepStrictEqual(report.counts, counts)
      assert.equal(report.sessionId, name)
      // As JSON keeps it: the store keeps the `undefined` fields libsignal leaves in sessions.
      const stored = throughBufferJSON(await sessionContents(db, name))
      assert.deepStrictEqual({ creds, keys: data }, stored, `${name}: the folder holds the store`)
    }
    parties = await openParties((identity) => multiFile(exported[IDENTITIES.indexOf(identity)]))
    const third = await phase(parties, 'exported')
    await closeAll(parties)

    // The sessions and sender keys moved: no session restarted, no sender key went out again.
    for (const [label, log] of [['imported', second], ['exported', third]]) {
      assert.deepStrictEqual(log.filter((e) => e.type === 'pkmsg'), [], `${label}: no session restarts`)
      assert.deepStrictEqual(log.filter((e) => e.what === 'sender key'), [], `${label}: sender keys are remembered`)
      assert.equal(log.filter((e) => e.what === 'group text').length, 12, `${label}: every member got every group text`)
      for (const [from, to] of [['A', 'B'], ['B', 'A'], ['A', 'C'], ['C', 'A'], ['B', 'C'], ['C', 'B']]) {
        assert.ok(log.some((e) => e.what === 'text' && e.from === from && e.to === to), `${label}: ${from}→${to}`)
      }
    }
  })

  test('readFolder recovers the exact ids useMultiFileAuthState wrote, for every known type', async (t) => {
    const folder = join(await tempDir(t), 'auth')
    const repository = makeLibSignalRepository({ creds: initAuthCreds(), keys: {} }, quietLogger, async () => undefined)
    const jids = [
      '5511999999999@s.whatsapp.net',
      '5511999999999:12@s.whatsapp.net',
      '101111111111111@lid',
      '101111111111111:5@lid',
      '5511999999999:99@hosted',
      '101111111111111:99@hosted.lid',
    ]
    // Signal addresses as Baileys builds them: `user[_domain].device`.
    const addresses = jids.map((jid) => repository.jidToSignalProtocolAddress(jid))
    const groups = [OLD_GROUP, NEW_GROUP, 'status@broadcast']
    const senderKeys = groups.flatMap((group) =>
      addresses.map((address) => new SenderKeyName(group, libsignal.ProtocolAddress.from(address)).toString()),
    )
    const key = appStateSyncKey()
    const ids = {
      'pre-key': ['1', '16777215'],
      session: addresses,
      'identity-key': addresses,
      'sender-key': senderKeys,
      'sender-key-memory': groups,
      // Standard base64: '/' (even '//'), '+' and '='.
      'app-state-sync-key': [key.id, Buffer.from([0xff, 0xff, 0xfb, 0xef]).toString('base64'), 'AAD//w==', '+/+/'],
      'app-state-sync-version': ['critical_block', 'critical_unblock_low', 'regular', 'regular_high', 'regular_low'],
      'lid-mapping': ['5511999999999', '101111111111111_reverse'],
      'device-list': ['5511999999999', '101111111111111'],
      tctoken: ['5511999999999@s.whatsapp.net', '101111111111111@lid', '101111111111111:5@lid', '__index'],
    }
    assert.deepStrictEqual(Object.keys(ids).sort(), [...KNOWN_TYPES].sort(), 'every known type is covered')
    assert.ok(addresses.includes('101111111111111_1.5') && addresses.includes('5511999999999_128.99'))
    assert.ok(senderKeys.includes(`${OLD_GROUP}::5511999999999::12`))
    const valueOf = {
      'app-state-sync-key': () => key.keyData,
      'sender-key-memory': () => ({ [jids[0]]: true }),
      'lid-mapping': () => '101111111111111',
      'device-list': () => ['0', '12'],
      tctoken: () => ({ token: Buffer.from('token'), timestamp: '1700000000' }),
    }
    const data = {}
    for (const [type, list] of Object.entries(ids)) {
      data[type] = Object.fromEntries(list.map((id, i) => [id, valueOf[type]?.() ?? { bytes: Buffer.from([i]), id }]))
    }

    const { state } = await useMultiFileAuthState(folder)
    await state.keys.set(data)
    await writeFile(join(folder, 'creds.json'), JSON.stringify(state.creds, BufferJSON.replacer))
    const names = await readdir(folder)
    assert.ok(names.includes('app-state-sync-key-AAD____w==.json'), 'the case this test is about: "/" became "__"')
    assert.ok(names.includes('tctoken-__index.json') && names.includes('tctoken-101111111111111-5@lid.json'))

    const read = await readFolder(folder)
    const { state: again } = await useMultiFileAuthState(folder)
    for (const [type, list] of Object.entries(ids)) {
      assert.deepStrictEqual(Object.keys(read.data[type]).sort(), [...list].sort(), type)
      assert.equal(read.counts[type], list.length, `${type} count`)
      // Values as useMultiFileAuthState itself returns them for those ids.
      assert.deepStrictEqual(read.data[type], await again.keys.get(type, list), `${type} values`)
    }
    assert.ok(read.data['app-state-sync-key'][key.id] instanceof proto.Message.AppStateSyncKeyData)
    assert.deepStrictEqual(read.unknown, [])
  })

  test('files of unknown types are kept under the longest lowercase type name; unreadable names are ignored', async (t) => {
    const dir = await tempDir(t)
    const folder = await smallFolder(join(dir, 'auth'))
    const { state } = await useMultiFileAuthState(folder)
    await state.keys.set({ 'x-future-type': { '1:ab/2': { n: 1 } }, newtype: { '42': Buffer.from('x') } })
    // Never written by Baileys, never read by it either.
    await writeFile(join(folder, 'session-1:2.0.json'), '{}')
    await writeFile(join(folder, 'session-5.0.json'), 'null')
    await writeFile(join(folder, 'notes.txt'), 'hello')
    await mkdir(join(folder, 'sub'))

    const read = await readFolder(folder)
    assert.deepStrictEqual(read.unknown, [
      { file: 'newtype-42.json', type: 'newtype', id: '42' },
      { file: 'x-future-type-1-ab__2.json', type: 'x-future-type', id: '1-ab__2' },
    ])
    assert.deepStrictEqual(read.data['x-future-type'], { '1-ab__2': { n: 1 } })
    assert.deepStrictEqual(read.data.newtype, { 42: Buffer.from('x') })
    assert.deepStrictEqual(read.ignored, ['notes.txt', 'session-1:2.0.json', 'session-5.0.json', 'sub'])

    // Written back under the very same file names.
    const db = join(dir, 'auth.db')
    await importMultiFile(folder, db)
    const { state: stored, close } = await rust(db, 'default')
    assert.deepStrictEqual(await stored.keys.get('x-future-type', ['1-ab__2']), { '1-ab__2': { n: 1 } })
    await close()
    const out = join(dir, 'out')
    await exportMultiFile(db, out)
    // Keys of unknown types go back out under the very same names too.
    assert.deepStrictEqual((await readdir(out)).filter((f) => !/^(creds|pre-key-\d+)\.json$/.test(f)), [
      'newtype-42.json',
      'x-future-type-1-ab__2.json',
    ])
  })

  test('a torn, empty, non-JSON or missing creds.json is refused and the store is left unchanged', async (t) => {
    const dir = await tempDir(t)
    const folder = await smallFolder(join(dir, 'auth'))
    const credsPath = join(folder, 'creds.json')
    const text = await readFile(credsPath, 'utf8')

    // A file that already holds another session; and a path that does not exist yet.
    const db = join(dir, 'auth.db')
    await (await rust(db, 'other')).close()
    const before = await sha256(db)
    const absent = join(dir, 'absent.db')

    const torn = [0, 1, 2, 10, text.length >> 2, text.length >> 1, text.length - 2, text.length - 1]
    const cases = [
      ...torn.map((n) => [`truncated at ${n}`, text.slice(0, n)]),
      ['not JSON', 'creds'],
      ['JSON null', 'null'],
      ['an array', '[]'],
      ['an empty object', '{}'],
      ['creds without keys', JSON.stringify({ registrationId: 5 })],
    ]
    for (const [what, content] of [...cases, ['missing', null]]) {
      if (content === null) await rm(credsPath)
      else await writeFile(credsPath, content)
      for (const [path, sessionId] of [[db, 'default'], [absent, 'default'], [db, 'other']]) {
        await assert.rejects(importMultiFile(folder, path, { sessionId, overwrite: true }), (err) => {
          assert.equal(err.code, ErrorCode.ERR_INVALID_SOURCE, `${what}: ${err.message}`)
          assert.ok(err.message.includes(credsPath), `${what}: the message names the file: ${err.message}`)
          return true
        })
      }
    }
    assert.equal(await sha256(db), before, 'the SQLite file is byte for byte the same')
    assert.deepStrictEqual(sessionNames(db), ['other'], 'no session was created')
    assert.equal(existsSync(absent), false, 'no file was created')

    // A torn key file refuses the whole folder too, naming it.
    await writeFile(credsPath, text)
    const preKey = (await readdir(folder)).find((f) => f.startsWith('pre-key-'))
    const preKeyText = await readFile(join(folder, preKey), 'utf8')
    await writeFile(join(folder, preKey), preKeyText.slice(0, 20))
    await assert.rejects(importMultiFile(folder, db), (err) => {
      assert.equal(err.code, ErrorCode.ERR_INVALID_SOURCE)
      assert.ok(err.message.includes(join(folder, preKey)), err.message)
      return true
    })
    assert.equal(await sha256(db), before)
    assert.deepStrictEqual(sessionNames(db), ['other'])

    // A folder that is not there.
    await rejectsWith(importMultiFile(join(dir, 'nowhere'), db), ErrorCode.ERR_INVALID_SOURCE)
  })

  test('importing is idempotent; other creds are refused unless overwrite, which replaces the session whole', async (t) => {
    const dir = await tempDir(t)
    const [folderA, folderB] = await Promise.all([
      smallFolder(join(dir, 'A'), IDENTITIES[0]),
      smallFolder(join(dir, 'B'), IDENTITIES[1]),
    ])
    // Keys only A has.
    const { state } = await useMultiFileAuthState(folderA)
    await state.keys.set({ session: { '999.0': { only: 'A' } }, 'sender-key-memory': { [OLD_GROUP]: { x: true } } })
    const db = join(dir, 'auth.db')

    const progress = []
    const first = await importMultiFile(folderA, db, { onProgress: (p) => progress.push(p) })
    const { counts } = await readFolder(folderA)
    assert.deepStrictEqual(first, { sessionId: 'default', counts, keys: 6, creds: true })
    assert.deepStrictEqual(counts, { 'pre-key': 4, session: 1, 'sender-key-memory': 1 })
    assert.deepStrictEqual(progress.at(-1), { done: 6, total: 6 })
    const once = await sessionContents(db, 'default')
    assert.equal(once.creds.me.id, IDENTITIES[0].jid)

    assert.deepStrictEqual(await importMultiFile(folderA, db), first, 'the same report again')
    assert.deepStrictEqual(await sessionContents(db, 'default'), once, 'the same state again')

    // Another login into the same session.
    await rejectsWith(importMultiFile(folderB, db), ErrorCode.ERR_SESSION_EXISTS)
    assert.deepStrictEqual(await sessionContents(db, 'default'), once, 'a refused import writes nothing')
    // A session made by useRustAuthState and never paired has no login to lose: replaced.
    await (await rust(db, 'fresh')).close()
    await importMultiFile(folderA, db, { sessionId: 'fresh' })
    assert.equal((await sessionContents(db, 'fresh')).creds.me.id, IDENTITIES[0].jid)

    const replaced = await importMultiFile(folderB, db, { overwrite: true })
    assert.deepStrictEqual(replaced.counts, { 'pre-key': 4 })
    const now = await sessionContents(db, 'default')
    assert.equal(now.creds.me.id, IDENTITIES[1].jid)
    assert.deepStrictEqual(Object.keys(now.keys), ['pre-key'], "none of A's keys is left")
    const { creds: credsB } = await readFolder(folderB)
    assert.deepStrictEqual(Object.keys(now.creds).sort(), Object.keys(credsB).sort(), "none of A's creds fields is left")

    // Other sessions of the file are untouched.
    assert.deepStrictEqual(sessionNames(db).sort(), ['default', 'fresh'])
  })

  test('exporting refuses a folder in use unless overwrite, and a session that does not exist', async (t) => {
    const dir = await tempDir(t)
    const folder = await smallFolder(join(dir, 'A'))
    const db = join(dir, 'auth.db')
    await importMultiFile(folder, db, { sessionId: 'a' })

    await rejectsWith(exportMultiFile(db, folder, { sessionId: 'a' }), ErrorCode.ERR_INVALID_SOURCE, 'a folder with files')
    await rejectsWith(exportMultiFile(db, join(dir, 'out'), { sessionId: 'b' }), ErrorCode.ERR_SESSION_NOT_FOUND)
    assert.deepStrictEqual(sessionNames(db), ['a'], 'looking for a session does not create it')
    await rejectsWith(exportMultiFile(join(dir, 'none.db'), join(dir, 'out')), ErrorCode.ERR_SESSION_NOT_FOUND)
    assert.equal(existsSync(join(dir, 'none.db')), false)
    assert.equal(existsSync(join(dir, 'out')), false)

    // overwrite replaces the auth files: a stale key file goes, other files stay.
    await writeFile(join(folder, 'session-777.0.json'), JSON.stringify({ stale: true }))
    await writeFile(join(folder, 'notes.txt'), 'mine')
    await mkdir(join(dir, 'empty'))
    for (const target of [folder, join(dir, 'empty')]) {
      const report = await exportMultiFile(db, target, { sessionId: 'a', overwrite: target === folder })
      assert.deepStrictEqual(report.counts, { 'pre-key': 4 })
    }
    const files = await readdir(folder)
    assert.ok(!files.includes('session-777.0.json') && files.includes('notes.txt'))
    const authFiles = (await readdir(folder)).filter((f) => f !== 'notes.txt')
    assert.deepStrictEqual((await readdir(join(dir, 'empty'))).sort(), authFiles.sort())

    // useMultiFileAuthState reads the export as the import read the original.
    const original = await readFolder(join(dir, 'empty'))
    const { state } = await useMultiFileAuthState(join(dir, 'empty'))
    assert.deepStrictEqual(state.creds, original.creds)
    assert.equal(state.creds.me.id, IDENTITIES[0].jid)
  })

  test('bad arguments are refused before anything is read or written', async (t) => {
    const dir = await tempDir(t)
    const db = join(dir, 'auth.db')
    for (const [what, call] of [
      ['a folder that is not a string', () => importMultiFile(42, db)],
      ['an empty path', () => importMultiFile(dir, '')],
      ['an empty sessionId', () => exportMultiFile(db, dir, { sessionId: '' })],
      ['overwrite not a boolean', () => importMultiFile(dir, db, { overwrite: 'yes' })],
      ['onProgress not a function', () => importMultiFile(dir, db, { onProgress: true })],
    ]) {
      await rejectsWith(call(), ErrorCode.ERR_INVALID_ARGUMENT, what)
    }
    assert.equal(existsSync(db), false)
  })

  // Baileys' own migration (migrateAuthState) is not in the installed release: this trips once
  // an upgrade brings it, so that it gets tested against its real signature then.
  const noMigrate = !('migrateAuthState' in baileys) && 'the installed Baileys does not export migrateAuthState'
  test('Baileys migrateAuthState', { skip: noMigrate }, () => {
    assert.fail('migrateAuthState appeared in the installed Baileys: test migrating with it both ways')
  })
})
