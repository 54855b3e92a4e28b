// Writes Signal-shaped transactions and creds as fast as it can until it is killed.
//
// argv: <path> <durability>. It loads Baileys, prints LOADED and waits for a stdin line
// `GO <k> <window>`: k is the last transaction the file holds. It then opens the store and,
// for n = k+1, k+2, ..., issues (keeping up to `window` calls in flight):
//   - keys.set of transaction n, one call: the session of PEER at step n, pre-key n deleted,
//     pre-key n+PREKEYS added, sender-key n added, sender-key n-SENDER_KEYS deleted, and
//     every BIG_EVERY-th transaction also BIG_PEERS more sessions (a large call, encoded in
//     slices);
//   - saveCreds() with creds.accountSyncCounter = n;
// and prints `T <n>` / `C <n>` once each promise has resolved (written synchronously to
// stdout, so a printed line is a confirmed write). Before the first transaction it saves
// creds with the counter k, so that a confirmed `T n` always follows a committed creds n-1.
// Any rejection prints `E <code> <message>` and exits 3.
import { writeSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import { sessionRecord, senderKey, preKey } from './signal-shapes.mjs'

export const PEER = '5511999999999.0'
export const PREKEYS = 64
export const SENDER_KEYS = 1000
export const BIG_EVERY = 25
export const BIG_PEERS = 200
export const bigPeer = (i) => `5511888${String(i).padStart(6, '0')}.0`
export const senderKeyId = (n) => `120363${n}@g.us::5511999999999::0`

/** The one keys.set call of transaction n. */
export function transaction(n) {
  const session = { [PEER]: sessionRecord(n, PEER) }
  if (n % BIG_EVERY === 0) for (let i = 0; i < BIG_PEERS; i++) session[bigPeer(i)] = sessionRecord(n, bigPeer(i))
  const sender = { [senderKeyId(n)]: senderKey(n) }
  if (n > SENDER_KEYS) sender[senderKeyId(n - SENDER_KEYS)] = null
  return {
    session,
    'pre-key': { [n]: null, [n + PREKEYS]: preKey(n + PREKEYS) },
    'sender-key': sender,
  }
}

const say = (s) => writeSync(1, `${s}\n`)

async function main() {
  const [path, durability] = process.argv.slice(2)
  // Load everything first: a kill should land on store work, not on module loading.
  const { useRustAuthState } = await import('../../index.js')
  await import('baileys')
  say('LOADED')
  const go = await new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin })
    rl.once('line', (l) => {
      rl.close()
      resolve(l)
    })
  })
  const [, k, window] = go.split(' ').map(Number)
  const fail = (err) => {
    say(`E ${err?.code} ${String(err?.message).replace(/\n/g, ' ')}`)
    process.exit(3)
  }
  const { state, saveCreds } = await useRustAuthState(path, { durability })
  say('OPEN')
  const inflight = []
  state.creds.accountSyncCounter = k
  inflight.push(saveCreds().then(() => say(`C ${k}`), fail))
  for (let n = k + 1; ; n++) {
    inflight.push(state.keys.set(transaction(n)).then(() => say(`T ${n}`), fail))
    state.creds.accountSyncCounter = n
    inflight.push(saveCreds().then(() => say(`C ${n}`), fail))
    while (inflight.length > 2 * window) await inflight.shift()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    say(`E ${err?.code} ${err?.message}`)
    process.exit(3)
  })
}
