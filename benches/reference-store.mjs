// The reference store: Baileys' newest `useSqliteAuthState` pattern, as SQL-backed auth
// states are written today. better-sqlite3, WAL with synchronous=NORMAL, one
// `(type, id, value TEXT)` table holding JSON made with BufferJSON; reads are a loop of
// point SELECTs, each `set` one BEGIN IMMEDIATE transaction; creds are one more row.
import Database from 'better-sqlite3'
import { BufferJSON, initAuthCreds, proto } from 'baileys'

const CREDS = ['creds', 'creds']

/**
 * `timings` (benches/w8-split.mjs): arrays `encode`, `statement` and `transaction` that each
 * write's steps are timed into, in ms: its JSON text, its statement, its whole transaction.
 */
export async function useReferenceAuthState(path, { timings = null } = {}) {
  const db = new Database(path)
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = NORMAL')
  db.pragma('busy_timeout = 5000')
  db.exec(`CREATE TABLE IF NOT EXISTS auth (
    type  TEXT NOT NULL,
    id    TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (type, id)
  )`)
  const select = db.prepare('SELECT value FROM auth WHERE type = ? AND id = ?')
  const upsert = db.prepare(
    'INSERT INTO auth (type, id, value) VALUES (?, ?, ?) ON CONFLICT (type, id) DO UPDATE SET value = excluded.value',
  )
  const remove = db.prepare('DELETE FROM auth WHERE type = ? AND id = ?')

  const put = (type, id, value) => {
    if (timings === null) return upsert.run(type, id, JSON.stringify(value, BufferJSON.replacer))
    const start = performance.now()
    const text = JSON.stringify(value, BufferJSON.replacer)
    const encoded = performance.now()
    upsert.run(type, id, text)
    timings.encode.push(encoded - start)
    timings.statement.push(performance.now() - encoded)
  }
  const write = db.transaction((data) => {
    for (const type in data) {
      const byId = data[type]
      if (!byId) continue
      for (const id in byId) {
        const value = byId[id]
        if (value === null || value === undefined) remove.run(type, id)
        else put(type, id, value)
      }
    }
  })
  const writeCreds = db.transaction((creds) => upsert.run(...CREDS, JSON.stringify(creds, BufferJSON.replacer)))

  const row = select.get(...CREDS)
  const creds = row ? JSON.parse(row.value, BufferJSON.reviver) : initAuthCreds()
  if (!row) writeCreds.immediate(creds)

  return {
    state: {
      creds,
      keys: {
        async get(type, ids) {
          const out = {}
          for (const id of ids) {
            const found = select.get(type, id)
            if (!found) continue
            let value = JSON.parse(found.value, BufferJSON.reviver)
            if (type === 'app-state-sync-key' && value) value = proto.Message.AppStateSyncKeyData.fromObject(value)
            out[id] = value
          }
          return out
        },
        async set(data) {
          if (timings === null) return write.immediate(data)
          const start = performance.now()
          write.immediate(data)
          timings.transaction.push(performance.now() - start)
        },
      },
    },
    saveCreds: async () => writeCreds.immediate(creds),
    close: async () => db.close(),
  }
}
