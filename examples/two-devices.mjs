// Two devices keep their Baileys auth state in ONE SQLite file (one session each), exchange
// end-to-end encrypted messages through Baileys' Signal layer, restart, and carry on.
//
//   node examples/two-devices.mjs [path/to/auth.db]
import { spawnSync } from 'node:child_process'
import { mkdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { useRustAuthState } from 'baileys-rust-auth'
import { makeDevice } from './signal-device.mjs'

const ALICE = '15550000001@s.whatsapp.net'
const BOB = '15550000002@s.whatsapp.net'
const GROUP = '120363000000000001@g.us'
const KEY_TYPES = ['pre-key', 'session', 'sender-key', 'sender-key-memory', 'identity-key', 'lid-mapping']

const [, , dbPath = join(tmpdir(), 'baileys-rust-auth-example', 'auth.db'), phase] = process.argv

async function open(sessionId, jid) {
  return makeDevice(jid, await useRustAuthState(dbPath, { sessionId }))
}

async function chat(alice, bob, round) {
  let ok = 0
  const check = (got, want) => {
    if (got !== want) throw new Error(`decrypted ${JSON.stringify(got)}, sent ${JSON.stringify(want)}`)
    ok++
  }
  for (let i = 0; i < 5; i++) {
    const a = `alice→bob #${i} (${round})`
    check(await bob.receive(await alice.send(bob, a)), a)
    const b = `bob→alice #${i} (${round})`
    check(await alice.receive(await bob.send(alice, b)), b)
  }
  for (const [from, to] of [[alice, bob], [bob, alice]]) {
    const text = `${from.jid.slice(0, 11)} to the group (${round})`
    check(await to.receiveFromGroup(await from.sendToGroup(GROUP, text)), text)
  }
  return ok
}

async function firstRun() {
  const alice = await open('alice', ALICE)
  const bob = await open('bob', BOB)
  await bob.publishPreKeys(30)
  await alice.startSessionWith(bob)
  console.log(`first run: ${await chat(alice, bob, 'before restart')} messages decrypted`)
  await Promise.all([alice.auth.close(), bob.auth.close()])
}

async function afterRestart() {
  const alice = await open('alice', ALICE)
  const bob = await open('bob', BOB)
  console.log(`after restart: ${await chat(alice, bob, 'after restart')} messages decrypted, same sessions`)
  await report(alice, bob)
  await Promise.all([alice.auth.close(), bob.auth.close()])
}

/** What the file holds: key counts per type, never key material. */
async function report(...devices) {
  console.log(`\n${dbPath}: ${statSync(dbPath).size} bytes`)
  for (const { jid, auth } of devices) {
    const { creds, keys } = auth.state
    console.log(`session of ${jid} (registrationId ${creds.registrationId})`)
    for (const type of KEY_TYPES) {
      let count = 0
      for await (const _ of keys.listIds(type)) count++
      if (count) console.log(`  ${type.padEnd(18)} ${String(count).padStart(4)} keys`)
    }
  }
}

if (phase === 'continue') {
  await afterRestart()
} else {
  // A fresh start: the store's own files only (SQLite keeps a WAL and a shared-memory file
  // beside it), never anything else in that folder.
  for (const suffix of ['', '-wal', '-shm']) rmSync(dbPath + suffix, { force: true })
  mkdirSync(dirname(dbPath), { recursive: true })
  await firstRun()
  // A real restart: a new process opens the same file.
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), dbPath, 'continue'], {
    stdio: 'inherit',
  })
  process.exitCode = child.status ?? 1
}
