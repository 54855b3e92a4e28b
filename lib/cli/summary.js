'use strict'
// What `inspect` shows of a session's creds. The creds hold private keys (identity, signed
// pre-key, noise key, pairing key, ADV secret): every field shown here is picked by name, and
// only public ones, so nothing secret can slip out as creds gain fields.

const { createHash } = require('node:crypto')

const DAY_MS = 86_400_000

const str = (v) => (typeof v === 'string' ? v : null)
const int = (v) => (Number.isInteger(v) ? v : null)

/** First 8 bytes of the SHA-256 of a public key, in hex: enough to compare two devices. */
function fingerprint(publicKey) {
  if (!(publicKey instanceof Uint8Array)) return null
  return createHash('sha256').update(publicKey).digest().subarray(0, 8).toString('hex')
}

/** The public facts of a session's creds. */
function credsSummary(creds, now = Date.now()) {
  const me = creds.me !== null && typeof creds.me === 'object' ? creds.me : null
  const spk = creds.signedPreKey !== null && typeof creds.signedPreKey === 'object' ? creds.signedPreKey : null
  const stamp = typeof spk?.timestampS === 'number' ? spk.timestampS * 1000 : null
  return {
    me: me === null ? null : { id: str(me.id), name: str(me.name), lid: str(me.lid) },
    registered: creds.registered === true,
    platform: str(creds.platform),
    registrationId: int(creds.registrationId),
    identityKeyFingerprint: fingerprint(creds.signedIdentityKey?.public),
    signedPreKey:
      spk === null
        ? null
        : {
            keyId: int(spk.keyId),
            createdAt: stamp === null ? null : new Date(stamp),
            ageDays: stamp === null ? null : Math.max(0, (now - stamp) / DAY_MS),
          },
    nextPreKeyId: int(creds.nextPreKeyId),
    firstUnuploadedPreKeyId: int(creds.firstUnuploadedPreKeyId),
  }
}

module.exports = { credsSummary, fingerprint }
