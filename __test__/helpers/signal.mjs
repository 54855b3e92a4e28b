// Shared by the contract suite and its child processes: stores, Signal parties built the way
// makeWASocket builds them, real conversations, and a value format that crosses processes.

import { spawn } from 'node:child_process'
import { preKeyBundle as bundleOf, quietLogger } from '../../examples/signal-device.mjs'
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'

import {
  addTransactionCapability,
  BufferJSON,
  chatModificationToAppPatch,
  configureSuccessfulPairing,
  Curve,
  decodeMessageNode,
  DEFAULT_CONNECTION_CONFIG,
  encodeSyncdPatch,
  encodeWAMessage,
  generateMessageIDV2,
  generateSignalPubKey,
  getNextPreKeys,
  hmacSign,
  jidDecode,
  makeCacheableSignalKeyStore,
  newLTHashState,
  proto,
  signedKeyPair,
  unixTimestampSeconds,
  unpadRandomMax16,
  useMultiFileAuthState,
  WA_ADV_ACCOUNT_SIG_PREFIX,
} from 'baileys'
import { storeTcTokensFromIqResult } from 'baileys/lib/Utils/tc-token-utils.js'
import * as rustSignal from 'whatsapp-rust-bridge'

import { useRustAuthState } from '../../index.js'
import { RUN_PREFIX, RUN_SCHEMA, serverArgs, serverLocation } from './servers.mjs'

// What makeWASocket uses when a bot does not override it.
const { makeSignalRepository: makeLibSignalRepository, transactionOpts } = DEFAULT_CONNECTION_CONFIG

/** 'rust' is a file; 'postgres' and 'redis' the same store on a server; 'multifile' Baileys'. */
export const STORE_KINDS = ['rust', 'postgres', 'redis', 'multifile']

/** Whether `kind` is a store of this library (values kept as data, not through JSON). */
export const isRust = (kind) => kind !== 'multifile'

/** A pino-compatible logger that says nothing. */
export const silentLogger = quietLogger

/** A fresh directory under the system temp dir, removed when the test ends. */
export async function tempDir(t) {
  const dir = await mkdtemp(join(tmpdir(), 'baileys-rust-auth-'))
  t.after(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/**
 * Opens an auth state: 'rust' is useRustAuthState(file), 'multifile' Baileys' own
 * useMultiFileAuthState(folder). Both come back as { state, saveCreds, close }.
 */
export async function openStore(kind, location) {
  switch (kind) {
    case 'rust':
      return useRustAuthState(location)
    case 'postgres':
    case 'redis':
      return useRustAuthState(...serverArgs(location))
    case 'multifile': {
      const store = await useMultiFileAuthState(location)
      return { ...store, close: async () => {} }
    }
    default:
      throw new Error(`unknown store kind ${kind}`)
  }
}

/**
 * Where a store of `kind` named `name` lives: a file or folder inside `dir`, or for a server
 * a session of this run's schema or prefix, named after `dir` (unique to the test).
 */
export function storeLocation(kind, dir, name) {
  switch (kind) {
    case 'postgres':
      return serverLocation(kind, RUN_SCHEMA, `${basename(dir)}-${name}`)
    case 'redis':
      return serverLocation(kind, RUN_PREFIX, `${basename(dir)}-${name}`)
    default:
      return join(dir, kind === 'rust' ? `${name}.db` : name)
  }
}

/**
 * Records the last value written for every type and id (null once deleted) exactly as the
 * caller passed it, then lets the write through to the store.
 */
export function recordWrites(store) {
  const written = {}
  const keys = store.state.keys
  store.state.keys = {
    ...keys,
    set: (data) => {
      for (const type in data) Object.assign((written[type] ??= {}), data[type])
      return keys.set(data)
    },
  }
  return written
}

// ---------------------------------------------------------------------------------------------
// Parties: one device each, on its own store, wired as makeWASocket wires a bot's auth state.

/**
 * What a server's USync lookup would answer for the parties of a test: PN users to LID users.
 * Baileys stores what it learns as 'lid-mapping' entries and addresses sessions by LID.
 */
function pnToLidLookup(directory) {
  return async (pns) =>
    pns.flatMap((pn) => {
      const lid = directory.get(jidDecode(pn).user)
      return lid ? [{ pn, lid }] : []
    })
}

/** Identities ({ jid, lid }) as the PN user → LID user directory pnToLidLookup answers from. */
export function lidDirectory(identities) {
  return new Map(identities.map(({ jid, lid }) => [jidDecode(jid).user, `${jidDecode(lid).user}@lid`]))
}

/**
 * A device on `store`: `keys` is the store as makeWASocket sees it (cache, then transactions),
 * `repository` Baileys' libsignal repository over it. The identity lives in creds.me.
 */
export function makeParty(store, { name, directory }) {
  const { creds } = store.state
  const keys = addTransactionCapability(
    makeCacheableSignalKeyStore(store.state.keys, silentLogger),
    silentLogger,
    transactionOpts,
  )
  const repository = makeLibSignalRepository({ creds, keys }, silentLogger, pnToLidLookup(directory))
  return {
    name,
    jid: creds.me.id,
    lid: creds.me.lid,
    creds,
    keys,
    repository,
    saveCreds: store.saveCreds,
    close: async () => {
      repository.close()
      await store.close()
    },
  }
}

/** Gives a fresh store's creds an identity, as pairing does, and saves them. */
export async function register(store, { jid, lid, name }) {
  Object.assign(store.state.creds, { me: { id: jid, lid, name }, registered: true })
  await store.saveCreds()
}

/**
 * The pre-key upload of a socket: Baileys generates `count` pre-keys, stores them and moves
 * creds.nextPreKeyId / firstUnuploadedPreKeyId on. Returns what the server would hand out.
 */
export async function uploadPreKeys(party, count) {
  const { creds, keys } = party
  const { update, preKeys } = await keys.transaction(
    () => getNextPreKeys({ creds, keys }, count),
    creds.me?.id ?? 'upload-pre-keys',
  )
  Object.assign(creds, update)
  await party.saveCreds(update)
  return Object.entries(preKeys).map(([id, pair]) => ({
    keyId: Number(id),
    publicKey: generateSignalPubKey(pair.public),
  }))
}

/** The pre-key bundle a server returns for a party, with one of its uploaded pre-keys. */
export const preKeyBundle = ({ creds }, preKey) => bundleOf(creds, preKey)

/** `from` starts a session with `to` from `to`'s bundle, as after a server key fetch. */
export async function startSession(from, to, preKey) {
  await from.repository.injectE2ESession({ jid: to.jid, session: preKeyBundle(to, preKey) })
}

// ---------------------------------------------------------------------------------------------
// Messages

const decodeMessage = (plaintext) => proto.Message.decode(unpadRandomMax16(plaintext))
const base64 = (bytes) => Buffer.from(bytes).toString('base64')

/** A 1:1 message: `from` encrypts a WhatsApp message for `to`, who decrypts it. */
async function direct(from, to, message) {
  const { type, ciphertext } = await from.repository.encryptMessage({ jid: to.jid, data: encodeWAMessage(message) })
  const plaintext = await to.repository.decryptMessage({ jid: from.jid, type, ciphertext })
  return { type, received: decodeMessage(plaintext) }
}

/** A log entry: `what` is 'text' (1:1), 'sender key' (1:1 carrying one) or 'group text'. */
const entry = (from, to, what, type, sent, received) => ({ from: from.name, to: to.name, what, type, sent, received })

/** Sends a text 1:1 and returns its log entry. */
export async function sendText(from, to, text) {
  const { type, received } = await direct(from, to, { conversation: text })
  return entry(from, to, 'text', type, text, received.conversation)
}

/**
 * A group message, as Baileys sends one: sender-key encrypted once; the sender key goes in a
 * 1:1 message to every member that 'sender-key-memory' does not list yet. Every member then
 * decrypts the group message. Returns the log entries (sender keys, then the message).
 */
export async function sendGroupText(from, group, members, text) {
  const { [group]: memory = {} } = await from.keys.get('sender-key-memory', [group])
  const { ciphertext, senderKeyDistributionMessage } = await from.repository.encryptGroupMessage({
    group,
    meId: from.jid,
    data: encodeWAMessage({ conversation: text }),
  })
  const log = []
  for (const to of members.filter((m) => !memory[m.jid])) {
    const { type, received } = await direct(from, to, {
      senderKeyDistributionMessage: { groupId: group, axolotlSenderKeyDistributionMessage: senderKeyDistributionMessage },
    })
    const item = received.senderKeyDistributionMessage
    await to.repository.processSenderKeyDistributionMessage({ item, authorJid: from.jid })
    memory[to.jid] = true
    const [sent, got] = [senderKeyDistributionMessage, item.axolotlSenderKeyDistributionMessage].map(base64)
    log.push(entry(from, to, 'sender key', type, sent, got))
  }
  for (const to of members) {
    const plaintext = await to.repository.decryptGroupMessage({ group, authorJid: from.jid, msg: ciphertext })
    log.push(entry(from, to, 'group text', 'skmsg', text, decodeMessage(plaintext).conversation))
  }
  await from.keys.set({ 'sender-key-memory': { [group]: memory } })
  return log
}

/**
 * A stretch of conversation among `parties` (sessions already started, first party of each
 * pair being the one that started it): `rounds` rounds of 1:1 bursts both ways over every pair,
 * then one group message from each of `groupSenders`. Returns the log, in order.
 */
export async function converse(parties, { label, rounds, group, groupSenders }) {
  const log = []
  const pairs = parties.flatMap((x, i) => parties.slice(i + 1).map((y) => [x, y]))
  for (let round = 0; round < rounds; round++) {
    for (const [x, y] of pairs) {
      for (const [from, to] of [[x, y], [y, x]]) {
        for (let n = 0; n <= round % 3; n++) {
          log.push(await sendText(from, to, `${label} ${round}.${n} ${from.name}→${to.name} ✓ ünïcødé`))
        }
      }
    }
  }
  for (const name of groupSenders) {
    const from = parties.find((p) => p.name === name)
    const members = parties.filter((p) => p !== from)
    log.push(...(await sendGroupText(from, group, members, `${label} group from ${name} 🎉`)))
  }
  return log
}

// ---------------------------------------------------------------------------------------------
// Real account values

/**
 * The creds update of a successful pairing, made by Baileys' configureSuccessfulPairing from a
 * pair-success stanza signed by a freshly generated primary-device account key.
 */
export function pairingUpdate(creds, { jid, lid, name, platform }) {
  const accountKey = Curve.generateKeyPair()
  const deviceDetails = proto.ADVDeviceIdentity.encode({
    rawId: 1234567,
    timestamp: unixTimestampSeconds(),
    keyIndex: 3,
  }).finish()
  const accountSignature = Curve.sign(
    accountKey.private,
    Buffer.concat([WA_ADV_ACCOUNT_SIG_PREFIX, deviceDetails, creds.signedIdentityKey.public]),
  )
  const details = proto.ADVSignedDeviceIdentity.encode({
    details: deviceDetails,
    accountSignatureKey: accountKey.public,
    accountSignature,
  }).finish()
  const hmac = hmacSign(details, Buffer.from(creds.advSecretKey, 'base64'))
  const stanza = {
    tag: 'iq',
    attrs: { id: 'pair-1', type: 'set' },
    content: [
      {
        tag: 'pair-success',
        attrs: {},
        content: [
          {
            tag: 'device-identity',
            attrs: {},
            content: proto.ADVSignedDeviceIdentityHMAC.encode({ details, hmac }).finish(),
          },
          { tag: 'platform', attrs: { name: platform } },
          { tag: 'device', attrs: { jid, lid } },
          { tag: 'biz', attrs: { name } },
        ],
      },
    ],
  }
  return configureSuccessfulPairing(stanza, creds).creds
}

/**
 * An app-state sync key as a primary device shares it: an AppStateSyncKeyShare decoded from the
 * wire (keyData bytes, fingerprint, a Long timestamp), with the base64 id Baileys stores it under.
 */
export function appStateSyncKey() {
  const wire = proto.Message.AppStateSyncKeyShare.encode({
    keys: [
      {
        keyId: { keyId: randomBytes(6) },
        keyData: {
          keyData: randomBytes(32),
          fingerprint: { rawId: 987654321, currentIndex: 3, deviceIndexes: [0, 3, 7] },
          timestamp: Date.now(),
        },
      },
    ],
  }).finish()
  const [{ keyId, keyData }] = proto.Message.AppStateSyncKeyShare.decode(wire).keys
  return { id: Buffer.from(keyId.keyId).toString('base64'), keyData }
}

/** The app-state version Baileys keeps after encoding patches (pins) with `key`: [name, state]. */
export async function appStateSyncVersion(key, jids) {
  const getKey = async (id) => (id === key.id ? key.keyData : undefined)
  let state = newLTHashState()
  let name
  for (const jid of jids) {
    const patch = chatModificationToAppPatch({ pin: true }, jid)
    name = patch.type
    ;({ state } = await encodeSyncdPatch(patch, key.id, state, getKey))
  }
  return [name, state]
}

/** A history-sync notification to our own device, as decodeMessageNode gives it. */
export function historySyncMessage({ me }) {
  const stanza = {
    tag: 'message',
    attrs: {
      id: generateMessageIDV2(me.id),
      from: me.id,
      t: String(unixTimestampSeconds()),
      type: 'text',
      category: 'peer',
    },
  }
  return decodeMessageNode(stanza, me.id, me.lid).fullMessage
}

/**
 * Privacy tokens as the server issues them, stored by Baileys for `jids` (one token each; the
 * last one empty).
 */
export async function receiveTcTokens(party, jids) {
  const tokens = jids.map((jid, i) => ({
    tag: 'token',
    attrs: { type: 'trusted_contact', jid, t: String(unixTimestampSeconds()) },
    content: i === jids.length - 1 ? Buffer.alloc(0) : randomBytes(24),
  }))
  await storeTcTokensFromIqResult({
    result: { tag: 'iq', attrs: {}, content: [{ tag: 'tokens', attrs: {}, content: tokens }] },
    keys: party.keys,
    getLIDForPN: (jid) => party.repository.lidMapping.getLIDForPN(jid),
  })
}

/**
 * A session record of the Rust/WASM libsignal (whatsapp-rust-bridge) as stacks built on it store
 * sessions: raw bytes, here after a pre-key message and its reply.
 */
export async function rustLibsignalSessionBytes() {
  const device = (name) => {
    const identity = Curve.generateKeyPair()
    // The fields of creds that a pre-key bundle is made of.
    const creds = { registrationId: 4321, signedIdentityKey: identity, signedPreKey: signedKeyPair(identity, 1) }
    const preKey = Curve.generateKeyPair()
    const pair = ({ public: pub, private: priv }) => ({ pubKey: generateSignalPubKey(pub), privKey: priv })
    const sessions = new Map()
    const storage = {
      loadSession: (address) => sessions.get(address),
      storeSession: (address, record) => void sessions.set(address, record.serialize()),
      getOurIdentity: () => pair(identity),
      getOurRegistrationId: () => creds.registrationId,
      isTrustedIdentity: () => true,
      loadPreKey: () => pair(preKey),
      removePreKey: () => {},
      loadSignedPreKey: () => ({ ...creds.signedPreKey, keyPair: pair(creds.signedPreKey.keyPair) }),
      loadSenderKey: () => null,
      storeSenderKey: () => {},
    }
    const bundle = preKeyBundle({ creds }, { keyId: 7, publicKey: generateSignalPubKey(preKey.public) })
    return { address: new rustSignal.ProtocolAddress(name, 0), sessions, storage, bundle }
  }
  const a = device('a')
  const b = device('b')
  await new rustSignal.SessionBuilder(a.storage, b.address).initOutgoing(b.bundle)
  const first = await new rustSignal.SessionCipher(a.storage, b.address).encrypt(Buffer.from('hello'))
  await new rustSignal.SessionCipher(b.storage, a.address).decryptPreKeyWhisperMessage(first.body)
  const reply = await new rustSignal.SessionCipher(b.storage, a.address).encrypt(Buffer.from('hi'))
  await new rustSignal.SessionCipher(a.storage, b.address).decryptWhisperMessage(reply.body)
  return a.sessions.get(b.address.toString())
}

/** Whether raw session bytes open as a Rust/WASM libsignal session record with an open session. */
export const rustLibsignalSessionOpens = (bytes) => rustSignal.SessionRecord.deserialize(bytes).haveOpenSession()

// ---------------------------------------------------------------------------------------------
// Values across processes

/**
 * Values cross processes as JSON made with Baileys' BufferJSON, as data: a class instance
 * (a protobuf message, a Long) travels as its own enumerable fields. Two things BufferJSON
 * would lose are what the suite checks, so they travel tagged: `undefined` fields, and
 * Uint8Arrays that are not Buffers.
 */
export function toWire(value) {
  return JSON.stringify(value, function (key, replaced) {
    const raw = this[key]
    if (raw === undefined) return { type: 'undefined' }
    if (raw instanceof Uint8Array) {
      return Buffer.isBuffer(raw)
        ? BufferJSON.replacer(key, raw)
        : { type: 'Uint8Array', data: Buffer.from(raw).toString('base64') }
    }
    if (isClassInstance(raw)) return { ...raw }
    return BufferJSON.replacer(key, replaced)
  })
}

export function fromWire(text) {
  return untag(JSON.parse(text, BufferJSON.reviver))
}

function untag(value) {
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value)) return value
  if (value.type === 'undefined' && Object.keys(value).length === 1) return undefined
  if (value.type === 'Uint8Array' && typeof value.data === 'string') {
    return new Uint8Array(Buffer.from(value.data, 'base64'))
  }
  for (const key of Object.keys(value)) value[key] = untag(value[key])
  return value
}

function isClassInstance(value) {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const prototype = Object.getPrototypeOf(value)
  return prototype !== null && prototype !== Object.prototype
}

/**
 * `value` as a store that keeps data returns it: bytes as Buffers, class instances as plain
 * objects of their own enumerable fields, everything else (undefined fields included) as is.
 */
export function asData(value) {
  if (value instanceof Uint8Array) return Buffer.from(value)
  if (Array.isArray(value)) return value.map(asData)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asData(v)]))
}

/** `value` as useMultiFileAuthState gives it back: through JSON with BufferJSON. */
export const throughBufferJSON = (value) => JSON.parse(JSON.stringify(value, BufferJSON.replacer), BufferJSON.reviver)

// ---------------------------------------------------------------------------------------------
// Child processes

/** Runs `script` in a fresh Node process; resolves its stdout read with fromWire. */
export function runChild(script, args = []) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    const out = []
    const err = []
    child.stdout.on('data', (chunk) => out.push(chunk))
    child.stderr.on('data', (chunk) => err.push(chunk))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      const stderr = Buffer.concat(err).toString()
      if (code !== 0) {
        reject(new Error(`${script} exited with ${signal ?? code}:\n${stderr}`))
        return
      }
      try {
        resolve(fromWire(Buffer.concat(out).toString()))
      } catch (error) {
        reject(new Error(`${script} printed no readable result (${error.message}):\n${stderr}`))
      }
    })
  })
}

/** For child scripts: runs `main` and prints its result with toWire. */
export async function childMain(main) {
  const result = await main(process.argv.slice(2))
  process.stdout.write(toWire(result))
}
