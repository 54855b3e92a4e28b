// Bad input beyond errors.test.mjs: paths that are not a usable database file, files damaged
// or written by something else, missing permissions, calls after close(), and ids and values
// that break naive storage. Each is refused with a documented code and leaves the file as it
// was, or round-trips exactly (also read back in a fresh process).
//
// Permission cases need an unprivileged user: when the tests run as root (whom chmod does
// not restrict) they run in a child process as `nobody` (uid/gid 65534); they are skipped,
// saying so, when neither is possible. Nothing here changes with BRA_HEAVY.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import {
  mkdtempSync, rmSync, writeFileSync, readFileSync, readdirSync, mkdirSync, symlinkSync, truncateSync,
  chmodSync, chownSync,
} from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { useRustAuthState, AuthStateError, ErrorCode } from '../index.js'
import { runToEnd, Database, NO_SQLITE, nobody } from './helpers/procs.mjs'
import { oddCases, oddData, ODD_TYPES, put } from './helpers/odd-keys.mjs'
import { bytesOf } from './helpers/signal-shapes.mjs'

const rejectsWith = (promise, codes, why) =>
  assert.rejects(promise, (err) => {
    assert.ok(err instanceof AuthStateError, `not an AuthStateError: ${err}`)
    assert.ok([codes].flat().includes(err.code), `${why ?? ''} got ${err.code}: ${err.message}`)
    return true
  })

/** Every file of a directory with its bytes: to show that nothing was touched. */
const snapshot = (dir) => Object.fromEntries(readdirSync(dir).sort().map((f) => [f, readFileSync(join(dir, f))]))

const isRoot = process.getuid?.() === 0
/** As root, the permission cases run as `nobody`: can this process start one? */
const canDrop = isRoot && spawnSync(process.execPath, ['-e', '0'], nobody()).status === 0
/** Why the permission cases cannot run here, if they cannot. */
const noUser = isRoot && !canDrop ? 'runs as root and cannot start a process as nobody (uid 65534), whom chmod would restrict' : false

describe('paths that are not a database file', () => {
  let dir
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bra-bad-'))))
  after(() => rmSync(dir, { recursive: true, force: true }))

  it("refuses a useMultiFileAuthState folder given by mistake, leaving it as it was", async () => {
    const folder = join(dir, 'auth_info')
    mkdirSync(folder)
    writeFileSync(join(folder, 'creds.json'), JSON.stringify({ registrationId: 42, noiseKey: { private: 'x' } }))
    writeFileSync(join(folder, 'pre-key-1.json'), '{"private":"a","public":"b"}')
    const before = snapshot(folder)
    const around = readdirSync(dir).sort()
    await rejectsWith(useRustAuthState(folder), ErrorCode.ERR_CANNOT_OPEN)
    assert.deepEqual(snapshot(folder), before)
    assert.deepEqual(readdirSync(dir).sort(), around, 'no -wal, -shm or -journal beside it')
  })

  it('refuses a symlink to a directory', async () => {
    const target = join(dir, 'target-dir')
    mkdirSync(target)
    symlinkSync(target, join(dir, 'link.db'))
    await rejectsWith(useRustAuthState(join(dir, 'link.db')), ErrorCode.ERR_CANNOT_OPEN)
    assert.deepEqual(readdirSync(target), [])
  })

  it('refuses a path that runs through a regular file, as a file that cannot be opened', async () => {
    writeFileSync(join(dir, 'plain.txt'), 'hello')
    await rejectsWith(useRustAuthState(join(dir, 'plain.txt', 'auth.db')), ErrorCode.ERR_CANNOT_OPEN)
    assert.equal(readFileSync(join(dir, 'plain.txt'), 'utf8'), 'hello')
  })

  it('refuses files that are not SQLite, byte for byte untouched, nothing created beside them', async () => {
    const files = {
      'short.db': Buffer.from('abc'),
      'fifteen.db': Buffer.from('SQLite format 3'), // the magic without its NUL
      'random.db': bytesOf(8192, 'random'),
      'creds.json': Buffer.from(JSON.stringify({ noiseKey: { private: { type: 'Buffer', data: 'AAAA' } } })),
      'magic-then-garbage.db': Buffer.concat([Buffer.from('SQLite format 3\0'), Buffer.alloc(4080, 7)]),
    }
    const sub = join(dir, 'not-sqlite')
    mkdirSync(sub)
    for (const [name, bytes] of Object.entries(files)) writeFileSync(join(sub, name), bytes)
    for (const name of Object.keys(files)) {
      await rejectsWith(useRustAuthState(join(sub, name)), ErrorCode.ERR_NOT_A_DATABASE, name)
    }
    const after = snapshot(sub)
    assert.deepEqual(Object.keys(after), Object.keys(files).sort(), 'no -wal or -shm was left')
    for (const [name, bytes] of Object.entries(files)) assert.ok(after[name].equals(bytes), `${name} was changed`)
  })

  it('takes an empty file as a new database', async () => {
    const path = join(dir, 'empty.db')
    writeFileSync(path, '')
    const auth = await useRustAuthState(path)
    await auth.state.keys.set({ 'pre-key': { 1: { public: Buffer.alloc(32, 1) } } })
    await auth.close()
    const again = await useRustAuthState(path)
    assert.deepEqual(await again.state.keys.get('pre-key', ['1']), { 1: { public: Buffer.alloc(32, 1) } })
    await again.close()
  })
})

describe('files damaged or written by something else', { skip: Database ? false : NO_SQLITE }, () => {
  let dir
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bra-damaged-'))))
  after(() => rmSync(dir, { recursive: true, force: true }))

  /** A closed store with some keys, in a folder of its own. */
  async function made(name, keys = { session: { a: { n: 1 }, b: { n: 2 } } }) {
    const sub = join(dir, name)
    const path = join(sub, 'auth.db')
    const auth = await useRustAuthState(path)
    await auth.state.keys.set(keys)
    await auth.close()
    return { sub, path }
  }

  for (const [label, prepare] of [
    ['a file this library wrote (WAL)', (path) => path],
    ['a file of the same format in rollback-journal mode', (path) => {
      const db = new Database(path)
      db.pragma('journal_mode = DELETE')
      db.close()
      return path
    }],
  ]) {
    it(`refuses a newer schema version in ${label} with ERR_SCHEMA_TOO_NEW, untouched`, async () => {
      const { sub, path } = await made(`newer-${label.length}`)
      prepare(path)
      const db = new Database(path)
      db.pragma('user_version = 999')
      db.close()
      const before = snapshot(sub)
      await rejectsWith(useRustAuthState(path), ErrorCode.ERR_SCHEMA_TOO_NEW)
      await rejectsWith(useRustAuthState(path, { sessionId: 'other' }), ErrorCode.ERR_SCHEMA_TOO_NEW)
      assert.deepEqual(snapshot(sub), before, 'the file, and the files beside it, are as they were')
    })
  }

  it('refuses a truncated database with ERR_CORRUPT, without crashing', async () => {
    const big = {}
    for (let i = 0; i < 3000; i++) big[`k${i}`] = { v: bytesOf(100, i).toString('hex') }
    const { path } = await made('truncated', { session: big })
    truncateSync(path, 4096 * 20)
    const bytes = readFileSync(path)
    await rejectsWith(useRustAuthState(path), [ErrorCode.ERR_CORRUPT, ErrorCode.ERR_NOT_A_DATABASE])
    assert.ok(readFileSync(path).equals(bytes), 'the damaged file was changed')
  })

  it('reports a damaged stored value as ERR_CORRUPT and keeps serving the others', async () => {
    const { path } = await made('bad-value')
    const db = new Database(path)
    db.prepare("UPDATE key SET value = ? WHERE id = 'b'").run(Buffer.from([200, 1, 2]))
    db.close()
    const auth = await useRustAuthState(path)
    try {
      await rejectsWith(auth.state.keys.get('session', ['b']), ErrorCode.ERR_CORRUPT)
      const many = Array.from({ length: 40 }, (_, i) => `x${i}`)
      await rejectsWith(auth.state.keys.get('session', [...many, 'a', 'b']), ErrorCode.ERR_CORRUPT)
      assert.deepEqual(await auth.state.keys.get('session', ['a']), { a: { n: 1 } })
      // Overwriting the damaged value repairs it.
      await auth.state.keys.set({ session: { b: { n: 3 } } })
      assert.deepEqual(await auth.state.keys.get('session', ['a', 'b']), { a: { n: 1 }, b: { n: 3 } })
    } finally {
      await auth.close()
    }
  })

  /** A store whose creds were overwritten with bytes that do not decode. */
  async function damagedCreds(name) {
    const { sub, path } = await made(name)
    const db = new Database(path)
    db.prepare('UPDATE session SET creds = ?').run(Buffer.from([9, 5]))
    db.close()
    return { sub, path }
  }

  it('refuses damaged creds with ERR_CORRUPT instead of replacing the login with new creds', async () => {
    const { path } = await damagedCreds('bad-creds')
    // The session's rows; the file itself changes (the open takes and gives back the lease).
    const rows = () => {
      const db = new Database(path, { readonly: true })
      try {
        return db.prepare('SELECT s.name, s.creds, k.type, k.id, k.value FROM session s LEFT JOIN key k ON k.session = s.id ORDER BY 1, 3, 4').all()
      } finally {
        db.close()
      }
    }
    const before = rows()
    await rejectsWith(useRustAuthState(path), ErrorCode.ERR_CORRUPT)
    await rejectsWith(useRustAuthState(path), ErrorCode.ERR_CORRUPT, 'a second time: the creds were not replaced')
    assert.deepEqual(rows(), before, 'the session was changed')
    // Other sessions of the same file still open.
    const other = await useRustAuthState(path, { sessionId: 'other' })
    await other.close()
  })

  it('releases the file when opening fails on damaged creds', async () => {
    const { sub, path } = await damagedCreds('bad-creds-released')
    const before = snapshot(sub)
    await rejectsWith(useRustAuthState(path), ErrorCode.ERR_CORRUPT)
    assert.deepEqual(Object.keys(snapshot(sub)), Object.keys(before), 'files left beside the database')
  })

  it('leaves a database of another program alone', async () => {
    const sub = join(dir, 'foreign')
    mkdirSync(sub)
    const path = join(sub, 'app.db')
    const db = new Database(path)
    db.exec('CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES (\'keep me\')')
    db.close()
    const before = snapshot(sub)
    await rejectsWith(useRustAuthState(path), ErrorCode.ERR_NOT_A_DATABASE)
    assert.deepEqual(snapshot(sub), before)
  })
})

describe('missing permissions', () => {
  let dir
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bra-perm-'))
    chmodSync(dir, 0o755) // reachable by the unprivileged user
  })
  after(() => {
    for (const f of readdirSync(dir)) {
      try {
        chmodSync(join(dir, f), 0o755)
      } catch {}
    }
    rmSync(dir, { recursive: true, force: true })
  })

  const skip = noUser
  /** Opens `path` and writes a key: as `nobody` when root, else as ourselves. */
  async function openAs(path) {
    const { lines, code, stderr } = await runToEnd('open-child.mjs', [path], isRoot ? nobody() : {})
    assert.equal(code, 0, stderr)
    return JSON.parse(lines[0])
  }
  const own = (path) => isRoot && chownSync(path, nobody().uid, nobody().gid)

  it(`refuses a new file in a read-only directory${isRoot ? ' (as nobody)' : ''}`, { skip }, async (t) => {
    const ro = join(dir, 'ro-dir')
    mkdirSync(ro)
    own(ro)
    chmodSync(ro, 0o555)
    const got = await openAs(join(ro, 'auth.db'))
    assert.equal(got.ok, false, 'the store opened and wrote in a read-only directory')
    assert.ok([ErrorCode.ERR_CANNOT_OPEN, ErrorCode.ERR_READ_ONLY].includes(got.code), `${got.code}: ${got.message}`)
    assert.equal(got.name, 'AuthStateError')
    assert.deepEqual(readdirSync(ro), [])
    t.diagnostic(`${got.code}: ${got.message}`)
  })

  it(`refuses an existing database in a read-only directory, untouched${isRoot ? ' (as nobody)' : ''}`, { skip }, async (t) => {
    const ro = join(dir, 'ro-dir-existing')
    const path = join(ro, 'auth.db')
    const auth = await useRustAuthState(path)
    await auth.state.keys.set({ session: { a: { n: 1 } } })
    await auth.close()
    own(ro)
    own(path)
    chmodSync(ro, 0o555)
    const before = snapshot(ro)
    const got = await openAs(path)
    assert.equal(got.ok, false, 'the store wrote to a database whose directory is read-only')
    assert.ok([ErrorCode.ERR_CANNOT_OPEN, ErrorCode.ERR_READ_ONLY].includes(got.code), `${got.code}: ${got.message}`)
    assert.deepEqual(snapshot(ro), before)
    t.diagnostic(`${got.code}: ${got.message}`)
  })

  it(`refuses a read-only database file with ERR_READ_ONLY, untouched${isRoot ? ' (as nobody)' : ''}`, { skip }, async () => {
    const sub = join(dir, 'ro-file')
    const path = join(sub, 'auth.db')
    const auth = await useRustAuthState(path)
    await auth.state.keys.set({ session: { a: { n: 1 } } })
    await auth.close()
    own(sub)
    own(path)
    chmodSync(path, 0o444)
    const before = snapshot(sub)
    const got = await openAs(path)
    assert.equal(got.ok, false, 'the store wrote to a read-only file')
    assert.equal(got.code, ErrorCode.ERR_READ_ONLY, got.message)
    assert.deepEqual(snapshot(sub), before)
  })

  it(`refuses a database another user owns with ERR_CANNOT_OPEN${isRoot ? ' (as nobody)' : ''}`, { skip: isRoot ? noUser : 'needs root, to make a file of another user' }, async () => {
    const sub = join(dir, 'not-mine')
    const path = join(sub, 'auth.db')
    const auth = await useRustAuthState(path) // 0600, owned by root
    await auth.close()
    chmodSync(sub, 0o777)
    const before = snapshot(sub)
    const got = await openAs(path)
    assert.equal(got.ok, false)
    assert.equal(got.code, ErrorCode.ERR_CANNOT_OPEN, got.message)
    assert.deepEqual(snapshot(sub), before)
  })
})

describe('calls after close()', () => {
  let dir
  before(() => (dir = mkdtempSync(join(tmpdir(), 'bra-closed-'))))
  after(() => rmSync(dir, { recursive: true, force: true }))

  const largeSet = (tag) => {
    const session = {}
    for (let i = 0; i < 3000; i++) session[`${tag}-${i}`] = { i, chain: bytesOf(33, tag, i).toString('base64') }
    return { session }
  }

  it('refuses every kind of call made in the same tick as close(), on every path, without hanging', async () => {
    const auth = await useRustAuthState(join(dir, 'a.db'))
    const many = Array.from({ length: 100 }, (_, i) => `id-${i}`)
    const closing = auth.close()
    const calls = {
      close: closing,
      'small get': auth.state.keys.get('session', ['x']),
      'large get': auth.state.keys.get('session', many),
      'small set': auth.state.keys.set({ session: { x: { n: 1 } } }),
      'large set': auth.state.keys.set(largeSet('late')),
      clear: auth.state.keys.clear(),
      saveCreds: (auth.state.creds.accountSyncCounter++, auth.saveCreds()),
      list: auth.state.keys.list('session').next(),
      listIds: auth.state.keys.listIds('session').next(),
    }
    const settled = await Promise.allSettled(Object.values(calls))
    for (const [i, what] of Object.keys(calls).entries()) {
      if (what === 'close') assert.equal(settled[i].status, 'fulfilled', 'close() resolved')
      else await rejectsWith(Promise.reject(settled[i].reason ?? new Error(`${what} resolved`)), ErrorCode.ERR_CLOSED, what)
    }
  })

  it('ends an iteration across close() with ERR_CLOSED', async () => {
    const auth = await useRustAuthState(join(dir, 'b.db'))
    const ids = {}
    for (let i = 0; i < 1000; i++) ids[String(i).padStart(4, '0')] = { i }
    await auth.state.keys.set({ 'pre-key': ids })
    const it = auth.state.keys.list('pre-key')
    assert.deepEqual((await it.next()).value, ['0000', { i: 0 }])
    await auth.close()
    // The first page is already here; the next one is asked of a closed store.
    let seen = 1
    await rejectsWith(
      (async () => {
        for (;;) {
          const { done } = await it.next()
          if (done) break
          seen++
        }
      })(),
      ErrorCode.ERR_CLOSED,
    )
    assert.ok(seen < 1000, `read ${seen} entries from a closed store`)
  })

  it('finishes a large write called just before close()', async () => {
    const path = join(dir, 'c.db')
    const auth = await useRustAuthState(path)
    const large = auth.state.keys.set(largeSet('early')) // encoded in slices
    await auth.close()
    await large
    const again = await useRustAuthState(path)
    const ids = []
    for await (const id of again.state.keys.listIds('session')) ids.push(id)
    assert.equal(ids.length, 3000)
    await again.close()
  })
})

describe('odd ids, type names and 10 MB values', () => {
  let dir, path
  const cases = oddCases()
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bra-odd-'))
    path = join(dir, 'auth.db')
    const auth = await useRustAuthState(path)
    await auth.state.keys.set(oddData(cases))
    await auth.close()
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it(`round-trip exactly (${cases.length} keys in ${ODD_TYPES.length + 1} types)`, async () => {
    const auth = await useRustAuthState(path)
    try {
      for (const [type, id, value] of cases) {
        const got = await auth.state.keys.get(type, [id])
        assert.ok(Object.hasOwn(got, id), `${type} ${JSON.stringify(id).slice(0, 40)} is missing`)
        assert.deepStrictEqual(got[id], value, `${type} ${JSON.stringify(id).slice(0, 40)}`)
      }
      for (const type of ODD_TYPES) {
        const listed = []
        for await (const id of auth.state.keys.listIds(type)) listed.push(id)
        assert.deepEqual(listed.sort(), cases.filter(([t]) => t === type).map(([, id]) => id).sort(), type)
      }
    } finally {
      await auth.close()
    }
  })

  it('come back from one read of many ids (made in parts) as from reads of one id each', async () => {
    const auth = await useRustAuthState(path)
    try {
      for (const type of ODD_TYPES) {
        const stored = cases.filter(([t]) => t === type).map(([, id]) => id)
        // Absent ids, repeats and prototype names among them, in an order of their own.
        const ids = [...stored, 'no such id', 'constructor', '__proto__', ...stored.slice(0, 40), 'toString'].reverse()
        for (let i = 0; i < 300; i++) ids.splice((i * 7919) % ids.length, 0, `absent ${i}`)
        const one = new Map()
        for (const id of ids) for (const [k, v] of Object.entries(await auth.state.keys.get(type, [id]))) one.set(k, v)
        const many = await auth.state.keys.get(type, ids)
        assert.deepStrictEqual(Object.keys(many), [...new Set(ids)].filter((id) => one.has(id)), type)
        for (const id of Object.keys(many)) assert.deepStrictEqual(many[id], one.get(id), `${type} ${JSON.stringify(id).slice(0, 40)}`)
        for (const id of ['no such id', 'toString', 'absent 1']) assert.equal(Object.hasOwn(many, id), false, id)
      }
    } finally {
      await auth.close()
    }
  })

  it('round-trip exactly when read by a fresh process', async () => {
    const { code, lines, stderr } = await runToEnd('odd-keys-child.mjs', [path])
    assert.equal(code, 0, stderr)
    assert.deepEqual(lines, [`OK ${cases.length}`])
  })

  it('keep ids that differ only by Unicode normalization or case apart', async () => {
    const auth = await useRustAuthState(path)
    try {
      const got = await auth.state.keys.get('pre-key', ['é', 'e\u0301', 'A', 'a'])
      assert.deepEqual(new Set(Object.values(got).map((v) => v.i)).size, 4)
    } finally {
      await auth.close()
    }
  })

  it('refuse ids that cannot be stored exactly, writing nothing of the call', async () => {
    const auth = await useRustAuthState(path)
    try {
      const good = { ok: { n: 1 } }
      for (const [id, code] of [
        ['lone \ud800 surrogate', ErrorCode.ERR_INVALID_ARGUMENT],
        ['é'.repeat(2049), ErrorCode.ERR_VALUE_TOO_LARGE], // 4098 bytes
        ['x'.repeat(4097), ErrorCode.ERR_VALUE_TOO_LARGE],
      ]) {
        await rejectsWith(auth.state.keys.set({ refused: { ...good, ...put({}, id, { n: 2 }) } }), code, JSON.stringify(id).slice(0, 30))
        await rejectsWith(auth.state.keys.get('refused', [id]), code)
        await rejectsWith(auth.state.keys.set({ [id]: good }), code, 'as a type name')
      }
      assert.deepEqual(await auth.state.keys.get('refused', ['ok']), {})
    } finally {
      await auth.close()
    }
  })
})
