// A local WhatsApp "device" for the example: Baileys' own Signal layer over an auth state,
// wired exactly as makeWASocket wires it, minus the network. Messages are handed from one
// device to another in memory.
import {
  addTransactionCapability,
  generateOrGetPreKeys,
  generateSignalPubKey,
  makeCacheableSignalKeyStore,
} from 'baileys'
// The Signal repository makeWASocket builds; Baileys does not re-export it from its root.
import { makeLibSignalRepository } from 'baileys/lib/Signal/libsignal.js'

/** A logger that drops everything (Baileys wants pino's interface). */
export const quietLogger = {
  level: 'silent',
  child: () => quietLogger,
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
  fatal() {},
}

/** The pre-key bundle the server hands out for a device: its identity, signed pre-key and `preKey`. */
export function preKeyBundle(creds, preKey) {
  return {
    registrationId: creds.registrationId,
    identityKey: generateSignalPubKey(creds.signedIdentityKey.public),
    signedPreKey: {
      keyId: creds.signedPreKey.keyId,
      publicKey: generateSignalPubKey(creds.signedPreKey.keyPair.public),
      signature: creds.signedPreKey.signature,
    },
    preKey,
  }
}

/**
 * Drives Baileys' Signal repository on `auth` ({ state, saveCreds }) as the device `jid`.
 * The key store is wrapped as makeWASocket wraps it: a cache, then transactions.
 */
export function makeDevice(jid, auth) {
  const { creds } = auth.state
  const keys = addTransactionCapability(
    makeCacheableSignalKeyStore(auth.state.keys, quietLogger),
    quietLogger,
    { maxCommitRetries: 10, delayBetweenTriesMs: 3000 },
  )
  // No server to ask for LID mappings: every lookup stays local.
  const repository = makeLibSignalRepository({ creds, keys }, quietLogger, async () => undefined)

  return {
    jid,
    auth,
    repository,

    /** Generates `count` pre-keys as Baileys does before uploading them, and saves creds. */
    async publishPreKeys(count) {
      const { newPreKeys, lastPreKeyId } = generateOrGetPreKeys(creds, count)
      await keys.set({ 'pre-key': newPreKeys })
      creds.nextPreKeyId = Math.max(lastPreKeyId + 1, creds.nextPreKeyId)
      creds.firstUnuploadedPreKeyId = creds.nextPreKeyId
      await auth.saveCreds()
    },

    /** The pre-key bundle the server would hand to a device starting a chat with this one. */
    async bundle() {
      const preKeyId = String(creds.firstUnuploadedPreKeyId - 1)
      const { [preKeyId]: preKey } = await keys.get('pre-key', [preKeyId])
      if (!preKey) throw new Error(`${jid} has no published pre-key left`)
      return preKeyBundle(creds, { keyId: Number(preKeyId), publicKey: generateSignalPubKey(preKey.public) })
    },

    /** Starts an end-to-end session with `other` from its bundle. */
    async startSessionWith(other) {
      await repository.injectE2ESession({ jid: other.jid, session: await other.bundle() })
    },

    /** Encrypts `text` for `to`; returns what would travel over the wire. */
    async send(to, text) {
      const { type, ciphertext } = await repository.encryptMessage({ jid: to.jid, data: Buffer.from(text) })
      return { from: jid, type, ciphertext }
    },

    /** Decrypts a 1:1 message. */
    async receive({ from, type, ciphertext }) {
      return Buffer.from(await repository.decryptMessage({ jid: from, type, ciphertext })).toString()
    },

    /** Encrypts `text` for a group; the sender-key distribution message goes along. */
    async sendToGroup(group, text) {
      const { ciphertext, senderKeyDistributionMessage } = await repository.encryptGroupMessage({
        group,
        meId: jid,
        data: Buffer.from(text),
      })
      return { group, from: jid, ciphertext, senderKeyDistributionMessage }
    },

    /** Decrypts a group message, first taking in the sender's key. */
    async receiveFromGroup({ group, from, ciphertext, senderKeyDistributionMessage }) {
      await repository.processSenderKeyDistributionMessage({
        item: { groupId: group, axolotlSenderKeyDistributionMessage: senderKeyDistributionMessage },
        authorJid: from,
      })
      const plain = await repository.decryptGroupMessage({ group, authorJid: from, msg: ciphertext })
      return Buffer.from(plain).toString()
    },
  }
}
