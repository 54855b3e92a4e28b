// One bot process of the failover test: drives some sessions of a shared store in Signal
// conversations whose other ends live in other processes.
// argv: <location> <identities JSON> <sessionIds comma-separated> [options JSON for useRustAuthState]
// First line: {"ready":true,"openMs":{...}} or, if a session is held elsewhere,
// {"refused":<code>,"session":...,"holder":...} (and the process exits).
// Then one JSON line (written with toWire) per stdin command, in order, carrying its `seq`:
//   {cmd:'register', name}                → {preKeys, creds}: what the server would hand out
//   {cmd:'start', from, to, bundle}       → {}: session started from `to`'s pre-key bundle
//   {cmd:'send', from, to, text}          → {type, ciphertext}: written once encryption committed
//   {cmd:'recv', to, from, type, ciphertext} → {text}
//   {cmd:'write', name, type, key, value}  → {}: a plain keys.set, for lease checks
//   {cmd:'exit'}                          → the stores are closed, then {closed:true}
// A failing command answers {error: <code or message>}.
import { createInterface } from 'node:readline'
import { writeSync } from 'node:fs'
import { encodeWAMessage, proto, unpadRandomMax16 } from 'baileys'

import { useRustAuthState } from '../../index.js'
import { fromWire, lidDirectory, makeParty, register, toWire, uploadPreKeys } from './signal.mjs'

// Synchronous: a line is in the pipe before the next step, so an answer seen by the test is
// one the process really gave before any kill.
const say = (value) => writeSync(1, `${toWire(value)}\n`)

const [location, identitiesJson, sessionList, optionsJson] = process.argv.slice(2)
const identities = JSON.parse(identitiesJson)
const options = optionsJson ? JSON.parse(optionsJson) : { leaseTtlMs: 2000 }
const directory = lidDirectory(identities)
const byName = new Map(identities.map((i) => [i.name, i]))

const stores = new Map()
const parties = new Map()
const openMs = {}
for (const sessionId of sessionList.split(',')) {
  const started = performance.now()
  try {
    stores.set(sessionId, await useRustAuthState(location, { ...options, sessionId }))
  } catch (err) {
    say({ refused: err.code ?? err.message, session: sessionId, holder: err.holder ?? null })
    await Promise.all([...stores.values()].map((s) => s.close()))
    process.exit(0)
  }
  openMs[sessionId] = Math.round(performance.now() - started)
  // A session registered by an earlier holder carries on as that device.
  const store = stores.get(sessionId)
  if (store.state.creds.me) parties.set(sessionId, makeParty(store, { name: sessionId, directory }))
}
say({ ready: true, openMs })

function party(name) {
  const p = parties.get(name)
  if (!p) throw new Error(`no registered party ${name} in this process`)
  return p
}

const commands = {
  async register({ name }) {
    const store = stores.get(name)
    await register(store, byName.get(name))
    const p = parties.get(name) ?? makeParty(store, { name, directory })
    parties.set(name, p)
    const preKeys = await uploadPreKeys(p, 4)
    // The public half of the identity: what a pre-key bundle is built from.
    const { registrationId, signedIdentityKey, signedPreKey } = p.creds
    return {
      preKeys,
      creds: {
        registrationId,
        signedIdentityKey: { public: signedIdentityKey.public },
        signedPreKey: { keyId: signedPreKey.keyId, keyPair: { public: signedPreKey.keyPair.public }, signature: signedPreKey.signature },
      },
    }
  },
  async start({ from, to, bundle }) {
    await party(from).repository.injectE2ESession({ jid: byName.get(to).jid, session: bundle })
    return {}
  },
  async send({ from, to, text }) {
    const { type, ciphertext } = await party(from).repository.encryptMessage({
      jid: byName.get(to).jid,
      data: encodeWAMessage({ conversation: text }),
    })
    return { type, ciphertext: Buffer.from(ciphertext).toString('base64') }
  },
  async recv({ to, from, type, ciphertext }) {
    const plaintext = await party(to).repository.decryptMessage({
      jid: byName.get(from).jid,
      type,
      ciphertext: Buffer.from(ciphertext, 'base64'),
    })
    return { text: proto.Message.decode(unpadRandomMax16(plaintext)).conversation }
  },
  async write({ name, type, key, value }) {
    await stores.get(name).state.keys.set({ [type]: { [key]: value } })
    return {}
  },
}

for await (const line of createInterface({ input: process.stdin })) {
  const command = fromWire(line)
  if (command.cmd === 'exit') break
  try {
    say({ seq: command.seq, ...(await commands[command.cmd](command)) })
  } catch (err) {
    say({ seq: command.seq, error: err.code ?? err.message })
  }
}
await Promise.all([...stores].map(([name, store]) => (parties.has(name) ? parties.get(name).close() : store.close())))
say({ closed: true })
process.stdin.destroy()
