// The session tools on real files, real processes and real Signal conversations: leases,
// backup under concurrent writes and restore, reset, JSON export and import, session listing
// and deletion, validation, health, metrics, creds debouncing and disposal.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { hostname, tmpdir } from 'node:os'
import { join } from 'node:path'

import {
  useRustAuthState,
  listSessions,
  deleteSession,
  backup,
  restore,
  exportJson,
  importJson,
  validate,
  health,
  resetSession,
  copySession,
  ErrorCode,
} from '../index.js'
import { Database, NO_SQLITE, run } from './helpers/procs.mjs'
import { converse, lidDirectory, makeParty, register, startSession, uploadPreKeys } from './helpers/signal.mjs'
import { dropRunData, POSTGRES_URL, REDIS_URL, RUN_PREFIX, RUN_SCHEMA, serverUp } from './helpers/servers.mjs'

const IDENTITIES = [
  { name: 'A', jid: '1111111111:1@s.whatsapp.net', lid: '101111111111111:1@lid' },
  { name: 'B', jid: '2222222222:2@s.whatsapp.net', lid: '102222222222222:2@lid' },
]
const GROUP = '120363000000000001@g.us'

// Servers for the cross-backend copy; when one is missing, serverUp says how to start it.
const SERVERS = [serverUp('postgres'), serverUp('redis')].every(Boolean)

let dir
before(() => (dir = mkdtempSync(join(tmpdir(), 'bra-tools-'))))
after(() => rmSync(dir, { recursive: true, force: true }))

const rejectsWith = (promise, code) => assert.rejects(promise, (err) => err.code === code || assert.fail(`${err.code}: ${err.message}`))

/** Two registered parties in sessions A and B of one file, with a conversation under way. */
async function conversation(path) {
  const directory = lidDirectory(IDENTITIES)
  const parties = []
  const offered = {}
  for (const identity of IDENTITIES) {
    const store = await useRustAuthState(path, { sessionId: identity.name })
    await register(store, identity)
    const party = makeParty(store, { name: identity.name, directory })
    party.store = store
    offered[identity.name] = await uploadPreKeys(party, 3)
    parties.push(party)
  }
  await startSession(parties[0], parties[1], offered.B[0])
  return { parties, directory }
}

const plan = (label, rounds) => ({ label, rounds, group: GROUP, groupSenders: ['A', 'B'] })
const allDecrypted = (log) => {
  assert.ok(log.length > 0)
  for (const e of log) assert.equal(e.received, e.sent, `${e.from}→${e.to} ${e.type}`)
}

describe('backup and restore', () => {
  it('backs up while a conversation writes; the restored file validates and the conversation continues', async (t) => {
    const path = join(dir, 'live.db')
    const { parties, directory } = await conversation(path)
    allDecrypted(await converse(parties, plan('before', 2)))
    // Bulk, so that the copy takes several steps while the conversation writes.
    const filler = {}
    for (let i = 0; i < 6000; i++) filler[`filler-${i}`] = Buffer.alloc(2000, i % 251)
    await parties[0].store.state.keys.set({ 'sender-key': filler })

    const dest = join(dir, 'live-backup.db')
    const progress = []
    const during = []
    const copying = backup(path, dest, { onProgress: (p) => progress.push(p) })
    let copied = false
    copying.then(() => (copied = true))
    let rounds = 0
    while (!copied || rounds === 0) {
      during.push(...(await converse(parties, plan(`during ${rounds}`, 1))))
      rounds++
      // A bot waits for the network between messages. This conversation never does, and its
      // calls mostly resolve at once: without a turn of the event loop here it would hold
      // back every timer and completion (the backup's included) for seconds.
      await new Promise(setImmediate)
    }
    const result = await copying
    allDecrypted(during)
    t.diagnostic(`${during.length} messages during the backup; ${progress.length} progress reports; ${result.bytes} bytes in ${result.ms} ms`)
    assert.ok(progress.length >= 1)
    const last = progress.at(-1)
    assert.equal(last.done, last.total)
    assert.ok(!existsSync(`${dest}.partial`))
    for (const p of parties) await p.close()

    // Restored to a new file: both sessions validate and talk on from the snapshot.
    const restored = join(dir, 'restored.db')
    const outcome = await restore(dest, restored)
    assert.equal(outcome.sessions, 2)
    assert.equal(outcome.backup, null, 'nothing to keep: the file was new')
    for (const { name } of IDENTITIES) {
      const report = await validate(restored, { sessionId: name })
      assert.equal(report.ok, true, JSON.stringify(report))
      assert.equal((await health(restored, { sessionId: name })).integrity, 'ok')
    }
    const again = []
    for (const identity of IDENTITIES) {
      const store = await useRustAuthState(restored, { sessionId: identity.name })
      again.push(makeParty(store, { name: identity.name, directory }))
    }
    allDecrypted(await converse(again, plan('after restore', 2)))
    for (const p of again) await p.close()
  })

  it('restores over an existing store in place, keeping what it replaced, and refuses while a session is open', async () => {
    const path = join(dir, 'in-place.db')
    const first = await useRustAuthState(path)
    await first.state.keys.set({ session: { kept: { v: 1 } } })
    const dest = join(dir, 'in-place-backup.db')
    await backup(path, dest)
    await rejectsWith(backup(path, dest), ErrorCode.ERR_INVALID_ARGUMENT) // never overwrites
    await first.state.keys.set({ session: { kept: null, later: { v: 2 } } })
    await rejectsWith(restore(dest, path), ErrorCode.ERR_SESSION_LOCKED)
    await first.close()

    const { backup: before } = await restore(dest, path)
    assert.ok(before && existsSync(before), 'the replaced content was kept')
    const back = await useRustAuthState(path)
    assert.deepEqual(await back.state.keys.get('session', ['kept', 'later']), { kept: { v: 1 } })
    await back.close()
    const undo = await useRustAuthState(before, { lease: false })
    assert.deepEqual(await undo.state.keys.get('session', ['kept', 'later']), { later: { v: 2 } })
    await undo.close()
  })
})

describe('the session lease', { timeout: 120_000 }, () => {
  it('refuses a second open in this process, names the holder, and allows it with lease: false', async () => {
    const path = join(dir, 'same-process.db')
    const a = await useRustAuthState(path)
    const err = await useRustAuthState(path).catch((e) => e)
    assert.equal(err.code, ErrorCode.ERR_SESSION_LOCKED)
    assert.deepEqual([err.holder.pid, err.holder.host], [process.pid, hostname()])
    assert.ok(err.holder.since instanceof Date)
    const other = await useRustAuthState(path, { sessionId: 'other' }) // other sessions are free
    const reader = await useRustAuthState(path, { lease: false })
    await Promise.all([other.close(), reader.close(), a.close()])
    await (await useRustAuthState(path)).close() // released on close
  })

  it('across processes: refused while held, taken over on request, freed at once when the holder is killed', async () => {
    const path = join(dir, 'processes.db')
    await (await useRustAuthState(path)).close()
    const holder = run('lease-child.mjs', [path, 'default'])
    try {
      await holder.line('OPEN')
      const err = await useRustAuthState(path).catch((e) => e)
      assert.equal(err.code, ErrorCode.ERR_SESSION_LOCKED)
      assert.equal(err.holder.pid, holder.pid)
      assert.match(err.message, new RegExp(`process ${holder.pid} on `))

      // Taken over: the old holder's next write fails and writes nothing.
      const taker = await useRustAuthState(path, { takeover: true })
      holder.stdin.write('WRITE 1\n')
      assert.equal(await holder.line('E 1'), `E 1 ${ErrorCode.ERR_LEASE_LOST}`)
      assert.deepEqual(await taker.state.keys.get('session', ['child-1']), {})
      await taker.close()
      holder.stdin.write('EXIT\n')
      await holder.exited
    } finally {
      holder.kill('SIGKILL')
    }

    const crashed = run('lease-child.mjs', [path, 'default'])
    await crashed.line('OPEN')
    crashed.stdin.write('WRITE 2\n')
    await crashed.line('OK 2')
    crashed.kill('SIGKILL')
    await crashed.exited
    const started = performance.now()
    const next = await useRustAuthState(path)
    assert.ok(performance.now() - started < 2000, 'a dead holder on this host does not block')
    assert.deepEqual(await next.state.keys.get('session', ['child-2']), { 'child-2': { n: 2 } })
    await next.close()
  })

  it("waits out a holder on another host until its lease lapses", { skip: Database ? false : NO_SQLITE }, async () => {
    const path = join(dir, 'other-host.db')
    await (await useRustAuthState(path)).close()
    const db = new Database(path)
    const now = Date.now()
    db.prepare('INSERT INTO lease VALUES (?, ?, ?, ?, ?, ?, ?)').run('default', 'remote', 4242, 'elsewhere.example', now, now, 1500)
    db.close()
    const err = await useRustAuthState(path).catch((e) => e)
    assert.equal(err.code, ErrorCode.ERR_SESSION_LOCKED)
    assert.deepEqual([err.holder.pid, err.holder.host], [4242, 'elsewhere.example'])
    const [listed] = await listSessions(path)
    assert.equal(listed.holder.live, true)
    await new Promise((r) => setTimeout(r, 1600))
    await (await useRustAuthState(path)).close()
  })

  it('gives the lease back when a store is dropped without close() and collected', async () => {
    const path = join(dir, 'dropped.db')
    const src = `const { useRustAuthState } = require(${JSON.stringify(new URL('../index.js', import.meta.url).pathname)});
      (async () => {
        await useRustAuthState(${JSON.stringify(path)}, { leaseTtlMs: 200 }) // dropped at once
        for (let i = 0; i < 100; i++) {
          globalThis.gc()
          await new Promise((r) => setTimeout(r, 50))
          const again = await useRustAuthState(${JSON.stringify(path)}).catch((e) => e)
          if (again.code === undefined) return console.log('REOPENED ' + i), await again.close()
          if (again.code !== 'ERR_SESSION_LOCKED') throw again
        }
        console.log('STILL LOCKED')
      })()`
    const r = spawnSync(process.execPath, ['--expose-gc', '-e', src], { encoding: 'utf8', timeout: 60_000 })
    assert.match(r.stdout, /^REOPENED \d+$/m, r.stdout + r.stderr)
  })

  it('tells a holder that was taken over, even through saveCreds() of unchanged creds', async () => {
    const path = join(dir, 'taken.db')
    const a = await useRustAuthState(path, { leaseTtlMs: 300 })
    const b = await useRustAuthState(path, { takeover: true })
    await new Promise((r) => setTimeout(r, 250)) // a's renewal runs and finds the lease gone
    await rejectsWith(a.saveCreds(), ErrorCode.ERR_LEASE_LOST)
    await rejectsWith(a.state.keys.set({ session: { x: { from: 'a' } } }), ErrorCode.ERR_LEASE_LOST)
    await b.state.keys.set({ session: { x: { from: 'b' } } })
    await Promise.all([a.close(), b.close()])
  })

  it('keeps a short lease alive by renewing it', async () => {
    const path = join(dir, 'renew.db')
    const a = await useRustAuthState(path, { leaseTtlMs: 300 })
    await new Promise((r) => setTimeout(r, 900))
    await rejectsWith(useRustAuthState(path), ErrorCode.ERR_SESSION_LOCKED)
    await a.state.keys.set({ session: { x: { ok: true } } })
    await a.close()
  })
})

describe('sessions, export and import, reset', () => {
  it('refuses the writes of a store whose session was deleted while it was open without a lease', async (t) => {
    const places = [[join(dir, 'deleted.db'), {}]]
    if (serverUp('postgres')) places.push([POSTGRES_URL, { schema: RUN_SCHEMA }])
    if (serverUp('redis')) places.push([REDIS_URL, { prefix: RUN_PREFIX }])
    if (places.length === 1) t.diagnostic('PostgreSQL or Redis is not running: checked on a file only')
    for (const [where, server] of places) {
      const sessionId = `deleted-${process.pid}`
      const open = await useRustAuthState(where, { ...server, sessionId, lease: false })
      await open.state.keys.set({ 'pre-key': { 1: { public: Buffer.alloc(32, 1) } } })
      assert.equal((await deleteSession(where, sessionId, { ...server, backup: false })).deleted, true)
      // Neither keys nor creds bring back a session without its pre-keys; one at a time (on
      // this thread for a file) and together (through the storage thread).
      await rejectsWith(open.state.keys.set({ 'pre-key': { 2: { public: Buffer.alloc(32, 2) } } }), ErrorCode.ERR_SESSION_NOT_FOUND)
      open.state.creds.registrationId = 4242
      await rejectsWith(open.saveCreds(), ErrorCode.ERR_SESSION_NOT_FOUND)
      const both = [open.state.keys.set({ 'pre-key': { 3: { public: Buffer.alloc(32, 3) } } }), open.state.keys.set({ session: { a: { x: 1 } } })]
      for (const p of both) await rejectsWith(p, ErrorCode.ERR_SESSION_NOT_FOUND)
      assert.ok(!(await listSessions(where, server)).some((s) => s.sessionId === sessionId), where)
      await open.close()
      const again = await useRustAuthState(where, { ...server, sessionId })
      assert.notEqual(again.state.creds.registrationId, 4242)
      assert.deepEqual(await again.state.keys.get('pre-key', ['1', '2']), {})
      await again.close()
      await deleteSession(where, sessionId, { ...server, backup: false })
    }
  })

  it('never lets such a store write into a session made after its own, nor into a restored other making of it', async (t) => {
    const places = [[join(dir, 'made-again.db'), {}]]
    if (serverUp('postgres')) places.push([POSTGRES_URL, { schema: RUN_SCHEMA }])
    if (serverUp('redis')) places.push([REDIS_URL, { prefix: RUN_PREFIX }])
    if (places.length === 1) t.diagnostic('PostgreSQL or Redis is not running: checked on a file only')
    const key = (n) => ({ public: Buffer.alloc(32, n) })
    for (const [where, server] of places) {
      const [old, other] = [`old-${process.pid}`, `other-${process.pid}`]
      const stale = await useRustAuthState(where, { ...server, sessionId: old, lease: false })
      await stale.state.keys.set({ 'pre-key': { 1: key(1) } })
      await deleteSession(where, old, { ...server, backup: false })
      // On a file, this session once took the deleted one's row id.
      const next = await useRustAuthState(where, { ...server, sessionId: other })
      await next.state.keys.set({ 'pre-key': { 1: key(7) } })
      const again = await useRustAuthState(where, { ...server, sessionId: old })
      await again.state.keys.set({ 'pre-key': { 2: key(8) } })
      await rejectsWith(stale.state.keys.set({ 'pre-key': { 9: key(9) } }), ErrorCode.ERR_SESSION_NOT_FOUND)
      await rejectsWith(stale.state.keys.set({ 'pre-key': { 1: key(9) } }), ErrorCode.ERR_SESSION_NOT_FOUND)
      assert.deepEqual(await next.state.keys.get('pre-key', ['1', '9']), { 1: key(7) })
      assert.deepEqual(await again.state.keys.get('pre-key', ['1', '2', '9']), { 2: key(8) })
      assert.deepEqual(await stale.state.keys.get('pre-key', ['1', '2', '9']), {}, where)
      for (const s of [stale, next, again]) await s.close()
      for (const id of [old, other]) await deleteSession(where, id, { ...server, backup: false })
    }

    // A restore brings another making of the session (made elsewhere, later) under a store
    // still open on it without a lease.
    const live = join(dir, 'restored-under.db')
    const elsewhere = join(dir, 'made-elsewhere.db')
    const stale = await useRustAuthState(live, { sessionId: 'r', lease: false })
    await stale.state.keys.set({ 'pre-key': { 1: key(1) } })
    await new Promise((r) => setTimeout(r, 5))
    const made = await useRustAuthState(elsewhere, { sessionId: 'r' })
    await made.state.keys.set({ 'pre-key': { 5: key(5) } })
    await made.close()
    const dest = join(dir, 'made-elsewhere.bak')
    await backup(elsewhere, dest)
    await restore(dest, live, { backup: false })
    await rejectsWith(stale.state.keys.set({ 'pre-key': { 9: key(9) } }), ErrorCode.ERR_SESSION_NOT_FOUND)
    assert.deepEqual(await stale.state.keys.get('pre-key', ['1', '5']), {})
    await stale.close()
    const reopened = await useRustAuthState(live, { sessionId: 'r' })
    assert.deepEqual(await reopened.state.keys.get('pre-key', ['1', '5', '9']), { 5: key(5) })
    await reopened.close()
  })

  it('lists sessions and deletes one, with a backup, refusing while it is open', async () => {
    const path = join(dir, 'many.db')
    for (const sessionId of ['zed', 'amy', 'bob']) {
      const s = await useRustAuthState(path, { sessionId })
      await s.state.keys.set({ 'pre-key': { 1: { public: Buffer.alloc(32, 1), private: Buffer.alloc(32, 2) } } })
      await s.close()
    }
    const listed = await listSessions(path)
    assert.deepEqual(listed.map((s) => s.sessionId), ['amy', 'bob', 'zed'])
    assert.ok(listed.every((s) => s.hasCreds && s.keys === 1 && s.holder === null && s.createdAt instanceof Date))
    const open = await useRustAuthState(path, { sessionId: 'bob' })
    await rejectsWith(deleteSession(path, 'bob'), ErrorCode.ERR_SESSION_LOCKED)
    await open.close()
    const { deleted, backup: kept } = await deleteSession(path, 'bob')
    assert.equal(deleted, true)
    assert.ok(existsSync(kept))
    assert.deepEqual((await listSessions(path)).map((s) => s.sessionId), ['amy', 'zed'])
    assert.deepEqual(await deleteSession(path, 'bob', { backup: false }), { deleted: false, backup: null })
    assert.deepEqual((await listSessions(kept)).map((s) => s.sessionId), ['amy', 'bob', 'zed'])
    await rejectsWith(listSessions(join(dir, 'absent.db')), ErrorCode.ERR_CANNOT_OPEN)
    assert.ok(!existsSync(join(dir, 'absent.db')), 'a tool never creates a store')
  })

  it('exports a session as BufferJSON and imports it elsewhere, idempotently, refusing another device', async () => {
    const path = join(dir, 'export.db')
    const { parties, directory } = await conversation(path)
    allDecrypted(await converse(parties, plan('before export', 2)))
    for (const p of parties) await p.close()
    const target = join(dir, 'imported.db')
    for (const { name } of IDENTITIES) {
      const json = await exportJson(path, { sessionId: name })
      assert.match(json, /"type":"Buffer"/)
      const first = await importJson(json, target)
      assert.equal(first.sessionId, name)
      assert.deepEqual(await importJson(json, target), first, 'a second import changes nothing')
    }
    // The imported sessions carry the conversation on.
    const moved = []
    for (const identity of IDENTITIES) {
      moved.push(makeParty(await useRustAuthState(target, { sessionId: identity.name }), { name: identity.name, directory }))
    }
    allDecrypted(await converse(moved, plan('after import', 2)))
    for (const p of moved) await p.close()

    const a = await exportJson(path, { sessionId: 'A' })
    await rejectsWith(importJson(a, target, { sessionId: 'B' }), ErrorCode.ERR_SESSION_EXISTS)
    await importJson(a, target, { sessionId: 'B', overwrite: true })
    await rejectsWith(importJson(a.slice(0, a.length / 2), target), ErrorCode.ERR_INVALID_SOURCE)
    await rejectsWith(importJson('{"format":"other"}', target), ErrorCode.ERR_INVALID_SOURCE)
    await rejectsWith(exportJson(path, { sessionId: 'nobody' }), ErrorCode.ERR_SESSION_NOT_FOUND)
  })

  it('copies a session to another store, verified, and the conversation carries on from the copy', async () => {
    const path = join(dir, 'copy-from.db')
    const { parties, directory } = await conversation(path)
    allDecrypted(await converse(parties, plan('before copy', 2)))
    for (const p of parties) await p.close()
    const target = join(dir, 'copy-to.db')
    const copied = await copySession(path, target, { sessionId: 'A' })
    assert.equal(copied.verified, true)
    assert.ok(copied.counts.session >= 1 && copied.counts['pre-key'] >= 1, JSON.stringify(copied.counts))
    await rejectsWith(copySession(path, target, { sessionId: 'B', toSessionId: 'A' }), ErrorCode.ERR_SESSION_EXISTS)
    const moved = [
      makeParty(await useRustAuthState(target, { sessionId: 'A' }), { name: 'A', directory }),
      makeParty(await useRustAuthState(path, { sessionId: 'B' }), { name: 'B', directory }),
    ]
    allDecrypted(await converse(moved, plan('after copy', 2)))
    for (const p of moved) await p.close()
  })

  it('copies a session file → PostgreSQL → Redis → file, verified each time; the conversation carries on from the last copy', { skip: SERVERS ? false : 'needs PostgreSQL and Redis' }, async (t) => {
    t.after(dropRunData)
    const path = join(dir, 'hop-from.db')
    const { parties, directory } = await conversation(path)
    allDecrypted(await converse(parties, plan('before the hops', 2)))
    for (const p of parties) await p.close()
    const pg = { schema: RUN_SCHEMA }
    const redis = { prefix: RUN_PREFIX }
    const back = join(dir, 'hop-back.db')
    await copySession(path, POSTGRES_URL, { sessionId: 'A', target: pg })
    await copySession(POSTGRES_URL, REDIS_URL, { sessionId: 'A', source: pg, target: redis })
    const last = await copySession(REDIS_URL, back, { sessionId: 'A', source: redis })
    assert.equal(last.verified, true)
    const moved = [
      makeParty(await useRustAuthState(back, { sessionId: 'A' }), { name: 'A', directory }),
      makeParty(await useRustAuthState(path, { sessionId: 'B' }), { name: 'B', directory }),
    ]
    allDecrypted(await converse(moved, plan('after the hops', 2)))
    for (const p of moved) await p.close()
  })

  it('resets a logged-out session: a backup first, then fresh creds and no keys', async () => {
    const path = join(dir, 'reset.db')
    const auth = await useRustAuthState(path)
    await register(auth, IDENTITIES[0])
    await auth.state.keys.set({ session: { s: { v: 1 } } })
    const oldIdentity = Buffer.from(auth.state.creds.signedIdentityKey.public)
    const { backup: kept } = await auth.resetSession()
    assert.ok(existsSync(kept))
    assert.equal(auth.state.creds.registered, false)
    assert.equal(auth.state.creds.me, undefined)
    assert.ok(!oldIdentity.equals(Buffer.from(auth.state.creds.signedIdentityKey.public)), 'new identity')
    assert.deepEqual(await auth.state.keys.get('session', ['s']), {})
    await auth.close()
    const reopened = await useRustAuthState(path)
    assert.equal(reopened.state.creds.registered, false)
    await reopened.close()
    const old = await useRustAuthState(kept, { lease: false })
    assert.ok(oldIdentity.equals(Buffer.from(old.state.creds.signedIdentityKey.public)), 'the backup has the old login')
    assert.deepEqual(await old.state.keys.get('session', ['s']), { s: { v: 1 } })
    await old.close()
    // At rest, under the lease.
    const busy = await useRustAuthState(path)
    await rejectsWith(resetSession(path), ErrorCode.ERR_SESSION_LOCKED)
    await busy.close()
    assert.ok((await resetSession(path, { backup: false })).backup === null)
  })
})

describe('validation and health', () => {
  it('reports registration, keys and values that are malformed or do not decode', { skip: Database ? false : NO_SQLITE }, async () => {
    const path = join(dir, 'validate.db')
    const auth = await useRustAuthState(path)
    let report = await auth.validate()
    assert.equal(report.ok, false)
    assert.ok(report.warnings.some((w) => /not registered/.test(w)))
    await register(auth, IDENTITIES[0])
    await auth.state.keys.set({ 'pre-key': { 1: { public: Buffer.alloc(32, 1), private: Buffer.alloc(32, 2) } } })
    report = await auth.validate()
    assert.equal(report.ok, true, JSON.stringify(report))
    assert.equal(report.me, IDENTITIES[0].jid)
    assert.equal(report.preKeys, 1)
    assert.ok(report.signedPreKey.present && report.signedPreKey.ageDays < 1)
    await auth.state.keys.set({ 'pre-key': { 2: { public: 'x' } }, 'lid-mapping': { 3: 'ok' } })
    await auth.close()
    const db = new Database(path)
    db.prepare("UPDATE key SET value = x'ff00' WHERE type = 'lid-mapping'").run()
    db.close()
    report = await validate(path)
    assert.equal(report.ok, false)
    assert.deepEqual(
      report.problems.map((p) => [p.type, p.id, p.problem.split(':')[0]]),
      [
        ['lid-mapping', '3', 'does not decode'],
        ['pre-key', '2', 'expected a key pair of 32-byte public and private keys'],
      ],
    )
    const h = await health(path)
    assert.equal(h.integrity, 'ok')
    assert.deepEqual(Object.keys(h.counts), ['lid-mapping', 'pre-key'])
    assert.equal(h.keys, 3)
    assert.ok(h.fileBytes > 0 && h.lastWriteAt instanceof Date)
  })

  it("reports an open store's health while its calls go on, from a connection of its own", async () => {
    const path = join(dir, 'health-open.db')
    const auth = await useRustAuthState(path, { sessionId: 'live' })
    await auth.state.keys.set({ session: { a: { v: 1 } }, 'pre-key': { 1: { public: Buffer.alloc(32, 1), private: Buffer.alloc(32, 2) } } })
    const writes = Array.from({ length: 50 }, (_, i) => auth.state.keys.set({ session: { [`s${i}`]: { v: i } } }))
    const [h] = await Promise.all([auth.health(), ...writes])
    assert.equal(h.sessionId, 'live')
    assert.equal(h.exists, true)
    assert.equal(h.hasCreds, true)
    assert.equal(h.integrity, 'ok')
    assert.equal(h.counts['pre-key'].count, 1)
    // Writes made with it may or may not have committed when it looked; never more.
    assert.ok(h.counts.session.count >= 1 && h.counts.session.count <= 51, JSON.stringify(h.counts))
    assert.equal(h.holder.pid, process.pid, 'the store holds its lease')
    assert.equal((await auth.health()).counts.session.count, 51)
    await auth.close()
  })
})

describe('metrics, creds debouncing, disposal, logging', () => {
  it('counts calls, keys, bytes, errors and latencies, also as Prometheus text', async () => {
    const path = join(dir, 'metrics.db')
    const auth = await useRustAuthState(path, { sessionId: 'm' })
    const { keys } = auth.state
    await keys.set({ session: { a: { v: 1 }, b: { v: 2 } }, 'pre-key': { 1: null } })
    await keys.get('session', ['a', 'b', 'c'])
    await keys.get('session', ['a'])
    await assert.rejects(keys.get('', ['a']))
    await new Promise((r) => setImmediate(r))
    const m = auth.metrics()
    const get = m.operations.find((o) => o.op === 'get' && o.type === 'session')
    assert.deepEqual([get.calls, get.items, get.errors], [2, 4, 0])
    assert.ok(get.bytes > 0 && get.seconds.sum > 0)
    assert.equal(get.seconds.buckets.at(-1).count, 2)
    const set = m.operations.find((o) => o.op === 'set')
    assert.deepEqual([set.calls, set.items], [1, 3])
    assert.equal(m.errors.ERR_INVALID_ARGUMENT, 1)
    const text = auth.metricsText()
    for (const line of text.trim().split('\n')) {
      assert.match(line, /^(# (HELP|TYPE) \w+ .+|\w+\{[^}]*\} [\d.e+-]+)$/, line)
    }
    assert.match(text, /baileys_auth_calls_total\{session="m",op="get",type="session"\} 2/)
    assert.match(text, /baileys_auth_call_duration_seconds_bucket\{session="m",op="get",type="session",le="\+Inf"\} 2/)
    assert.match(text, /baileys_auth_errors_total\{session="m",code="ERR_INVALID_ARGUMENT"\} 1/)
    await auth.close()
  })

  it('counts writes made together, committed as one, and their failures', async () => {
    const path = join(dir, 'metrics-together.db')
    const a = await useRustAuthState(path, { sessionId: 't' })
    const setsOf = (auth) => auth.metrics().operations.find((o) => o.op === 'set') ?? { calls: 0, items: 0, errors: 0 }
    const together = (auth, n) => Promise.allSettled(Array.from({ length: n }, (_, i) => auth.state.keys.set({ session: { [`s${i}`]: { i }, [`t${i}`]: null } })))
    try {
      // Read in the turn they settle: each is counted by then, as a write awaited alone is.
      const done = await together(a, 20).then((r) => [r, setsOf(a)])
      assert.deepEqual(done[0].map((r) => r.status), Array(20).fill('fulfilled'))
      assert.deepEqual([done[1].calls, done[1].items, done[1].errors], [20, 40, 0])
      const b = await useRustAuthState(path, { sessionId: 't', takeover: true })
      try {
        const lost = await together(a, 5).then((r) => [r, setsOf(a)])
        assert.deepEqual(lost[0].map((r) => r.reason?.code), Array(5).fill(ErrorCode.ERR_LEASE_LOST))
        assert.deepEqual([lost[1].calls, lost[1].errors], [25, 5])
        assert.equal(a.metrics().errors.ERR_LEASE_LOST, 5)
      } finally {
        await b.close()
      }
    } finally {
      await a.close().catch(() => {})
    }
  })

  it('coalesces a burst of saveCreds into one write, and close() writes what is pending', async () => {
    const path = join(dir, 'debounce.db')
    const auth = await useRustAuthState(path, { credsDebounceMs: 20 })
    const before = auth.metrics().operations.find((o) => o.op === 'saveCreds').calls
    const burst = []
    for (let i = 1; i <= 50; i++) {
      auth.state.creds.accountSyncCounter = i
      burst.push(auth.saveCreds())
    }
    await Promise.all(burst)
    assert.equal(auth.metrics().operations.find((o) => o.op === 'saveCreds').calls - before, 1)
    auth.state.creds.accountSyncCounter = 99
    auth.saveCreds() // pending when close() is called
    await auth[Symbol.asyncDispose]()
    const again = await useRustAuthState(path)
    assert.equal(again.state.creds.accountSyncCounter, 99)
    await again.close()
  })

  it('logs to a pino-compatible logger', async () => {
    const path = join(dir, 'logger.db')
    const seen = []
    const logger = Object.fromEntries(['trace', 'debug', 'info', 'warn', 'error'].map((level) => [level, (obj, msg) => seen.push([level, msg])]))
    const a = await useRustAuthState(path, { logger })
    const b = await useRustAuthState(path, { logger, takeover: true })
    await a.close()
    await b.close()
    assert.ok(seen.some(([level, msg]) => level === 'debug' && /open/.test(msg)))
    assert.ok(seen.some(([level, msg]) => level === 'debug' && /taken over/.test(msg)))
    await rejectsWith(useRustAuthState(path, { logger: {} }), ErrorCode.ERR_INVALID_ARGUMENT)
  })
})
