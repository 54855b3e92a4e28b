// The server rows of the benchmark: this addon on PostgreSQL and Redis, beside stores written
// the common community way on the same servers (the `pg` and `ioredis` packages, values as
// JSON text made with BufferJSON, one query per key). Each store lives in a namespace of its
// own (a schema, a key prefix) named after its bench directory, dropped when it closes.
import { basename } from 'node:path'
import { createRequire } from 'node:module'
import pg from 'pg'
import Redis from 'ioredis'
import { BufferJSON, initAuthCreds, proto } from 'baileys'

const require = createRequire(import.meta.url)
const { useRustAuthState } = require('../index.js')

export const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1/test'
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379'

/** A namespace name from a bench directory: lowercase letters, digits and underscores. */
const space = (dir) => `bench_${basename(dir).toLowerCase().replace(/[^a-z0-9]/g, '_')}`

const revive = (text) => JSON.parse(text, BufferJSON.reviver)
const asKey = (type, value) => (type === 'app-state-sync-key' && value ? proto.Message.AppStateSyncKeyData.fromObject(value) : value)
const json = (value) => JSON.stringify(value, BufferJSON.replacer)

/** Deletes every Redis key under `prefix`. */
async function dropPrefix(redis, prefix) {
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    if (keys.length) await redis.del(...keys)
    cursor = next
  } while (cursor !== '0')
}

/** A PostgreSQL store as community packages write it: a JSON text column, a query per key. */
async function openCommunityPg(dir) {
  const pool = new pg.Pool({ connectionString: PG_URL })
  const schema = space(dir)
  await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
  const table = `${schema}.auth`
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (type TEXT NOT NULL, id TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (type, id))`)
  const upsert = `INSERT INTO ${table} (type, id, value) VALUES ($1, $2, $3) ON CONFLICT (type, id) DO UPDATE SET value = excluded.value`
  const row = await pool.query(`SELECT value FROM ${table} WHERE type = 'creds' AND id = 'creds'`)
  const creds = row.rows.length ? revive(row.rows[0].value) : initAuthCreds()
  return {
    creds,
    keys: {
      async get(type, ids) {
        const out = {}
        await Promise.all(
          ids.map(async (id) => {
            const r = await pool.query(`SELECT value FROM ${table} WHERE type = $1 AND id = $2`, [type, id])
            if (r.rows.length) out[id] = asKey(type, revive(r.rows[0].value))
          }),
        )
        return out
      },
      async set(data) {
        const client = await pool.connect()
        try {
          await client.query('BEGIN')
          for (const type in data) {
            for (const id in data[type]) {
              const value = data[type][id]
              if (value == null) await client.query(`DELETE FROM ${table} WHERE type = $1 AND id = $2`, [type, id])
              else await client.query(upsert, [type, id, json(value)])
            }
          }
          await client.query('COMMIT')
        } catch (err) {
          await client.query('ROLLBACK')
          throw err
        } finally {
          client.release()
        }
      },
    },
    saveCreds: async () => void (await pool.query(upsert, ['creds', 'creds', json(creds)])),
    close: async () => {
      await pool.query(`DROP SCHEMA ${schema} CASCADE`)
      await pool.end()
    },
  }
}

/** A Redis store as community packages write it: a JSON string per key, a command per key. */
async function openCommunityRedis(dir) {
  const redis = new Redis(REDIS_URL)
  const prefix = `${space(dir)}:`
  const saved = await redis.get(`${prefix}creds`)
  const creds = saved ? revive(saved) : initAuthCreds()
  return {
    creds,
    keys: {
      async get(type, ids) {
        const out = {}
        await Promise.all(
          ids.map(async (id) => {
            const v = await redis.get(`${prefix}${type}-${id}`)
            if (v !== null) out[id] = asKey(type, revive(v))
          }),
        )
        return out
      },
      async set(data) {
        const writes = []
        for (const type in data) {
          for (const id in data[type]) {
            const value = data[type][id]
            const key = `${prefix}${type}-${id}`
            writes.push(value == null ? redis.del(key) : redis.set(key, json(value)))
          }
        }
        await Promise.all(writes)
      },
    },
    saveCreds: async () => void (await redis.set(`${prefix}creds`, json(creds))),
    close: async () => {
      await dropPrefix(redis, prefix)
      redis.disconnect()
    },
  }
}

/** This addon on a server, in its own schema or key prefix, dropped on close. */
async function openRust(url, dir, shape) {
  const name = space(dir)
  const options = url.startsWith('redis') ? { prefix: `${name}:` } : { schema: name }
  const auth = shape(await useRustAuthState(url, options))
  const close = auth.close
  auth.close = async () => {
    await close()
    if (url.startsWith('redis')) {
      const redis = new Redis(REDIS_URL)
      await dropPrefix(redis, options.prefix)
      redis.disconnect()
    } else {
      const client = new pg.Client({ connectionString: PG_URL })
      await client.connect()
      await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`)
      await client.end()
    }
  }
  return auth
}

/** Whether a server answers. */
async function reachable(open) {
  try {
    await open()
    return true
  } catch {
    return false
  }
}

const pgUp = () =>
  reachable(async () => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 })
    await client.connect()
    await client.end()
  })
const redisUp = () =>
  reachable(async () => {
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
    await redis.connect()
    redis.disconnect()
  })

/**
 * The server stores, when their server answers (BENCH_SERVERS=0 leaves them out). Each of
 * this addon's rows names its `baseline`: the community store on the same server.
 */
export async function serverStores(shape) {
  if (process.env.BENCH_SERVERS === '0') return []
  const stores = []
  if (await pgUp()) {
    stores.push(
      { name: 'rust-pg', label: 'rust (PostgreSQL)', server: true, baseline: 'pg', open: (dir) => openRust(PG_URL, dir, shape) },
      { name: 'pg', label: 'pg, JSON per key', server: true, open: openCommunityPg },
    )
  }
  if (await redisUp()) {
    stores.push(
      { name: 'rust-redis', label: 'rust (Redis)', server: true, baseline: 'redis', open: (dir) => openRust(REDIS_URL, dir, shape) },
      { name: 'redis', label: 'ioredis, JSON per key', server: true, open: openCommunityRedis },
    )
  }
  return stores
}
