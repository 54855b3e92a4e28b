// Deterministic values shaped like what Baileys and libsignal store: a SessionRecord's
// serialize() output (JSON full of base64 keys, with counters), a sender-key record (a
// Buffer of JSON text) and a pre-key pair (two Buffers). The same arguments always give the
// same value, so a test can tell exactly which write a stored value came from.
/** `len` bytes derived from the parts, reproducibly (FNV-1a of the parts seeds xorshift). */
export function bytesOf(len, ...parts) {
  const text = parts.join('|')
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193)
  let x = h >>> 0 || 1
  const out = Buffer.allocUnsafe(len)
  for (let i = 0; i < len; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

const b64 = (len, ...parts) => bytesOf(len, ...parts).toString('base64')

/** libsignal's SessionRecord.serialize() for `peer`, at ratchet step `n`. */
export function sessionRecord(n, peer = 'peer') {
  const base = b64(33, 'base', peer)
  const chain = (i) => b64(33, 'chain', peer, n, i)
  const messageKeys = {}
  for (let i = 0; i < (n % 4); i++) messageKeys[n + i] = b64(32, 'mk', peer, n, i)
  return {
    _sessions: {
      [base]: {
        registrationId: 1000 + (n % 16000),
        currentRatchet: {
          ephemeralKeyPair: { pubKey: b64(33, 'eph-pub', peer, n), privKey: b64(32, 'eph-priv', peer, n) },
          lastRemoteEphemeralKey: b64(33, 'remote-eph', peer, n),
          previousCounter: Math.max(0, n - 1),
          rootKey: b64(32, 'root', peer, n),
        },
        indexInfo: {
          baseKey: base,
          baseKeyType: 1,
          closed: -1,
          used: 1700000000000 + n,
          created: 1700000000000,
          remoteIdentityKey: b64(33, 'identity', peer),
        },
        _chains: {
          [chain(0)]: { chainKey: { counter: n, key: b64(32, 'ck', peer, n, 0) }, chainType: 1, messageKeys: {} },
          [chain(1)]: { chainKey: { counter: n, key: b64(32, 'ck', peer, n, 1) }, chainType: 2, messageKeys },
        },
      },
    },
    version: 'v1',
  }
}

/** The ratchet step a sessionRecord was made for. */
export function sessionStep(record) {
  const entry = Object.values(record._sessions)[0]
  return Object.values(entry._chains)[0].chainKey.counter
}

/** A sender-key record as Baileys stores it: the JSON of SenderKeyRecord.serialize(), as a Buffer. */
export function senderKey(n) {
  const state = {
    senderKeyId: n,
    senderChainKey: { iteration: n % 2000, seed: b64(32, 'sk-seed', n) },
    senderSigningKey: { public: b64(33, 'sk-pub', n), private: b64(32, 'sk-priv', n) },
    senderMessageKeys: [],
  }
  return Buffer.from(JSON.stringify([state]), 'utf-8')
}

/** A pre-key pair as Baileys stores it. */
export function preKey(id) {
  return { public: bytesOf(32, 'pk-pub', id), private: bytesOf(32, 'pk-priv', id) }
}

/** mulberry32: a small seeded generator, so a failing schedule can be replayed. */
export function rng(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export const heavy = process.env.BRA_HEAVY === '1'

/** A seed from BRA_SEED, or a fresh one (log it: the run can be replayed with it). */
export const seed = Number(process.env.BRA_SEED) || Math.floor(Math.random() * 2 ** 31)
