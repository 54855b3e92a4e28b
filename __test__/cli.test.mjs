// The baileys-rust-auth command run as a real process on real stores: its tables and JSON,
// its exit codes, and that no command ever prints private key material.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { PassThrough } from 'node:stream'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Curve } from 'baileys'
import * as bra from '../index.js'
import { dropRunData, POSTGRES_URL, REDIS_URL, RUN_PREFIX, RUN_SCHEMA, serverUp, startTlsRedis } from './helpers/servers.mjs'
import { run } from './helpers/procs.mjs'
import { sessionRecord } from './helpers/signal-shapes.mjs'

const { useRustAuthState, listSessions } = bra
// Server stores, when both servers answer (serverUp says how to start a missing one).
const SERVERS = [serverUp('postgres'), serverUp('redis')].every(Boolean)
const require = createRequire(import.meta.url)
const BIN = fileURLToPath(new URL('../bin/baileys-rust-auth.js', import.meta.url))

/** Every text form a secret could take in output: base64 (padded or not), base64url, hex, a JSON Buffer. */
function encodings(bytes) {
  const b = Buffer.from(bytes)
  const b64 = b.toString('base64')
  const hex = b.toString('hex')
  return [b64, b64.replace(/=+$/, ''), b.toString('base64url'), hex, hex.toUpperCase(), [...b].join(',')]
}

/** Filled in by `before`: every private key of the store's creds and pre-keys, in every encoding. */
const secrets = []

function assertNoSecrets(text, what) {
  for (const s of secrets) assert.ok(!text.includes(s.text), `${what} shows ${s.name} (${s.text.slice(0, 12)}…)`)
}

/** Runs the command; resolves to `{ code, stdout, stderr }`, after checking no secret leaked. */
function cli(...args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (c) => (stdout += c))
    child.stderr.setEncoding('utf8').on('data', (c) => (stderr += c))
    child.stdin.end()
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      assertNoSecrets(stdout, `stdout of ${args.join(' ')}`)
      assertNoSecrets(stderr, `stderr of ${args.join(' ')}`)
      resolve({ code, stdout, stderr })
    })
  })
}

const ok = (r) => assert.equal(r.code, 0, `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)

/** A registered session with pre-keys, Signal sessions and app-state keys set through the API. */
async function makeStore(path, sessionId = 'default') {
  const auth = await useRustAuthState(path, { sessionId })
  auth.state.creds.registered = true
  auth.state.creds.me = { id: '123@s.whatsapp.net', name: 'Test Bot' }
  await auth.saveCreds()
  const preKeys = {}
  for (let i = 1; i <= 30; i++) preKeys[i] = Curve.generateKeyPair()
  const sessions = {}
  for (let i = 0; i < 5; i++) sessions[`${100 + i}.0`] = sessionRecord(i, `peer${i}`)
  await auth.state.keys.set({
    'pre-key': preKeys,
    session: sessions,
    'app-state-sync-key': { AAAAAQ: { keyData: Buffer.alloc(32, 9), timestamp: 1 } },
  })
  const creds = auth.state.creds
  await auth.close()
  return { creds, preKeys }
}

function collectSecrets(creds, preKeys) {
  const named = {
    'signedIdentityKey.private': creds.signedIdentityKey.private,
    'signedPreKey.keyPair.private': creds.signedPreKey.keyPair.private,
    'noiseKey.private': creds.noiseKey.private,
    'pairingEphemeralKeyPair.private': creds.pairingEphemeralKeyPair.private,
    advSecretKey: Buffer.from(creds.advSecretKey, 'base64'),
  }
  for (const [id, pair] of Object.entries(preKeys)) named[`pre-key ${id} private`] = pair.private
  for (const [name, bytes] of Object.entries(named)) {
    assert.equal(bytes.length, 32, name)
    for (const text of encodings(bytes)) secrets.push({ name, text })
  }
  secrets.push({ name: 'advSecretKey', text: creds.advSecretKey })
}

let dir
let store
let creds

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'bra-cli-'))
  store = join(dir, 'auth.db')
  const made = await makeStore(store)
  creds = made.creds
  collectSecrets(made.creds, made.preKeys)
  // A second session with a value Baileys could not use.
  const broken = await useRustAuthState(store, { sessionId: 'broken' })
  await broken.state.keys.set({ 'pre-key': { 7: { public: 'x' } } })
  await broken.close()
})

after(() => rmSync(dir, { recursive: true, force: true }))

/** A copy of the test store, for commands that change it. */
async function copyOfStore(name) {
  const path = join(dir, `${name}.db`)
  ok(await cli('backup', store, path))
  return path
}

describe('sessions', () => {
  it('prints a table of the sessions', async () => {
    const r = await cli('sessions', store)
    ok(r)
    const [header, ...rows] = r.stdout.trimEnd().split('\n')
    assert.match(header, /^ID\s+CREDS\s+KEYS\s+SIZE\s+CREATED\s+UPDATED\s+HOLDER$/)
    assert.equal(rows.length, 2)
    assert.match(rows[0], /^broken\s+yes\s+1\s+\d+ B\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+\S+Z\s+-$/)
    assert.match(rows[1], /^default\s+yes\s+36\s+[\d.]+ KB\s+\d{4}-\d\d-\d\dT/)
    // Columns line up: every row starts its KEYS column where the header's ends.
    const keysEnd = header.indexOf('KEYS') + 4
    for (const row of rows) assert.match(row.slice(0, keysEnd), /\d$/)
  })

  it('prints JSON with --json', async () => {
    const r = await cli('sessions', store, '--json')
    ok(r)
    const sessions = JSON.parse(r.stdout)
    assert.deepEqual(
      sessions.map((s) => [s.sessionId, s.hasCreds, s.keys, s.holder]),
      [
        ['broken', true, 1, null],
        ['default', true, 36, null],
      ],
    )
    assert.ok(!Number.isNaN(Date.parse(sessions[1].updatedAt)))
  })
})

describe('inspect', () => {
  const fingerprint = () =>
    createHash('sha256').update(creds.signedIdentityKey.public).digest().subarray(0, 8).toString('hex')

  it('summarises the creds and counts without private keys', async () => {
    const r = await cli('inspect', store)
    ok(r)
    for (const want of [
      /me\s+123@s\.whatsapp\.net \(Test Bot\)/,
      /registered\s+yes/,
      new RegExp(`registration id\\s+${creds.registrationId}\\b`),
      new RegExp(`identity key\\s+sha256:${fingerprint()}`),
      new RegExp(`signed pre-key\\s+id ${creds.signedPreKey.keyId}, [\\d.]+ days old`),
      /next pre-key id\s+\d+/,
      /integrity\s+ok/,
      /pre-key\s+30\s+[\d.]+ KB/,
      /session\s+5\s+/,
      /app-state-sync-key\s+1\s+/,
    ]) {
      assert.match(r.stdout, want)
    }
  })

  it('prints JSON with --json, holding no private field', async () => {
    const r = await cli('inspect', store, '--json')
    ok(r)
    const report = JSON.parse(r.stdout)
    assert.equal(report.creds.identityKeyFingerprint, fingerprint())
    assert.deepEqual(report.creds.me, { id: '123@s.whatsapp.net', name: 'Test Bot', lid: null })
    assert.equal(report.creds.registrationId, creds.registrationId)
    assert.equal(report.creds.signedPreKey.keyId, creds.signedPreKey.keyId)
    assert.equal(report.health.counts['pre-key'].count, 30)
    assert.equal(report.health.integrity, 'ok')
    assert.ok(report.health.fileBytes > 0)
    const keys = []
    JSON.parse(r.stdout, (k, v) => (keys.push(k), v))
    for (const banned of ['private', 'privKey', 'advSecretKey', 'noiseKey', 'pairingEphemeralKeyPair', 'keyPair']) {
      assert.ok(!keys.includes(banned), `inspect --json has a '${banned}' field`)
    }
  })

  it('fails with ERR_SESSION_NOT_FOUND for a session the store lacks', async () => {
    const r = await cli('inspect', store, '--session', 'nobody')
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^error \[ERR_SESSION_NOT_FOUND\]: /m)
  })

  it('fails with ERR_CANNOT_OPEN for a store that does not exist, creating nothing', async () => {
    const missing = join(dir, 'missing.db')
    const r = await cli('inspect', missing)
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^error \[ERR_CANNOT_OPEN\]: /m)
    assert.equal(r.stdout, '')
    assert.ok(!existsSync(missing))
  })
})

describe('validate', () => {
  it('exits 0 for a healthy registered session', async () => {
    const r = await cli('validate', store)
    ok(r)
    assert.match(r.stdout, /: ok$/m)
    assert.match(r.stdout, /pre-keys\s+30/)
  })

  it('exits 3 and lists the problems of a damaged session', async () => {
    const r = await cli('validate', store, '--session', 'broken')
    assert.equal(r.code, 3, r.stderr)
    assert.match(r.stdout, /1 problem/)
    assert.match(r.stdout, /^problems:\n {2}pre-key "7": expected a key pair/m)
    assert.match(r.stdout, /^warnings:\n {2}the session is not registered/m)
    const json = await cli('validate', store, '--session', 'broken', '--json')
    assert.equal(json.code, 3)
    const report = JSON.parse(json.stdout)
    assert.deepEqual(
      report.problems.map((p) => [p.type, p.id]),
      [['pre-key', '7']],
    )
  })

  it('exits 0 with warnings printed for an unpaired session', async () => {
    const path = join(dir, 'fresh.db')
    await (await useRustAuthState(path)).close()
    const r = await cli('validate', path)
    ok(r)
    assert.match(r.stdout, /^warnings:\n {2}the session is not registered/m)
  })
})

describe('backup and restore', () => {
  it('round-trips the store', async () => {
    const path = await copyOfStore('roundtrip')
    const dest = join(dir, 'roundtrip.backup.db')
    const b = await cli('backup', path, dest, '--json')
    ok(b)
    const result = JSON.parse(b.stdout)
    assert.equal(result.dest, dest)
    assert.equal(result.bytes, statSync(dest).size)
    assert.equal(b.stderr, '', 'no progress bar when stderr is not a terminal')

    // Damage the store, then bring the backup back.
    const auth = await useRustAuthState(path)
    await auth.state.keys.clear()
    await auth.close()
    ok(await cli('delete', path, 'broken', '--yes', '--no-backup'))

    const r = await cli('restore', dest, path)
    ok(r)
    assert.match(r.stdout, /^sessions\s+2$/m)
    const saved = r.stdout.match(/^previous content\s+(\S+)$/m)[1]
    assert.ok(existsSync(saved), 'the content before the restore was kept')
    const sessions = await listSessions(path)
    assert.deepEqual(
      sessions.map((s) => [s.sessionId, s.keys]),
      [
        ['broken', 1],
        ['default', 36],
      ],
    )
    const back = await useRustAuthState(path)
    assert.equal(back.state.creds.registrationId, creds.registrationId)
    assert.equal(Object.keys(await back.state.keys.get('pre-key', ['1', '30'])).length, 2)
    await back.close()
  })

  it('prints the backup summary as text, and refuses to overwrite a file', async () => {
    const dest = join(dir, 'text.backup.db')
    const r = await cli('backup', store, dest)
    ok(r)
    assert.match(r.stdout, new RegExp(`^backup\\s+${dest.replace(/[.\\]/g, '\\$&')}$`, 'm'))
    assert.match(r.stdout, /^size\s+[\d.]+ KB$/m)
    assert.match(r.stdout, /^time\s+\d+(\.\d)? m?s$/m)
    const again = await cli('backup', store, dest)
    assert.equal(again.code, 1)
    assert.match(again.stderr, /^error \[ERR_INVALID_ARGUMENT\]: .*already exists/m)
  })

  it('restores with --no-backup without leaving a snapshot', async () => {
    const sub = mkdtempSync(join(dir, 'nobackup-'))
    const path = join(sub, 'auth.db')
    ok(await cli('backup', store, path))
    const r = await cli('restore', join(dir, 'text.backup.db'), path, '--no-backup', '--json')
    ok(r)
    assert.equal(JSON.parse(r.stdout).backup, null)
    assert.deepEqual(
      readdirSync(sub).filter((f) => f.endsWith('.bak')),
      [],
    )
  })
})

describe('export and import', () => {
  it('exports JSON with mode 0600 and imports it into another store', async () => {
    const file = join(dir, 'session.json')
    const e = await cli('export', store, file)
    ok(e)
    assert.equal(statSync(file).mode & 0o777, 0o600)
    // The export holds the private keys: the leak check must see them there.
    assert.throws(() => assertNoSecrets(readFileSync(file, 'utf8'), 'the export'), /shows signedIdentityKey\.private/)
    const again = await cli('export', store, file)
    assert.equal(again.code, 1, 'an export never replaces a file')

    const target = join(dir, 'imported.db')
    const r = await cli('import', file, target)
    ok(r)
    assert.match(r.stdout, /36 keys/)
    assert.match(r.stdout, /^pre-key\s+30$/m)
    assert.match(r.stdout, /^session\s+5$/m)
    const json = await cli('import', file, target, '--session', 'copy', '--json')
    ok(json)
    const result = JSON.parse(json.stdout)
    assert.equal(result.sessionId, 'copy')
    assert.deepEqual(result.counts, { 'app-state-sync-key': 1, 'pre-key': 30, session: 5 })
    const copy = await useRustAuthState(target, { sessionId: 'copy' })
    assert.deepEqual(copy.state.creds.signedIdentityKey, creds.signedIdentityKey)
    await copy.close()
  })

  it('refuses an unknown --format with exit 2', async () => {
    const r = await cli('export', store, join(dir, 'x.yaml'), '--format', 'yaml')
    assert.equal(r.code, 2)
    assert.match(r.stderr, /^error \[ERR_USAGE\]: --format/m)
  })

  it('exports and imports a multi-file folder, refusing a folder in use unless --overwrite', async () => {
    const folder = join(dir, 'multifile')
    ok(await cli('export', store, folder, '--format', 'multifile'))
    const busy = await cli('export', store, folder, '--format', 'multifile')
    assert.equal(busy.code, 1)
    assert.match(busy.stderr, /^error \[ERR_INVALID_SOURCE\]/m)
    ok(await cli('export', store, folder, '--format', 'multifile', '--overwrite'))
    const target = join(dir, 'from-folder.db')
    const i = await cli('import', folder, target, '--json')
    ok(i)
    assert.equal(JSON.parse(i.stdout).counts['pre-key'], 30)
  })

  it('copies a session to another store, verified', async () => {
    const target = join(dir, 'copied.db')
    const c = await cli('copy', store, target, '--to-session', 'moved', '--json')
    ok(c)
    const result = JSON.parse(c.stdout)
    assert.deepEqual([result.sessionId, result.verified, result.counts['pre-key']], ['moved', true, 30])
    const text = await cli('copy', store, target, '--to-session', 'moved')
    ok(text)
    assert.match(text.stdout, /^copied session 'default' of .* to session 'moved' of .*: 36 keys, verified$/m)
    const moved = await useRustAuthState(target, { sessionId: 'moved' })
    assert.deepEqual(moved.state.creds.signedIdentityKey, creds.signedIdentityKey)
    await moved.close()
  })
})

describe('server stores', { skip: SERVERS ? false : 'needs PostgreSQL and Redis' }, () => {
  after(dropRunData)

  it('copies a session to PostgreSQL and on to Redis, then lists, inspects, validates, exports and deletes it there', async () => {
    const pg = ['--schema', RUN_SCHEMA]
    const redis = ['--prefix', RUN_PREFIX]
    ok(await cli('copy', store, POSTGRES_URL, '--to-session', 'bot', ...pg))
    const hop = await cli('copy', POSTGRES_URL, REDIS_URL, '--session', 'bot', ...pg, ...redis, '--json')
    ok(hop)
    assert.equal(JSON.parse(hop.stdout).verified, true)
    for (const [url, ns] of [[POSTGRES_URL, pg], [REDIS_URL, redis]]) {
      const listed = await cli('sessions', url, ...ns, '--json')
      ok(listed)
      assert.deepEqual(JSON.parse(listed.stdout).map((x) => x.sessionId), ['bot'])
      const inspected = await cli('inspect', url, '--session', 'bot', ...ns, '--json')
      ok(inspected)
      assert.equal(JSON.parse(inspected.stdout).health.counts['pre-key'].count, 30)
      ok(await cli('validate', url, '--session', 'bot', ...ns))
    }
    const file = join(dir, 'from-redis.json')
    ok(await cli('export', REDIS_URL, file, '--session', 'bot', ...redis))
    const gone = await cli('delete', REDIS_URL, 'bot', '--yes', ...redis)
    ok(gone)
    assert.match(gone.stdout, /^backup\s+-$/m, 'a server store has no file to back up')
    assert.deepEqual(JSON.parse((await cli('sessions', REDIS_URL, ...redis, '--json')).stdout), [])
  })
})

describe('TLS', () => {
  it("reaches a rediss:// store whose certificate --tls-ca vouches for, and not without it", async (t) => {
    const server = await startTlsRedis()
    if (typeof server === 'string') return t.skip(server)
    try {
      const copied = await cli('copy', store, server.url, '--to-session', 'bot', '--tls-ca', server.ca, '--json')
      ok(copied)
      assert.equal(JSON.parse(copied.stdout).verified, true)
      const listed = await cli('sessions', server.url, '--tls-ca', server.ca, '--json')
      ok(listed)
      assert.deepEqual(JSON.parse(listed.stdout).map((x) => x.sessionId), ['bot'])
      const untrusted = await cli('sessions', server.url)
      assert.equal(untrusted.code, 1, untrusted.stderr)
      assert.match(untrusted.stderr, /^error \[ERR_UNAVAILABLE\]: .*not trusted/m)
    } finally {
      await server.stop()
    }
  })
})

describe('delete and reset', () => {
  it('refuses without --yes when not on a terminal (exit 2), deletes with it', async () => {
    const path = await copyOfStore('delete')
    const refused = await cli('delete', path, 'broken')
    assert.equal(refused.code, 2)
    assert.match(refused.stderr, /^error \[ERR_USAGE\]: not a terminal: pass --yes/m)
    assert.ok((await listSessions(path)).some((s) => s.sessionId === 'broken'), 'nothing deleted')

    const r = await cli('delete', path, 'broken', '--yes', '--json')
    ok(r)
    const result = JSON.parse(r.stdout)
    assert.equal(result.deleted, true)
    assert.ok(existsSync(result.backup), 'a backup is written first')
    assert.deepEqual(
      (await listSessions(path)).map((s) => s.sessionId),
      ['default'],
    )
    const missing = await cli('delete', path, 'broken', '--yes')
    assert.equal(missing.code, 1)
    assert.match(missing.stderr, /^error \[ERR_SESSION_NOT_FOUND\]: /m)
  })

  it('resets a session with --yes', async () => {
    const path = await copyOfStore('reset')
    assert.equal((await cli('reset', path)).code, 2)
    const r = await cli('reset', path, '--yes', '--no-backup', '--json')
    ok(r)
    assert.equal(JSON.parse(r.stdout).backup, null)
    const session = (await listSessions(path)).find((s) => s.sessionId === 'default')
    assert.equal(session?.keys ?? 0, 0)
    assert.equal(session?.hasCreds ?? false, false)
  })

  it('exits 4 while another process holds the session', async (t) => {
    const path = join(dir, 'locked.db')
    const holder = run('open-child.mjs', [path, 'hold'])
    t.after(() => holder.stdin.end())
    await holder.line((l) => l.includes('"holding":true'))

    const s = await cli('sessions', path)
    ok(s)
    assert.match(s.stdout, new RegExp(`^default .*${holder.pid}@\\S+ since \\S+ \\(live\\)$`, 'm'))
    for (const args of [
      ['delete', path, 'default', '--yes'],
      ['reset', path, '--yes'],
    ]) {
      const r = await cli(...args)
      assert.equal(r.code, 4, `${args[0]}: ${r.stderr}`)
      assert.match(r.stderr, new RegExp(`^error \\[ERR_SESSION_LOCKED\\]: .*process ${holder.pid}`, 'm'))
    }
    holder.stdin.end()
    assert.equal((await holder.exited).code, 0)
    ok(await cli('delete', path, 'default', '--yes', '--no-backup'))
  })
})

describe('on a terminal', () => {
  const { main } = require('../lib/cli/main.js')
  const { makeIo } = require('../lib/cli/io.js')
  const { progressBar } = require('../lib/cli/format.js')

  /** An io whose stdin is a terminal answering `answer`; collects what is written. */
  function terminal(answer) {
    const stdin = Object.assign(new PassThrough(), { isTTY: true })
    const out = { stdout: '', stderr: '' }
    const sink = (name) => Object.assign(new PassThrough(), { write: (c) => ((out[name] += c), true) })
    const io = makeIo({ stdin, stdout: sink('stdout'), stderr: sink('stderr') })
    stdin.write(`${answer}\n`)
    return { io, out }
  }

  it('asks before deleting: no keeps the session, yes deletes it', async () => {
    const path = await copyOfStore('ask')
    const no = terminal('n')
    assert.equal(await main(['delete', path, 'broken', '--no-backup'], no.io), 1)
    assert.match(no.out.stderr, /Delete session 'broken' of .*\? \[y\/N\] /)
    assert.match(no.out.stderr, /error \[ERR_CANCELLED\]: cancelled/)
    assert.ok((await listSessions(path)).some((s) => s.sessionId === 'broken'))

    const yes = terminal('y')
    assert.equal(await main(['delete', path, 'broken', '--no-backup'], yes.io), 0)
    assert.match(yes.out.stdout, /^deleted\s+session 'broken'/m)
    assert.ok(!(await listSessions(path)).some((s) => s.sessionId === 'broken'))
  })

  it('draws the progress bar in place, and nothing when not a terminal', () => {
    let drawn = ''
    const bar = progressBar({ isTTY: true, write: (c) => (drawn += c) }, 'pages')
    bar.update({ done: 5, total: 20 })
    bar.update({ done: 20, total: 20 })
    bar.end()
    assert.match(drawn, /^\r\[#{8}-{22}\] 5\/20 pages  25%\r\[#{30}\] 20\/20 pages 100%\r\x1b\[K$/)
    let piped = ''
    const quiet = progressBar({ isTTY: false, write: (c) => (piped += c) }, 'pages')
    quiet.update({ done: 1, total: 2 })
    quiet.end()
    assert.equal(piped, '')
  })
})

describe('usage', () => {
  const OPTIONS = {
    sessions: [],
    inspect: ['--session'],
    validate: ['--session'],
    backup: [],
    restore: ['--no-backup'],
    export: ['--session', '--format'],
    import: ['--session', '--overwrite'],
    delete: ['--no-backup', '--yes'],
    reset: ['--session', '--no-backup', '--yes'],
  }

  it('lists every command and the exit codes in --help', async () => {
    for (const args of [['--help'], ['help'], ['-h']]) {
      const r = await cli(...args)
      ok(r)
      for (const name of Object.keys(OPTIONS)) assert.match(r.stdout, new RegExp(`^ {2}${name}\\s`, 'm'))
      assert.match(r.stdout, /^ {2}4 .*ERR_SESSION_LOCKED/m)
    }
  })

  for (const [name, options] of Object.entries(OPTIONS)) {
    it(`${name} --help exits 0 and names its options`, async () => {
      const r = await cli(name, '--help')
      ok(r)
      assert.match(r.stdout, new RegExp(`^Usage: baileys-rust-auth ${name} `))
      for (const o of [...options, '--json', '--help']) assert.ok(r.stdout.includes(o), `${name} --help lacks ${o}`)
      assert.equal((await cli('help', name)).stdout, r.stdout)
    })
  }

  it('exits 2 on an unknown command, option or a missing argument', async () => {
    const wrong = [
      ['frobnicate'],
      ['help', 'frobnicate'],
      ['sessions', store, '--frob'],
      ['sessions', store, 'extra'],
      ['inspect'],
      ['inspect', store, '--session'],
      ['backup', store],
      [],
    ]
    for (const args of wrong) {
      const r = await cli(...args)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      assert.equal(r.stdout, '', args.join(' '))
      if (args.length > 0) assert.match(r.stderr, /^error \[ERR_USAGE\]: /m)
    }
  })
})
