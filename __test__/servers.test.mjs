// Server stores under faults: the connection cut while a large keys.set is in flight, an
// unreachable server, and the options and tools that only make sense for one kind of store.

import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { after, describe, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'

import { backup, ErrorCode, restore, useRustAuthState, deleteSession, listSessions } from '../index.js'
import {
  dropRunData,
  POSTGRES_URL,
  psql,
  REDIS_URL,
  redisCli,
  RUN_PREFIX,
  RUN_SCHEMA,
  serverUp,
  startTlsRedis,
  withParams,
} from './helpers/servers.mjs'

const { NativeStore } = createRequire(import.meta.url)('../binding.js')

after(dropRunData)

/** A keys.set of several types, large enough to be in flight for a while. */
function bigSet() {
  const data = { session: {}, 'pre-key': {}, 'sender-key': {} }
  for (let i = 0; i < 4000; i++) {
    data.session[`${i}.0`] = Buffer.alloc(600, i % 256)
    data['pre-key'][i] = { public: Buffer.alloc(32, 1), private: Buffer.alloc(32, 2) }
  }
  data['sender-key']['group::1'] = Buffer.alloc(100, 3)
  return data
}

/** Polls `find` until it returns a truthy value; fails after `ms`. */
async function until(what, find, ms = 10_000) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    const found = find()
    if (found) return found
    await sleep(10)
  }
  throw new Error(`timed out waiting for ${what}`)
}

/**
 * The contract under a cut connection: the set rejects with ERR_UNAVAILABLE, nothing of it is
 * visible, and the same store works again (it reconnects).
 */
async function cutMidSet(url, options, { hold, cut, release }) {
  const store = await useRustAuthState(url, options)
  const { keys } = store.state
  try {
    await keys.set({ session: { before: Buffer.from('kept') } })
    await hold()
    const data = bigSet()
    const set = keys.set(data)
    const outcome = set.then(
      () => null,
      (err) => err,
    )
    try {
      await cut()
    } finally {
      await release()
    }
    const err = await outcome
    assert.ok(err, 'the set whose connection was cut rejects')
    assert.equal(err.code, ErrorCode.ERR_UNAVAILABLE, err.message)

    // Nothing of it, and what was there before is intact.
    const got = await keys.get('session', ['before', '0.0', '3999.0'])
    assert.deepStrictEqual(Object.keys(got), ['before'])
    assert.deepStrictEqual(await keys.get('pre-key', ['0', '3999']), {})
    assert.deepStrictEqual(await keys.get('sender-key', ['group::1']), {})
    const health = await store.health()
    assert.deepStrictEqual(Object.keys(health.counts), ['session'])
    assert.equal(health.integrity, 'ok')

    // The store works again: the same set now goes through whole.
    await keys.set(data)
    const back = await keys.get('pre-key', ['0', '3999'])
    assert.equal(Object.keys(back).length, 2)
    assert.equal((await store.health()).keys, 8002)
  } finally {
    await store.close()
  }
}

/** Sets and gets Buffers through the store opened at `url`, runs `whileOpen`, and closes it. */
async function roundTrip(url, options, whileOpen = async () => {}) {
  const store = await useRustAuthState(url, options)
  try {
    const data = {
      session: { '1.0': Buffer.from([0, 1, 2, 255]) },
      'pre-key': { 1: { public: Buffer.alloc(32, 1), private: Buffer.alloc(32, 2) } },
    }
    await store.state.keys.set(data)
    assert.deepStrictEqual(await store.state.keys.get('session', ['1.0']), data.session)
    assert.deepStrictEqual(await store.state.keys.get('pre-key', ['1']), data['pre-key'])
    await whileOpen()
  } finally {
    await store.close()
  }
}

describe('TLS', () => {
  test('postgres: sslmode=require round-trips over an encrypted connection', async (t) => {
    if (!serverUp('postgres')) return
    if (psql('SHOW ssl') !== 'on') {
      const why = `the PostgreSQL server at ${POSTGRES_URL} has ssl = off`
      if (process.env.CI) assert.fail(why)
      return t.skip(why)
    }
    const clientName = `bra-tls-${process.pid}`
    const url = withParams(POSTGRES_URL, 'sslmode=require')
    await roundTrip(url, { schema: RUN_SCHEMA, sessionId: 'tls', clientName }, async () => {
      const [encrypted, all] = psql(
        `SELECT count(*) FILTER (WHERE s.ssl), count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
         WHERE a.application_name = '${clientName}'`,
      ).split('|')
      assert.ok(Number(all) > 0, 'the store has connections')
      assert.equal(encrypted, all, 'every one of them encrypted')
    })
  })

  test("redis: rediss:// round-trips, checking the server's certificate against tls.ca", async (t) => {
    const server = await startTlsRedis()
    if (typeof server === 'string') return t.skip(server)
    try {
      await roundTrip(server.url, { sessionId: 'tls', tls: { ca: server.ca } })
      // The system's roots do not know the test's CA; #insecure checks nothing.
      await assert.rejects(useRustAuthState(server.url, { sessionId: 'other' }), (err) => {
        assert.equal(err.code, ErrorCode.ERR_UNAVAILABLE, err.message)
        assert.match(err.message, /TLS handshake.*not trusted/)
        return true
      })
      await roundTrip(`${server.url}/#insecure`, { sessionId: 'insecure' })
    } finally {
      await server.stop()
    }
  })
})

describe('postgres', () => {
  if (!serverUp('postgres')) return
  const clientName = `bra-fault-${process.pid}`

  test('a connection terminated mid-set rejects it, writes nothing of it, and the store reconnects', async () => {
    let holder = null
    await cutMidSet(
      POSTGRES_URL,
      { schema: RUN_SCHEMA, sessionId: 'cut', clientName },
      {
        // Another client holds the key table: the set waits inside its transaction.
        hold: async () => {
          holder = spawn('psql', [
            POSTGRES_URL,
            '-AtX',
            '-c',
            `BEGIN; LOCK TABLE ${RUN_SCHEMA}.key IN EXCLUSIVE MODE; SELECT pg_sleep(20) /* bra-holder-${process.pid} */;`,
          ])
          await until('the lock', () =>
            psql(`SELECT 1 FROM pg_stat_activity WHERE query LIKE '%bra-holder-${process.pid}%' AND wait_event = 'PgSleep'`),
          )
        },
        cut: () =>
          until('the set waiting on its lock', () =>
            psql(
              `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
               WHERE application_name = '${clientName}' AND wait_event_type = 'Lock'`,
            ),
          ),
        release: async () => {
          holder?.kill()
          psql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%bra-holder-${process.pid}%' AND pid <> pg_backend_pid()`)
        },
      },
    )
  })

  test('an unreachable server rejects opening with ERR_UNAVAILABLE', async () => {
    await assert.rejects(useRustAuthState('postgres://127.0.0.1:9/test'), { code: ErrorCode.ERR_UNAVAILABLE })
  })

  test('file-only tools refuse a server store, pointing to exportJson', async () => {
    await assert.rejects(backup(POSTGRES_URL, '/tmp/never.bak'), (err) => err.code === ErrorCode.ERR_INVALID_ARGUMENT && /exportJson/.test(err.message))
    await assert.rejects(restore('/tmp/never.bak', POSTGRES_URL), { code: ErrorCode.ERR_INVALID_ARGUMENT })
    await assert.rejects(deleteSession(POSTGRES_URL, 'x', { schema: RUN_SCHEMA, backup: true }), { code: ErrorCode.ERR_INVALID_ARGUMENT })
    // Without a backup asked for, deleting works (there is no file to copy first).
    const store = await useRustAuthState(POSTGRES_URL, { schema: RUN_SCHEMA, sessionId: 'doomed' })
    await store.close()
    assert.deepStrictEqual(await deleteSession(POSTGRES_URL, 'doomed', { schema: RUN_SCHEMA }), { deleted: true, backup: null })
    assert.ok(!(await listSessions(POSTGRES_URL, { schema: RUN_SCHEMA })).some((s) => s.sessionId === 'doomed'))
  })
})

/** The CLIENT LIST line of a connection named `name` with a command received but not run. */
function waiting(name) {
  return redisCli('CLIENT', 'LIST')
    .split('\n')
    .find((l) => l.includes(` name=${name} `) && /\bflags=\w*b/.test(l))
}

describe('redis', () => {
  if (!serverUp('redis')) return
  const clientName = `bra-fault-${process.pid}`

  test('a connection killed mid-set rejects it, writes nothing of it, and the store reconnects', async () => {
    await cutMidSet(
      REDIS_URL,
      { prefix: RUN_PREFIX, sessionId: 'cut', clientName },
      {
        // Paused writes keep the script in the server, received but not run.
        hold: async () => redisCli('CLIENT', 'PAUSE', '10000', 'WRITE'),
        cut: async () => {
          const line = await until('the set waiting in the server', () => waiting(clientName))
          redisCli('CLIENT', 'KILL', 'ID', line.match(/^id=(\d+)/)[1])
        },
        release: async () => redisCli('CLIENT', 'UNPAUSE'),
      },
    )
  })

  test('an unreachable server rejects opening with ERR_UNAVAILABLE', async () => {
    await assert.rejects(useRustAuthState('redis://127.0.0.1:9'), { code: ErrorCode.ERR_UNAVAILABLE })
  })

  // Small calls go through the fast lane, a connection read on the JavaScript thread
  // (src/redis/lane.rs) for at most a millisecond.
  describe('a call answered late on the fast lane', () => {
    /** Runs `run` on the keys of a store (its connections named `name`) holding a = 'first'. */
    async function withStore(name, run) {
      const store = await useRustAuthState(REDIS_URL, { prefix: RUN_PREFIX, sessionId: name, clientName: name })
      try {
        const { keys } = store.state
        await keys.set({ session: { a: Buffer.from('first') } })
        // The lane connects with the store, beside the connection stores share. On a loaded
        // machine a call may be late and rest it: the next call after a second connects it.
        const connections = () => redisCli('CLIENT', 'LIST').split('\n').filter((l) => l.includes(` name=${name} `)).length
        for (let tries = 0; connections() < 2; tries++) {
          assert.ok(tries < 20, 'the lane connects')
          await sleep(500)
          await keys.get('session', ['a'])
        }
        await run(keys)
      } finally {
        redisCli('CLIENT', 'UNPAUSE')
        await store.close()
      }
    }
    /** Runs `call` and counts the event loop's 5 ms ticks until it settles. */
    async function ticking(call) {
      let ticks = 0
      const timer = setInterval(() => ticks++, 5)
      const started = performance.now()
      const promise = call()
      const returned = performance.now() - started
      try {
        const value = await promise
        return { value, returned, settled: performance.now() - started, ticks }
      } finally {
        clearInterval(timer)
      }
    }

    test('a write resolves when the server answers, the event loop free meanwhile, and calls made after it wait for it', async () => {
      await withStore(`bra-late-write-${process.pid}`, async (keys) => {
        redisCli('CLIENT', 'PAUSE', '300', 'WRITE')
        let read
        let next
        const { returned, settled, ticks } = await ticking(() => {
          const set = keys.set({ session: { a: Buffer.from('second') } })
          read = keys.get('session', ['a'])
          next = keys.set({ session: { b: Buffer.from('third') } })
          return set
        })
        assert.ok(returned < 100, `keys.set returned after ${returned} ms`)
        assert.ok(settled >= 200, `it resolved after ${settled} ms, before the server ran it`)
        assert.ok(ticks >= 10, `the event loop ran ${ticks} times while it waited`)
        assert.deepStrictEqual(await read, { a: Buffer.from('second') })
        await next
        assert.deepStrictEqual(await keys.get('session', ['a', 'b']), { a: Buffer.from('second'), b: Buffer.from('third') })
      })
    })

    test('a write whose connection is killed before the server runs it rejects with ERR_UNAVAILABLE, and nothing of it is written', async () => {
      await withStore(`bra-late-cut-${process.pid}`, async (keys) => {
        redisCli('CLIENT', 'PAUSE', '10000', 'WRITE')
        const outcome = keys.set({ session: { a: Buffer.from('lost'), b: Buffer.from('lost') } }).then(
          () => null,
          (err) => err,
        )
        const line = await until('the write waiting in the server', () => waiting(`bra-late-cut-${process.pid}`))
        redisCli('CLIENT', 'KILL', 'ID', line.match(/^id=(\d+)/)[1])
        redisCli('CLIENT', 'UNPAUSE')
        const err = await outcome
        assert.equal(err?.code, ErrorCode.ERR_UNAVAILABLE, err?.message)
        assert.match(err.message, /may or may not have been written/)
        assert.deepStrictEqual(await keys.get('session', ['a', 'b']), { a: Buffer.from('first') })
        await keys.set({ session: { b: Buffer.from('kept') } })
        assert.deepStrictEqual(await keys.get('session', ['b']), { b: Buffer.from('kept') })
      })
    })

    test('a read gives the lane up and is answered through the shared connection, the event loop free meanwhile', async () => {
      await withStore(`bra-late-read-${process.pid}`, async (keys) => {
        redisCli('CLIENT', 'PAUSE', '300', 'ALL')
        const { value, returned, settled, ticks } = await ticking(() => keys.get('session', ['a']))
        assert.deepStrictEqual(value, { a: Buffer.from('first') })
        assert.ok(returned < 100, `keys.get returned after ${returned} ms`)
        assert.ok(settled >= 200, `it resolved after ${settled} ms, before the server answered`)
        assert.ok(ticks >= 10, `the event loop ran ${ticks} times while it waited`)
      })
    })
  })

  test('a large set whose lease is taken while it is encoded rejects with ERR_LEASE_LOST, and nothing of it is written', async () => {
    // Written in parts (over 32 kB, under 4,096 keys): queued in a MULTI as it is encoded.
    const data = { session: {} }
    for (let i = 0; i < 2000; i++) data.session[`${i}.0`] = Buffer.alloc(600, i % 256)
    const sessionId = 'taken-mid-set'
    const store = await useRustAuthState(REDIS_URL, { prefix: RUN_PREFIX, sessionId })
    const stage = NativeStore.prototype.stage
    try {
      const { keys } = store.state
      await keys.set({ session: { before: Buffer.from('kept') } })
      // Once the first part is sent, another holder's token replaces this store's, as a
      // takeover from another process writes it.
      let parts = 0
      NativeStore.prototype.stage = function (part) {
        const sent = stage.call(this, part)
        if (part !== null && ++parts === 1) redisCli('HSET', `${RUN_PREFIX}{${sessionId}}:lease`, 'token', 'another')
        return sent
      }
      await assert.rejects(keys.set(data), { code: ErrorCode.ERR_LEASE_LOST })
      assert.ok(parts > 1, `the set was sent in ${parts} parts`)
      NativeStore.prototype.stage = stage
      const reader = await useRustAuthState(REDIS_URL, { prefix: RUN_PREFIX, sessionId, lease: false })
      try {
        const got = await reader.state.keys.get('session', ['before', '0.0', '1999.0'])
        assert.deepStrictEqual(Object.keys(got), ['before'])
        const health = await reader.health()
        assert.equal(health.keys, 1)
        assert.equal(health.integrity, 'ok')
      } finally {
        await reader.close()
      }
    } finally {
      NativeStore.prototype.stage = stage
      await store.close()
    }
  })

  test('redisWait rejects a write fewer replicas acknowledged with ERR_NOT_REPLICATED', async () => {
    const store = await useRustAuthState(REDIS_URL, { prefix: RUN_PREFIX, sessionId: 'wait', redisWait: { replicas: 0, timeoutMs: 10 } })
    await store.close()
    const waiting = useRustAuthState(REDIS_URL, { prefix: RUN_PREFIX, sessionId: 'wait', redisWait: { replicas: 1, timeoutMs: 10 } })
    await assert.rejects(waiting.then((s) => s.state.keys.set({ t: { 1: 'x' } }).finally(s.close)), {
      code: ErrorCode.ERR_NOT_REPLICATED,
    })
  })
})

test('server options are checked against the kind of location', async () => {
  const cases = [
    ['auth.db', { schema: 'x' }],
    ['auth.db', { prefix: 'x:' }],
    ['auth.db', { clientName: 'x' }],
    [POSTGRES_URL, { prefix: 'x:' }],
    [POSTGRES_URL, { schema: 'Has-Caps' }],
    [POSTGRES_URL, { clientName: 'has space' }],
    [REDIS_URL, { schema: 'x' }],
    [REDIS_URL, { prefix: '{tag}' }],
    [REDIS_URL, { prefix: '' }],
    [REDIS_URL, { redisWait: { replicas: -1, timeoutMs: 10 } }],
    [POSTGRES_URL, { redisWait: { replicas: 1, timeoutMs: 10 } }],
    [withParams(POSTGRES_URL, 'sslmode=allow'), {}],
    [withParams(POSTGRES_URL, 'sslmode=verify-full&sslrootcert=/nonexistent.pem'), {}],
    [POSTGRES_URL, { tls: { ca: '/etc/ssl/certs/ca-certificates.crt' } }],
    [REDIS_URL, { tls: { ca: '/etc/ssl/certs/ca-certificates.crt' } }],
    ['rediss://127.0.0.1:9', { tls: {} }],
    ['rediss://127.0.0.1:9', { tls: { ca: '/etc/ssl/certs/ca-certificates.crt', cert: 'x.pem' } }],
    ['rediss://127.0.0.1:9', { tls: { ca: '/nonexistent.pem' } }],
  ]
  for (const [location, options] of cases) {
    await assert.rejects(useRustAuthState(location, options), { code: ErrorCode.ERR_INVALID_ARGUMENT }, JSON.stringify(options))
  }
})
