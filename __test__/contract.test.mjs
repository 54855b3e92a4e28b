// The Baileys contract of an auth state, proved on useRustAuthState and, as the reference, on
// Baileys' own useMultiFileAuthState: real Baileys, real libsignal, values read back in fresh
// processes.

import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'

import { getNextPreKeys, jidDecode, proto, unixTimestampSeconds } from 'baileys'
import libsignal from 'libsignal'

import {
  appStateSyncKey,
  appStateSyncVersion,
  asData,
  converse,
  historySyncMessage,
  lidDirectory,
  makeParty,
  openStore,
  pairingUpdate,
  receiveTcTokens,
  recordWrites,
  register,
  runChild,
  rustLibsignalSessionBytes,
  rustLibsignalSessionOpens,
  startSession,
  isRust,
  STORE_KINDS,
  storeLocation,
  tempDir,
  throughBufferJSON,
  uploadPreKeys,
} from './helpers/signal.mjs'
import { dropRunData, serverUp } from './helpers/servers.mjs'

const READ = fileURLToPath(new URL('./helpers/child-read.mjs', import.meta.url))
const CONVERSE = fileURLToPath(new URL('./helpers/child-converse.mjs', import.meta.url))
const EXIT = fileURLToPath(new URL('./helpers/child-exit.mjs', import.meta.url))

const { AppStateSyncKeyData } = proto.Message

const GROUP = '120363041234567890@g.us'
const IDENTITIES = [
  { name: 'A', jid: '1111111111:1@s.whatsapp.net', lid: '101111111111111:1@lid' },
  { name: 'B', jid: '2222222222:2@s.whatsapp.net', lid: '102222222222222:2@lid' },
  { name: 'C', jid: '3333333333:3@s.whatsapp.net', lid: '103333333333333:3@lid' },
]

/** What a store of `kind` gives back for `value` written under `type`. */
function expectedBack(kind, type, value) {
  // The rust store keeps data; useMultiFileAuthState goes through JSON with BufferJSON.
  const stored = isRust(kind) ? asData(value) : throughBufferJSON(value)
  // Both hand app-state keys back as protobuf messages, made with fromObject.
  return type === 'app-state-sync-key' ? asData(AppStateSyncKeyData.fromObject(stored)) : stored
}

/** Reads a store back in a fresh process: creds, keys.get of `get`, list/listIds of `list`. */
const readBack = (kind, location, { get = {}, list = [] } = {}) =>
  runChild(READ, [kind, location, JSON.stringify({ get, list })])

/** Opens a store, lets `use` work on it, and closes it. */
async function using(kind, location, use) {
  const store = await openStore(kind, location)
  try {
    await use(store)
  } finally {
    await store.close()
  }
}

const idsOf = (values) => Object.fromEntries(Object.entries(values).map(([type, byId]) => [type, Object.keys(byId)]))

// ---------------------------------------------------------------------------------------------
// Values of every type, as Baileys and libsignal write them. Made once, on Baileys' own
// multi-file store, from a real conversation and real protocol handling.

let realValuesOnce
const realValues = () => (realValuesOnce ??= makeRealValues())
const valuesDir = mkdtemp(join(tmpdir(), 'baileys-rust-auth-values-'))
after(async () => rm(await valuesDir, { recursive: true, force: true }))

async function makeRealValues() {
  const dir = await valuesDir
  const identities = IDENTITIES.slice(0, 2)
  const directory = lidDirectory(identities)
  const parties = []
  const written = []
  for (const identity of identities) {
    const store = await openStore('multifile', storeLocation('multifile', dir, identity.name))
    written.push(recordWrites(store))
    await register(store, identity)
    parties.push(makeParty(store, { name: identity.name, directory }))
  }
  const [a, b] = parties
  const [preKey] = await uploadPreKeys(b, 3)
  await startSession(a, b, preKey)
  await converse(parties, { label: 'values', rounds: 3, group: GROUP, groupSenders: ['A'] })
  await receiveTcTokens(a, [b.jid, IDENTITIES[2].jid])

  // Everything Baileys wrote and kept (the later party wins where both wrote one id).
  const values = {}
  for (const byType of written) {
    for (const [type, byId] of Object.entries(byType)) {
      for (const [id, value] of Object.entries(byId)) if (value !== null) (values[type] ??= {})[id] = value
    }
  }
  const key = appStateSyncKey()
  const [patchName, version] = await appStateSyncVersion(key, [b.jid, IDENTITIES[2].jid, GROUP])
  values['app-state-sync-key'] = { [key.id]: key.keyData }
  values['app-state-sync-version'] = { [patchName]: version }
  // What a device query stores: each user's device ids as strings.
  values['device-list'] = Object.fromEntries(
    IDENTITIES.map(({ jid }) => jidDecode(jid)).map(({ user, device }) => [user, ['0', String(device)]]),
  )
  // A type Baileys may add later: nested data with bytes, arrays and unicode.
  values['x-future-type'] = {
    'ünïcødé id ✓': {
      title: 'Ünïcødé ✓ 🎉 中文 — "quoted", back\\slash, new\nline',
      bytes: randomBytes(16),
      raw: new Uint8Array(randomBytes(8)),
      empty: Buffer.alloc(0),
      list: [1, -2.5, 'three', true, null, [randomBytes(4), new Uint8Array([0, 255])], { deeper: [new Uint8Array(3)] }],
      nested: { count: 0, flag: false, text: '' },
    },
  }
  for (const party of parties) await party.close()

  const expectTypes = [
    'pre-key',
    'session',
    'sender-key',
    'sender-key-memory',
    'app-state-sync-key',
    'app-state-sync-version',
    'lid-mapping',
    'device-list',
    'tctoken',
    'identity-key',
    'x-future-type',
  ]
  assert.deepStrictEqual(Object.keys(values).sort(), expectTypes.sort(), 'the real values cover every type')
  return values
}

/** The value of `type` whose id is first in `values`, as [id, value]. */
const first = (values, type) => Object.entries(values[type])[0]

// ---------------------------------------------------------------------------------------------

after(dropRunData)

for (const kind of STORE_KINDS) {
  describe(kind, () => {
    if ((kind === 'postgres' || kind === 'redis') && !serverUp(kind)) return
    test('every key type written with keys.set comes back equal in a fresh process', async (t) => {
      const location = storeLocation(kind, await tempDir(t), 'auth')
      const values = await realValues()

      // Sanity of the inputs: the shapes this test claims to cover.
      const [, identityKey] = first(values, 'identity-key')
      assert.ok(identityKey instanceof Uint8Array && !Buffer.isBuffer(identityKey) && identityKey.length === 33)
      const [, session] = first(values, 'session')
      assert.ok(typeof session._sessions === 'object' && typeof session.version === 'string')
      assert.ok(Buffer.isBuffer(first(values, 'sender-key')[1]))
      const tokens = Object.values(values.tctoken).filter((v) => v.timestamp !== undefined)
      assert.ok(tokens.some((v) => v.token.length === 0) && tokens.some((v) => v.token.length > 0))
      const [, version] = first(values, 'app-state-sync-version')
      assert.ok(version.hash.length === 128 && Object.keys(version.indexValueMap).length === 3)

      await using(kind, location, (store) => store.state.keys.set(values))

      const { got, appStateKeys } = await readBack(kind, location, { get: idsOf(values) })
      for (const [type, byId] of Object.entries(values)) {
        for (const [id, value] of Object.entries(byId)) {
          assert.deepStrictEqual(got[type][id], expectedBack(kind, type, value), `${type} ${id}`)
        }
      }

      // App-state keys must work as protobuf messages again.
      const [keyId, keyData] = first(values, 'app-state-sync-key')
      const { isMessage, encoded } = appStateKeys[keyId]
      assert.equal(isMessage, true)
      assert.deepStrictEqual(encoded, Buffer.from(AppStateSyncKeyData.encode(keyData).finish()))
      const decoded = AppStateSyncKeyData.decode(encoded)
      assert.ok(decoded.timestamp.equals(keyData.timestamp), 'the Long timestamp survives')
      assert.deepStrictEqual(Buffer.from(decoded.keyData), keyData.keyData)

      // libsignal must open every session it wrote.
      for (const id of Object.keys(values.session)) {
        assert.ok(libsignal.SessionRecord.deserialize(got.session[id]).haveOpenSession(), `session ${id} opens`)
      }
    })

    test(
      'a session stored as raw bytes (Rust/WASM libsignal) comes back as the same bytes in a Buffer',
      {
        skip:
          kind === 'multifile' &&
          'raw-bytes sessions are a requirement of the rust store only; ' +
            'the reference store is for libsignal-node values',
      },
      async (t) => {
        const location = storeLocation(kind, await tempDir(t), 'auth')
        const bytes = await rustLibsignalSessionBytes()
        assert.ok(bytes instanceof Uint8Array && !Buffer.isBuffer(bytes))

        await using(kind, location, (store) => store.state.keys.set({ session: { '5511999999999_1.0': bytes } }))

        const { got } = await readBack(kind, location, { get: { session: ['5511999999999_1.0'] } })
        const back = got.session['5511999999999_1.0']
        assert.ok(Buffer.isBuffer(back), 'bytes come back as a Buffer')
        assert.deepStrictEqual(back, Buffer.from(bytes))
        assert.ok(rustLibsignalSessionOpens(back), 'the Rust/WASM libsignal opens it')
      },
    )

    test('keys.get answers only found ids; null deletes; one set spans several types', async (t) => {
      const location = storeLocation(kind, await tempDir(t), 'auth')
      const values = await realValues()
      const [preKeyId] = Object.keys(values['pre-key'])
      const [sessionId] = Object.keys(values.session)
      const [mappingId] = Object.keys(values['lid-mapping'])
      const key = appStateSyncKey()

      // One commit as Baileys' transactions make them: deletions and writes of several types.
      const commit = {
        'pre-key': { [preKeyId]: null },
        session: { [sessionId]: null },
        'lid-mapping': { [mappingId]: null },
        'app-state-sync-key': { [key.id]: key.keyData },
        'sender-key-memory': { [GROUP]: { [IDENTITIES[2].jid]: true } },
      }
      await using(kind, location, async ({ state }) => {
        await state.keys.set(values)
        await state.keys.set(commit)
        // Deleting what is not there is no error.
        await state.keys.set({ session: { 'never-written.0': null } })
      })

      const get = idsOf(values)
      for (const [type, byId] of Object.entries(commit)) {
        get[type] = [...new Set([...(get[type] ?? []), ...Object.keys(byId)])]
      }
      for (const ids of Object.values(get)) ids.push('never-written')
      const { got } = await readBack(kind, location, { get })

      for (const [type, ids] of Object.entries(get)) {
        const expected = {}
        for (const id of ids) {
          const value = type in commit && id in commit[type] ? commit[type][id] : values[type]?.[id]
          if (value != null) expected[id] = expectedBack(kind, type, value)
        }
        // Baileys tests values for truthiness: a missing id may be absent or null.
        const found = Object.fromEntries(Object.entries(got[type]).filter(([, v]) => v != null))
        assert.deepStrictEqual(found, expected, type)
        if (isRust(kind)) {
          assert.deepStrictEqual(Object.keys(got[type]).sort(), Object.keys(expected).sort(), `${type}: found ids only`)
        }
      }
      assert.equal(got['pre-key'][preKeyId] ?? null, null)
      assert.equal(got.session[sessionId] ?? null, null)
      assert.equal(got['lid-mapping'][mappingId] ?? null, null)
    })

    test(
      'list and listIds stream every id of a type, with its value',
      { skip: kind === 'multifile' && 'useMultiFileAuthState has no list/listIds' },
      async (t) => {
        const location = storeLocation(kind, await tempDir(t), 'auth')
        const values = await realValues()

        const deleted = ['1', '256', '257', '600']
        await using(kind, location, async ({ state, saveCreds }) => {
          await state.keys.set(values)
          // More pre-keys than one page of a listing, made the way Baileys makes them.
          const { update } = await getNextPreKeys(state, 600)
          Object.assign(state.creds, update)
          await saveCreds(update)
          await state.keys.set({ 'pre-key': Object.fromEntries(deleted.map((id) => [id, null])) })
        })

        const types = Object.keys(values)
        const preKeyIds = Array.from({ length: 600 }, (_, i) => String(i + 1))
        const { got, listed, listedIds } = await readBack(kind, location, {
          get: { ...idsOf(values), 'pre-key': preKeyIds },
          list: types,
        })
        for (const type of types) {
          const expectedIds = Object.keys(got[type]).sort()
          assert.deepStrictEqual([...listedIds[type]].sort(), expectedIds, `listIds ${type}`)
          assert.equal(new Set(listedIds[type]).size, listedIds[type].length, `listIds ${type} has no duplicates`)
          assert.deepStrictEqual(Object.fromEntries(listed[type]), got[type], `list ${type}`)
          assert.deepStrictEqual(listed[type].map(([id]) => id), listedIds[type], `list and listIds agree on ${type}`)
        }
        const keptPreKeys = preKeyIds.filter((id) => !deleted.includes(id))
        assert.deepStrictEqual([...listedIds['pre-key']].sort(), keptPreKeys.sort())
      },
    )

    test('creds saved with saveCreds come back equal in a fresh process', async (t) => {
      const location = storeLocation(kind, await tempDir(t), 'auth')
      const [me] = IDENTITIES
      let creds
      let history
      await using(kind, location, async ({ state, saveCreds }) => {
        creds = state.creds
        // As a socket does: mutate creds in place, then call saveCreds with the update.
        const pairing = pairingUpdate(creds, { jid: me.jid, lid: me.lid, name: 'Ünïcødé Shop ✓', platform: 'smba' })
        Object.assign(creds, pairing)
        await saveCreds(pairing)
        const { update } = await getNextPreKeys(state, 30)
        Object.assign(creds, update)
        await saveCreds(update)
        history = historySyncMessage(creds)
        const later = {
          registered: true,
          routingInfo: randomBytes(28),
          myAppStateKeyId: appStateSyncKey().id,
          lastAccountSyncTimestamp: unixTimestampSeconds(),
          processedHistoryMessages: [
            ...creds.processedHistoryMessages,
            { key: history.key, messageTimestamp: history.messageTimestamp },
          ],
        }
        Object.assign(creds, later)
        await saveCreds(later)
      })

      // Sanity of the inputs: the shapes this test claims to cover.
      assert.ok(creds.account instanceof proto.ADVSignedDeviceIdentity)
      assert.ok(Buffer.isBuffer(creds.account.deviceSignature))
      assert.ok(Buffer.isBuffer(creds.signalIdentities[0].identifierKey))
      assert.ok('pairingCode' in creds && creds.pairingCode === undefined)
      assert.ok(Object.values(history.key).includes(undefined))

      const { creds: back } = await readBack(kind, location)
      assert.deepStrictEqual(back, expectedBack(kind, undefined, creds))
      // The account must encode to the same protobuf bytes.
      assert.deepStrictEqual(
        Buffer.from(proto.ADVSignedDeviceIdentity.encode(back.account).finish()),
        Buffer.from(proto.ADVSignedDeviceIdentity.encode(creds.account).finish()),
      )
    })

    test('a Signal conversation carries on after the stores are closed and reopened in new processes', async (t) => {
      const dir = await tempDir(t)
      const directory = lidDirectory(IDENTITIES)
      const locations = IDENTITIES.map(({ name }) => storeLocation(kind, dir, name))
      const parties = []
      const offered = {}
      for (const [i, identity] of IDENTITIES.entries()) {
        const store = await openStore(kind, locations[i])
        await register(store, identity)
        const party = makeParty(store, { name: identity.name, directory })
        offered[party.name] = await uploadPreKeys(party, 5)
        parties.push(party)
      }
      const [a, b, c] = parties
      // Sessions from pre-key bundles, each with a pre-key the server hands out once.
      const used = { A: [], B: [], C: [] }
      for (const [from, to] of [[a, b], [a, c], [b, c]]) {
        const preKey = offered[to.name].shift()
        used[to.name].push(preKey.keyId)
        await startSession(from, to, preKey)
      }

      const plan = (label, rounds, groupSenders) => ({ label, rounds, group: GROUP, groupSenders })
      const phases = [await converse(parties, plan('before closing', 9, ['A', 'B']))]
      for (const party of parties) await party.close()
      const reopen = (label) => runChild(CONVERSE, [kind, JSON.stringify(plan(label, 3, ['A', 'B', 'C'])), ...locations])
      const second = await reopen('first reopen')
      const third = await reopen('second reopen')
      phases.push(second.log, third.log)

      // Every message decrypted to what was sent.
      for (const log of phases) {
        for (const e of log) assert.equal(e.received, e.sent, `${e.from}→${e.to} ${e.type}`)
      }
      const count = (log, test) => log.filter(test).length
      assert.ok(count(phases[0], (e) => e.what === 'text' && e.from === 'A' && e.to === 'B') >= 15)
      assert.ok(count(phases[0], (e) => e.what === 'text' && e.from === 'B' && e.to === 'A') >= 15)
      for (const [i, groupSenders] of [['A', 'B'], ['A', 'B', 'C'], ['A', 'B', 'C']].entries()) {
        const received = phases[i].filter((e) => e.what === 'group text')
        assert.equal(received.length, groupSenders.length * 2, `phase ${i}: every member got every group message`)
        assert.ok(received.every((e) => e.type === 'skmsg'))
      }

      // Message types follow the session state across processes: the party that started a session
      // sends pre-key messages until it hears back, every other message is a plain one.
      const log = phases.flat()
      assert.deepStrictEqual([log[0].from, log[0].to, log[0].type], ['A', 'B', 'pkmsg'])
      assert.deepStrictEqual(log.map((e) => e.type), expectedTypes(log))
      assert.ok(phases.slice(1).flat().every((e) => e.type !== 'pkmsg'), 'no session restarts after reopening')

      // Sender keys went out once per member: after reopening, only C's new one is distributed.
      const senderKeysSent = (phase) => phase.filter((e) => e.what === 'sender key')
      assert.equal(senderKeysSent(phases[0]).length, 4)
      assert.deepStrictEqual(senderKeysSent(phases[1]).map((e) => e.from), ['C', 'C'])
      assert.deepStrictEqual(senderKeysSent(phases[2]), [])

      // The pre-keys that started sessions are gone, the others and creds' counters persisted.
      for (const { name, nextPreKeyId, preKeyIds } of second.reopened) {
        assert.equal(nextPreKeyId, 6, `${name} nextPreKeyId`)
        assert.deepStrictEqual(preKeyIds, [1, 2, 3, 4, 5].filter((id) => !used[name].includes(id)), `${name} pre-keys`)
      }
    })

    test(
      'a process that used the store ends cleanly, after close() or without it',
      async (t) => {
        const dir = await tempDir(t)
        const runs = ['no-close', 'close'].flatMap((mode) =>
          Array.from({ length: 3 }, (_, i) => [mode, storeLocation(kind, dir, `${mode}-${i}`)]),
        )
        const failures = []
        // Two processes at a time, one per core.
        for (let i = 0; i < runs.length; i += 2) {
          const batch = runs.slice(i, i + 2)
          const settled = await Promise.allSettled(
            batch.map(([mode, location]) => runChild(EXIT, [kind, location, mode])),
          )
          settled.forEach(({ status, reason }, j) => {
            if (status === 'rejected') failures.push(`${batch[j][0]}: ${reason.message.split('\n')[0]}`)
          })
        }
        assert.deepStrictEqual(failures, [])
      },
    )
  })
}

/**
 * The message types libsignal must produce for a log: per pair, the party that started the
 * session sends 'pkmsg' until it has decrypted a message from the other; all else is 'msg'.
 */
function expectedTypes(log) {
  const pairs = new Map()
  return log.map(({ from, to, what }) => {
    if (what === 'group text') return 'skmsg'
    const key = [from, to].sort().join()
    if (!pairs.has(key)) pairs.set(key, { starter: from, answered: false })
    const pair = pairs.get(key)
    if (from === pair.starter) return pair.answered ? 'msg' : 'pkmsg'
    pair.answered = true
    return 'msg'
  })
}
