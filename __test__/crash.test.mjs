// Crash torture: a child process writes Signal-shaped transactions and creds as fast as it
// can (helpers/crash-child.mjs) and is killed with SIGKILL at a random moment; the parent
// then checks the file from outside (PRAGMA integrity_check through better-sqlite3) and
// through useRustAuthState:
//   - the creds are complete and are still the same login (identity keys unchanged), and
//     their counter is at least the last confirmed saveCreds();
//   - every confirmed transaction is there, and the file holds exactly the effects of
//     transactions 1..k for one k >= the last confirmed: no transaction is half-applied
//     (every pre-key, sender-key and session id present is exactly the expected set, with
//     exactly the expected values) and none is applied out of order (creds n is committed
//     before transaction n+1).
// Each round resumes on the same file, so it accumulates history. Both durabilities run,
// 50 rounds each (in parallel); with BRA_HEAVY=1, 1000 rounds each (BRA_CRASH_ROUNDS=<n> sets
// another number). BRA_SEED=<n> replays a kill schedule (the seed is printed as a diagnostic).
// A kill lands while the store opens, 20-400 ms after it opened, or after 1-120 confirmed
// transactions; up to 16 calls are in flight, so kills also land inside group commits and
// inside a large call (every 25th transaction writes 200 more sessions) being encoded.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initAuthCreds } from 'baileys'
import { useRustAuthState } from '../index.js'
import { run, integrity, Database, NO_SQLITE } from './helpers/procs.mjs'
import { sessionRecord, sessionStep, senderKey, preKey, rng, heavy, seed } from './helpers/signal-shapes.mjs'
import { PEER, PREKEYS, SENDER_KEYS, BIG_EVERY, BIG_PEERS, bigPeer, senderKeyId } from './helpers/crash-child.mjs'

const ROUNDS = heavy ? 1000 : Number(process.env.BRA_CRASH_ROUNDS) || 50
const FRESH_ROUNDS = heavy ? 100 : 6
const CREDS_FIELDS = Object.keys(initAuthCreds())
// What identifies the login: if any of these changed, the phone would have to pair again.
const IDENTITY = ['noiseKey', 'pairingEphemeralKeyPair', 'signedIdentityKey', 'signedPreKey', 'registrationId', 'advSecretKey']

const range = (from, to) => Array.from({ length: Math.max(0, to - from + 1) }, (_, i) => from + i)
const sorted = (a) => [...a].sort()
async function collect(iterable) {
  const out = []
  for await (const x of iterable) out.push(x)
  return out
}

/** Checks the file after a kill; returns the transaction number k it holds. */
async function verify(path, durability, { prevK, lastT, lastC, identity }) {
  assert.equal(integrity(path), 'ok', 'PRAGMA integrity_check after the kill')
  const store = await useRustAuthState(path, { durability })
  try {
    const { creds, keys } = store.state
    for (const f of CREDS_FIELDS) assert.ok(f in creds, `creds lost the field ${f}`)
    for (const f of IDENTITY) assert.deepEqual(creds[f], identity[f], `creds.${f} changed: the login was lost`)

    const { [PEER]: record } = await keys.get('session', [PEER])
    const k = record === undefined ? 0 : sessionStep(record)
    if (record !== undefined) assert.deepEqual(record, sessionRecord(k, PEER), `session of transaction ${k} is damaged`)
    assert.ok(k >= lastT, `confirmed transaction ${lastT} was lost: the file holds transaction ${k}`)
    assert.ok(k >= prevK, `the file went back from transaction ${prevK} to ${k}`)

    // Transaction k+1 left no trace, transaction k left all of its effects.
    const probe = await keys.get('pre-key', [String(k), String(k + 1), String(k + PREKEYS), String(k + 1 + PREKEYS)])
    assert.ok(!(String(k) in probe), `transaction ${k} is half-applied: pre-key ${k} is still there`)
    assert.ok(String(k + PREKEYS) in probe, `transaction ${k} is half-applied: pre-key ${k + PREKEYS} is missing`)
    assert.ok(String(k + 1) in probe, `transaction ${k + 1} is half-applied: pre-key ${k + 1} was deleted`)
    assert.ok(!(String(k + 1 + PREKEYS) in probe), `transaction ${k + 1} is half-applied: pre-key ${k + 1 + PREKEYS} exists`)
    const next = await keys.get('sender-key', [senderKeyId(k + 1)])
    assert.deepEqual(Object.keys(next), [], `transaction ${k + 1} is half-applied: its sender-key exists`)

    // Everything else: exactly the keys transactions 1..k leave, with exactly their values.
    const preIds = await collect(keys.listIds('pre-key'))
    assert.deepEqual(sorted(preIds), sorted(range(k + 1, k + PREKEYS).map(String)), 'pre-key ids')
    const pre = await keys.get('pre-key', preIds)
    for (const id of preIds) assert.deepEqual(pre[id], preKey(Number(id)), `pre-key ${id}`)

    const skNumbers = range(Math.max(1, k - SENDER_KEYS + 1), k)
    const skIds = await collect(keys.listIds('sender-key'))
    assert.deepEqual(sorted(skIds), sorted(skNumbers.map(senderKeyId)), 'sender-key ids')
    const sk = await keys.get('sender-key', skIds)
    for (const n of skNumbers) {
      assert.ok(Buffer.isBuffer(sk[senderKeyId(n)]) && sk[senderKeyId(n)].equals(senderKey(n)), `sender-key of transaction ${n}`)
    }

    const m = Math.floor(k / BIG_EVERY) * BIG_EVERY
    const bigIds = m > 0 ? range(0, BIG_PEERS - 1).map(bigPeer) : []
    const sessionIds = await collect(keys.listIds('session'))
    assert.deepEqual(sorted(sessionIds), sorted(k > 0 ? [PEER, ...bigIds] : []), 'session ids')
    if (m > 0) {
      const big = await keys.get('session', bigIds)
      for (const id of bigIds) assert.deepEqual(big[id], sessionRecord(m, id), `session ${id} of transaction ${m}`)
    }
    // Creds: at least the last confirmed save, and at least the save issued just before the
    // last committed transaction (calls commit in the order they were made).
    const c = creds.accountSyncCounter
    assert.ok(c >= lastC, `confirmed creds ${lastC} were lost: the file holds creds ${c}`)
    assert.ok(c >= k - 1, `transaction ${k} was committed before the creds saved ahead of it (creds hold ${c})`)
    return { k, c }
  } finally {
    await store.close()
  }
}

const kill = (child) => {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
}

/** One file, `rounds` kills, each round resuming where the file is. */
async function torture(t, durability, rounds, laneSeed) {
  const random = rng(laneSeed)
  const dir = mkdtempSync(join(tmpdir(), `bra-crash-${durability}-`))
  const path = join(dir, 'auth.db')
  const spawnChild = () => run('crash-child.mjs', [path, durability])
  let next = null
  const stats = { rounds: 0, committed: 0, confirmed: 0, committedUnconfirmed: 0, creds: 0, credsAhead: 0, modes: {}, ms: { load: 0, run: 0, verify: 0 } }
  try {
    const first = await useRustAuthState(path, { durability })
    const preKeys = {}
    for (const id of range(1, PREKEYS)) preKeys[id] = preKey(id)
    await first.state.keys.set({ 'pre-key': preKeys })
    const identity = Object.fromEntries(IDENTITY.map((f) => [f, first.state.creds[f]])) // never changed again
    await first.close()

    let k = 0
    next = spawnChild()
    for (let round = 0; round < rounds; round++) {
      const child = next
      let t0 = performance.now()
      await child.line('LOADED', 120_000)
      stats.ms.load += performance.now() - t0
      t0 = performance.now()
      // The next child loads Baileys while this one runs: only the store work is timed.
      next = round + 1 < rounds ? spawnChild() : null
      const window = 1 + Math.floor(random() * 16)
      const pick = random()
      const mode = pick < 0.2 ? 'open' : pick < 0.6 ? 'time' : 'count'
      stats.modes[mode] = (stats.modes[mode] ?? 0) + 1
      let timer
      let target = 0
      const after = (ms) => (timer = setTimeout(() => kill(child), ms))
      if (mode === 'open') {
        after(random() * 250) // while the store opens, or just after
      } else if (mode === 'time') {
        const delay = 20 + random() * 380
        child.line('OPEN').then(() => after(delay), () => {})
      } else {
        target = 1 + Math.floor(random() * 120)
        let seen = 0
        child.onLine((l) => {
          if (l.startsWith('T ') && ++seen >= target) kill(child)
        })
      }
      // Whatever happens, a round ends: a writer that hangs is killed and reported below.
      const safety = setTimeout(() => kill(child), 90_000)
      child.stdin.write(`GO ${k} ${window}\n`)
      const { code, signal, stderr, lines } = await child.exited
      clearTimeout(timer)
      clearTimeout(safety)
      assert.ok(mode !== 'time' || lines.includes('OPEN'), `round ${round}: the store never opened: ${stderr}`)
      const confirmedHere = lines.filter((l) => l.startsWith('T ')).length
      assert.ok(mode !== 'count' || confirmedHere >= target, `round ${round}: the writer stalled after ${confirmedHere} transactions`)
      const errors = lines.filter((l) => l.startsWith('E '))
      assert.deepEqual(errors, [], `round ${round}: a call was rejected; stderr: ${stderr}`)
      assert.equal(signal, 'SIGKILL', `round ${round}: the writer ended by itself (code ${code}): ${stderr}`)

      const number = (prefix) => lines.filter((l) => l.startsWith(prefix)).map((l) => Number(l.slice(2)))
      const ts = number('T ')
      const cs = number('C ')
      const lastT = ts.length ? Math.max(...ts) : k
      const lastC = cs.length ? Math.max(...cs) : -1
      // Every confirmation is of a transaction this child issued.
      assert.ok(ts.every((n) => n > k), `round ${round}: a confirmation of an earlier round`)

      stats.ms.run += performance.now() - t0
      t0 = performance.now()
      const held = await verify(path, durability, { prevK: k, lastT, lastC, identity })
      stats.ms.verify += performance.now() - t0
      stats.rounds++
      stats.committed += held.k - k
      stats.confirmed += ts.length
      stats.creds += cs.length
      stats.committedUnconfirmed = Math.max(stats.committedUnconfirmed, held.k - lastT)
      // Creds newer than the last committed transaction: a save encoded after the call
      // (see concurrency.test.mjs, "saveCreds saves the creds as they are at the call").
      if (held.c > held.k) stats.credsAhead++
      k = held.k
    }
    t.diagnostic(
      `${durability}: ${stats.rounds} kills survived, ${k} transactions committed ` +
        `(${stats.confirmed} confirmed before a kill, ${stats.creds} creds saves confirmed), ` +
        `kill moments ${JSON.stringify(stats.modes)}, at most ${stats.committedUnconfirmed} committed but not yet confirmed at a kill, ` +
        `${stats.credsAhead} kills left creds saved ahead of the keys issued before them, ` +
        `writes lost: 0; time waiting for a loaded child / running / verifying: ` +
        `${Object.values(stats.ms).map((ms) => (ms / 1000).toFixed(1)).join(' / ')} s`,
    )
    return stats
  } finally {
    if (next) kill(next)
    rmSync(dir, { recursive: true, force: true })
  }
}

describe('SIGKILL at random moments loses nothing', { skip: Database ? false : NO_SQLITE, concurrency: 2 }, () => {
  for (const [i, durability] of ['normal', 'full'].entries()) {
    it(`durability '${durability}': ${ROUNDS} kills of a busy writer (seed ${seed})`, async (t) => {
      t.diagnostic(`seed ${seed} (replay the kill schedule with BRA_SEED=${seed})`)
      const stats = await torture(t, durability, ROUNDS, seed + i)
      assert.equal(stats.rounds, ROUNDS)
      assert.ok(stats.committed > 0, 'no transaction was ever committed: the kills came too early')
    })
  }
})

describe('SIGKILL while a new file is being created', { skip: Database ? false : NO_SQLITE }, () => {
  it(`leaves a file that opens, with complete creds (${FRESH_ROUNDS} kills)`, async (t) => {
    const random = rng(seed ^ 0x9e3779b9)
    const dir = mkdtempSync(join(tmpdir(), 'bra-crash-fresh-'))
    const children = []
    try {
      const paths = range(1, FRESH_ROUNDS).map((i) => join(dir, `fresh-${i}`, 'auth.db'))
      let spawned = 0
      const spawnNext = () => {
        const i = spawned++
        if (i < FRESH_ROUNDS) children[i] = run('crash-child.mjs', [paths[i], i % 2 ? 'full' : 'normal'])
      }
      spawnNext()
      spawnNext()
      let created = 0
      for (let i = 0; i < FRESH_ROUNDS; i++) {
        const child = children[i]
        await child.line('LOADED', 120_000)
        spawnNext()
        const timer = setTimeout(() => kill(child), random() * 200)
        child.stdin.write('GO 0 1\n')
        const { signal, stderr, lines } = await child.exited
        clearTimeout(timer)
        assert.deepEqual(lines.filter((l) => l.startsWith('E ')), [], stderr)
        assert.equal(signal, 'SIGKILL', stderr)
        if (existsSync(paths[i])) created++
        // A kill before the file switched to WAL can leave a hot rollback journal, which only a
        // read-write open (the store's) rolls back: the file is checked once the store opened it.
        const store = await useRustAuthState(paths[i])
        for (const f of CREDS_FIELDS) assert.ok(f in store.state.creds, `creds lost the field ${f}`)
        await store.state.keys.set({ 'pre-key': { 1: preKey(1) } })
        assert.deepEqual(await store.state.keys.get('pre-key', ['1']), { 1: preKey(1) })
        await store.close()
        assert.equal(integrity(paths[i]), 'ok')
      }
      t.diagnostic(`${FRESH_ROUNDS} kills during creation (${created} left a file behind); every file opened and worked`)
    } finally {
      for (const c of children) if (c) kill(c)
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
