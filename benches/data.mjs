// The benchmark's data, made by real Baileys and libsignal: session records grown by
// exchanging messages between local devices, key pairs from Curve.generateKeyPair, sender
// keys from group sends, LID mappings from Baileys' own LID store, creds shaped as a paired
// socket leaves them. Every store is fed the same values.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { deserialize } from 'node:v8'
import {
  BufferJSON,
  Curve,
  initAuthCreds,
  proto,
  generateSignalPubKey,
  WA_ADV_ACCOUNT_SIG_PREFIX,
  WA_ADV_DEVICE_SIG_PREFIX,
} from 'baileys'
import { makeDevice } from '../examples/signal-device.mjs'

const require = createRequire(import.meta.url)
const { encodeValue } = require('../lib/codec.js')

export const SIZES = {
  full: {
    preKeys: 812,
    chats: 12,
    steps: 2000,
    sessions: 500,
    creds: 1000,
    concurrency: 50,
    bulk: 100_000,
    messages: 200,
    groups: 24,
    lidPairs: 3000,
  },
  smoke: {
    preKeys: 12,
    chats: 2,
    steps: 20,
    sessions: 8,
    creds: 10,
    concurrency: 5,
    bulk: 400,
    messages: 8,
    groups: 2,
    lidPairs: 20,
  },
}

/** Session records are kept while their size, as the reference stores them, is in this range. */
const SESSION_BYTES = [1000, 5000]

/** An auth state held in memory, for the devices that only make data. */
export function memoryAuth() {
  const data = {}
  const keys = {
    async get(type, ids) {
      const out = {}
      for (const id of ids) {
        const v = data[type]?.[id]
        if (v !== undefined && v !== null) out[id] = v
      }
      return out
    },
    async set(update) {
      for (const type in update) {
        data[type] ??= {}
        for (const id in update[type]) {
          const v = update[type][id]
          if (v === null || v === undefined) delete data[type][id]
          else data[type][id] = v
        }
      }
    },
  }
  return { data, state: { creds: initAuthCreds(), keys }, saveCreds: async () => {} }
}

const referenceSize = (v) => JSON.stringify(v, BufferJSON.replacer).length
const phone = (n) => String(15550000000 + n)
const userJid = (n) => `${phone(n)}@s.whatsapp.net`
/** The Signal address libsignal stores a phone-number user's primary device under. */
export const sessionAddress = (n) => `${phone(n)}.0`

/**
 * One chat between a fresh pair of devices, messages alternating direction so that each one
 * is a ratchet step. Returns the successive records of the first device's session with the
 * second, while their size is in range (smoke: the first `limit` records, whatever their size).
 */
async function chatRecords(n, limit, smoke) {
  const me = makeDevice(userJid(0), memoryAuth())
  const peer = makeDevice(userJid(n), memoryAuth())
  await peer.publishPreKeys(1)
  await me.startSessionWith(peer)
  const address = sessionAddress(n)
  const records = []
  for (let i = 0; records.length < limit; i++) {
    const [from, to] = i % 2 ? [peer, me] : [me, peer]
    await to.receive(await from.send(to, `message ${i} of chat ${n}`))
    const record = structuredCloneWithBuffers(me.auth.data.session[address])
    const size = referenceSize(record)
    if (!smoke && size > SESSION_BYTES[1]) break
    if (smoke || size >= SESSION_BYTES[0]) records.push(record)
  }
  return { address, records }
}

/** The sender keys both sides of a group keep after one message each way. */
async function senderKeys(count) {
  const a = makeDevice(userJid(0), memoryAuth())
  const b = makeDevice(userJid(1), memoryAuth())
  for (let g = 0; g < count; g++) {
    const group = `1203630000000${String(g).padStart(5, '0')}@g.us`
    await b.receiveFromGroup(await a.sendToGroup(group, `hello group ${g}`))
    await a.receiveFromGroup(await b.sendToGroup(group, `hello back ${g}`))
  }
  return [...Object.values(a.auth.data['sender-key']), ...Object.values(b.auth.data['sender-key'])]
}

/** PN to LID mappings (and their reverse entries) as Baileys' LID store writes them. */
async function lidMappings(count) {
  const device = makeDevice(userJid(0), memoryAuth())
  const pairs = Array.from({ length: count }, (_, i) => ({
    pn: userJid(100_000 + i),
    lid: `${String(200000000000000 + i * 7919)}@lid`,
  }))
  await device.repository.lidMapping.storeLIDPNMappings(pairs)
  return Object.entries(device.auth.data['lid-mapping'])
}

/** Creds as a socket leaves them once paired: signed account identity, me, routing info. */
function pairedCreds(preKeys) {
  const creds = initAuthCreds()
  const account = Curve.generateKeyPair()
  const details = proto.ADVDeviceIdentity.encode({ rawId: 912345678, timestamp: 1764000000, keyIndex: 7 }).finish()
  const accountSignature = Curve.sign(
    account.private,
    Buffer.concat([WA_ADV_ACCOUNT_SIG_PREFIX, details, creds.signedIdentityKey.public]),
  )
  const signed = proto.ADVSignedDeviceIdentity.decode(
    proto.ADVSignedDeviceIdentity.encode({ details, accountSignatureKey: account.public, accountSignature }).finish(),
  )
  signed.deviceSignature = Curve.sign(
    creds.signedIdentityKey.private,
    Buffer.concat([WA_ADV_DEVICE_SIG_PREFIX, details, creds.signedIdentityKey.public, account.public]),
  )
  const lid = '204467093475401:12@lid'
  return Object.assign(creds, {
    account: signed,
    me: { id: `${phone(0)}:12@s.whatsapp.net`, lid, name: 'Bench bot' },
    signalIdentities: [{ identifier: { name: lid, deviceId: 0 }, identifierKey: generateSignalPubKey(account.public) }],
    platform: 'android',
    registered: true,
    routingInfo: Buffer.from('CAUIAggNCBI=', 'base64'),
    myAppStateKeyId: 'AAAAAFJm',
    lastAccountSyncTimestamp: 1764000000,
    accountSyncCounter: 1,
    nextPreKeyId: preKeys + 1,
    firstUnuploadedPreKeyId: preKeys + 1,
    lastPropHash: '2V77qU',
    processedHistoryMessages: [
      { key: { remoteJid: `${phone(0)}@s.whatsapp.net`, fromMe: true, id: '3EB0A1B2C3D4E5F60718' }, messageTimestamp: 1764000001 },
    ],
  })
}

/** The small change made to creds before save `i`, as socket events make them. */
export function mutateCreds(creds, i) {
  switch (i % 4) {
    case 0:
      creds.accountSyncCounter += 1
      break
    case 1:
      creds.lastAccountSyncTimestamp += 1
      break
    case 2:
      creds.nextPreKeyId += 1
      creds.firstUnuploadedPreKeyId = creds.nextPreKeyId
      break
    default:
      creds.me = { ...creds.me, name: `Bench bot ${i}` }
  }
  if (i % 100 === 99) {
    creds.processedHistoryMessages.push({
      key: { remoteJid: userJid(i), fromMe: false, id: `3EB0${String(i).padStart(16, '0')}` },
      messageTimestamp: 1764000000 + i,
    })
  }
}

/**
 * The data set of `SIZES[sizeName]`, made in a child process (`worker.mjs data`, without
 * the Rust limit's fixture), as the benchmark makes it. Making it runs Baileys' transaction
 * layer on dozens of devices, and each leaves an AsyncLocalStorage enabled for the rest of
 * its process (Node.js 20, 22): every promise made afterwards carries a property per
 * storage. Measured on Node.js 20.20.2, an `await` cost 0.1 µs in a new process and 8.8 µs
 * in one that had made the data. Scripts that time stores in their own process take the data
 * from here, so that they time them as the benchmark's workers do.
 */
export function dataFromChild(sizeName) {
  const dir = mkdtempSync(join(tmpdir(), 'bra-data-'))
  try {
    const worker = fileURLToPath(new URL('./worker.mjs', import.meta.url))
    const args = [worker, 'data', dir, sizeName, '--no-fixture']
    const run = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] })
    if (run.status !== 0) throw new Error(`making the data failed (${run.status ?? run.signal})`)
    return deserialize(readFileSync(join(dir, 'data.v8')))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Everything the workloads use; plain data, so it can cross to other processes. */
export async function generateData(sizes, smoke) {
  const preKeys = {}
  for (let id = 1; id <= sizes.preKeys; id++) preKeys[id] = Curve.generateKeyPair()

  // Sessions: several chats' successive records. W3 walks the chats round robin, each set
  // being the next ratchet state of its chat; W4 and the bulk store use them as distinct
  // sessions of many contacts.
  const perChat = Math.ceil(sizes.steps / sizes.chats)
  const chats = []
  for (let c = 0; c < sizes.chats; c++) chats.push(await chatRecords(c + 1, perChat, smoke))
  const steps = []
  for (let i = 0; i < sizes.steps; i++) {
    const chat = chats[i % sizes.chats]
    const k = Math.floor(i / sizes.chats)
    steps.push({ id: chat.address, value: chat.records[k % chat.records.length] })
  }
  const pool = chats.flatMap((c) => c.records)
  const sessionIds = Array.from({ length: sizes.sessions }, (_, i) => sessionAddress(1000 + i))
  const sessions = {}
  const sessionsNext = {}
  sessionIds.forEach((id, i) => {
    sessions[id] = pool[i % pool.length]
    sessionsNext[id] = pool[(i + 1) % pool.length]
  })
  // W3's single gets: the chats and the other stored sessions, interleaved.
  const readIds = [...chats.map((c) => c.address), ...sessionIds]
  const getIds = Array.from({ length: sizes.steps }, (_, i) => readIds[(i * 7) % readIds.length])

  return {
    preKeys,
    steps,
    sessions,
    sessionsNext,
    getIds,
    pool,
    creds: pairedCreds(sizes.preKeys),
    senderKeys: await senderKeys(sizes.groups),
    lidMappings: await lidMappings(sizes.lidPairs),
    sizes,
    smoke,
  }
}

/**
 * The bulk store of W6, `sizes.bulk` keys in `{ [type]: { [id]: value } }` chunks: mostly
 * sessions and pre-keys, some sender keys, LID mappings and device lists. Values repeat
 * from the pools under distinct ids.
 */
export function* bulkChunks(data, chunk = 2000) {
  const { bulk } = data.sizes
  const mix = [
    ['session', 0.5],
    ['pre-key', 0.35],
    ['sender-key', 0.05],
    ['lid-mapping', 0.06],
    ['device-list', 0.04],
  ]
  const preKeys = Object.values(data.preKeys)
  let n = 0
  for (const [type, share] of mix) {
    const count = type === 'device-list' ? bulk - n : Math.round(bulk * share)
    for (let start = 0; start < count; start += chunk) {
      const part = {}
      for (let i = start; i < Math.min(count, start + chunk); i++) {
        switch (type) {
          case 'session':
            part[sessionAddress(10_000 + i)] = data.pool[i % data.pool.length]
            break
          case 'pre-key':
            part[String(i + 1)] = preKeys[i % preKeys.length]
            break
          case 'sender-key':
            part[`1203630${String(i).padStart(11, '0')}@g.us::${phone(i % 500)}::0`] =
              data.senderKeys[i % data.senderKeys.length]
            break
          case 'lid-mapping': {
            const [id, value] = data.lidMappings[i % data.lidMappings.length]
            part[i < data.lidMappings.length ? id : `${id}~${i}`] = value
            break
          }
          default:
            part[phone(20_000 + i)] = ['0', String(1 + (i % 30)), String(40 + (i % 7))].slice(0, 1 + (i % 3))
        }
      }
      yield { [type]: part }
    }
    n += count
  }
}

/** The id W6 reads first: a session of the bulk store. */
export const bulkFirstId = (data) => sessionAddress(10_000 + Math.floor(data.sizes.bulk / 4))

// Groups of the Rust limit's fixture (benches/limit.rs).
const G = { PRE_KEYS: 1, CHAT_STEPS: 2, SESSIONS: 3, SESSIONS_NEXT: 4, CREDS: 5, GET_IDS: 6 }

/** The limit's input: the values of W1-W5 in wire form, as lib/codec.js encodes them. */
export async function writeLimitFixture(path, data) {
  const parts = [Buffer.from('BRALIMIT1\n')]
  const field = (bytes) => {
    const len = Buffer.alloc(4)
    len.writeUInt32LE(bytes.length)
    parts.push(len, bytes)
  }
  const record = async (group, type, id, value) => {
    // encodeValue returns a view of a shared buffer: copy before the next encode.
    const wire = value === undefined ? Buffer.alloc(0) : Buffer.from(await encodeValue(value))
    parts.push(Buffer.from([group]))
    field(Buffer.from(type))
    field(Buffer.from(id))
    field(wire)
  }
  for (const [id, v] of Object.entries(data.preKeys)) await record(G.PRE_KEYS, 'pre-key', id, v)
  for (const { id, value } of data.steps) await record(G.CHAT_STEPS, 'session', id, value)
  for (const [id, v] of Object.entries(data.sessions)) await record(G.SESSIONS, 'session', id, v)
  for (const [id, v] of Object.entries(data.sessionsNext)) await record(G.SESSIONS_NEXT, 'session', id, v)
  const creds = structuredCloneWithBuffers(data.creds)
  for (let i = 0; i < data.sizes.creds; i++) {
    mutateCreds(creds, i)
    await record(G.CREDS, 'creds', '', creds)
  }
  for (const id of data.getIds) await record(G.GET_IDS, 'session', id)
  writeFileSync(path, Buffer.concat(parts))
}

/** A deep copy that keeps Buffers as Buffers (structuredClone makes them Uint8Arrays). */
export function structuredCloneWithBuffers(v) {
  const { serialize, deserialize } = require('node:v8')
  return deserialize(serialize(v))
}
