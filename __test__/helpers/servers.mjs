// The PostgreSQL and Redis servers the server-store tests run against: whether they answer,
// names unique to this run, and the server-side actions the tests take (through psql and
// redis-cli, as an operator would).
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'

export const POSTGRES_URL = process.env.BRA_POSTGRES_URL ?? 'postgres://127.0.0.1/test'
export const REDIS_URL = process.env.BRA_REDIS_URL ?? 'redis://127.0.0.1:6379'

const { hostname: pgHost, port: pgPort } = new URL(POSTGRES_URL)
const { hostname: redisHost, port: redisPort } = new URL(REDIS_URL)

/** How to start each server when it is not running. */
const START = {
  postgres: 'pg_ctlcluster 15 main start',
  redis: 'redis-server --daemonize yes',
}

const run = (cmd, args) => spawnSync(cmd, args, { encoding: 'utf8', timeout: 30_000 })

/** `{ postgres, redis }`: true for each server that answers. */
export function servers() {
  return {
    postgres: run('pg_isready', ['-h', pgHost, '-p', pgPort || '5432']).status === 0,
    redis: run('redis-cli', ['-h', redisHost, '-p', redisPort || '6379', 'ping']).stdout?.trim() === 'PONG',
  }
}

/**
 * Whether the `kind` server answers. When it does not, registers a test saying how to start
 * it: skipped on a developer's machine, failed under CI, where every suite must run.
 */
export function serverUp(kind) {
  if (servers()[kind]) return true
  const url = kind === 'postgres' ? POSTGRES_URL : REDIS_URL
  const why = `no ${kind} server answers at ${url}; start it with \`${START[kind]}\``
  test(`${kind} server is running`, { skip: !process.env.CI && why }, () => assert.fail(why))
  return false
}

/** Names unique to this process: a PostgreSQL schema and a Redis key prefix. */
const RUN = `${process.pid}_${Date.now()}`
export const RUN_SCHEMA = `bra_test_${RUN}`
export const RUN_PREFIX = `bra-test:${RUN}:`

/** Runs SQL with psql; resolves to its unaligned output. Throws on any error. */
export function psql(sql) {
  const r = run('psql', [POSTGRES_URL, '-AtX', '-v', 'ON_ERROR_STOP=1', '-c', sql])
  if (r.status !== 0) throw new Error(`psql: ${r.stderr}`)
  return r.stdout.trim()
}

/** Runs one redis-cli command; its output. */
export function redisCli(...args) {
  const r = run('redis-cli', ['-u', REDIS_URL, ...args])
  if (r.status !== 0) throw new Error(`redis-cli: ${r.stderr}`)
  return r.stdout.trim()
}

/** Removes what this run stored on both servers (what answers). */
export function dropRunData() {
  const up = servers()
  if (up.postgres) psql(`DROP SCHEMA IF EXISTS ${RUN_SCHEMA} CASCADE`)
  if (up.redis) {
    const keys = redisCli('--scan', '--pattern', `${RUN_PREFIX}*`).split('\n').filter(Boolean)
    for (let i = 0; i < keys.length; i += 500) redisCli('UNLINK', ...keys.slice(i, i + 500))
  }
}

/**
 * A store location for the test helpers' `openStore`: the server URL, then the schema or
 * prefix and the session id, so that a child process opens the same store.
 */
export const serverLocation = (kind, namespace, sessionId) =>
  `${kind === 'postgres' ? POSTGRES_URL : REDIS_URL}#${encodeURIComponent(namespace)}/${encodeURIComponent(sessionId)}`

/** `useRustAuthState` arguments for a location made by `serverLocation`. */
export function serverArgs(location) {
  const [url, rest] = location.split('#')
  const [namespace, sessionId] = rest.split('/').map(decodeURIComponent)
  const key = url.startsWith('redis') ? 'prefix' : 'schema'
  return [url, { sessionId, [key]: namespace }]
}

/** `url` with more libpq parameters. */
export const withParams = (url, params) => `${url}${url.includes('?') ? '&' : '?'}${params}`

/** Whether something listens on 127.0.0.1:`port`. */
const listening = (port) =>
  new Promise((done) => {
    const socket = connect(port, '127.0.0.1')
    socket.once('connect', () => done(true) || socket.destroy())
    socket.once('error', () => done(false))
  })

/**
 * A redis-server of the caller's own, listening with TLS only on a free port, with a
 * certificate made for it by make-certs.sh (the Rust tests make theirs with it too):
 * `{ url, ca, stop }`. Resolves to the reason instead when redis-server cannot serve TLS
 * here, for the test to skip with; under CI, where every test must run, it throws.
 */
export async function startTlsRedis() {
  const dir = mkdtempSync(join(tmpdir(), 'bra-tls-'))
  const made = run('sh', [fileURLToPath(new URL('make-certs.sh', import.meta.url)), dir])
  assert.equal(made.status, 0, `make-certs.sh: ${made.stderr}`)
  const probe = createServer().listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address()
  probe.close()
  const server = spawn(
    'redis-server',
    ['--port', '0', '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir,
      '--tls-port', String(port), '--tls-auth-clients', 'no', '--tls-ca-cert-file', join(dir, 'ca.pem'),
      '--tls-cert-file', join(dir, 'server.pem'), '--tls-key-file', join(dir, 'server.key')],
    { stdio: 'ignore' },
  )
  const exited = once(server, 'exit')
  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      server.kill()
      await exited
    }
    rmSync(dir, { recursive: true, force: true })
  }
  server.once('error', () => {})
  for (let i = 0; i < 500 && server.exitCode === null && server.pid; i++) {
    if (await listening(port)) return { url: `rediss://127.0.0.1:${port}`, ca: join(dir, 'ca.pem'), stop }
    await sleep(20)
  }
  await stop()
  const why = `redis-server did not serve TLS on port ${port}: is it installed, and built with TLS?`
  if (process.env.CI) throw new Error(why)
  return why
}
