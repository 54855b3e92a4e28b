// Another program holding the database's write lock: opens the file with better-sqlite3,
// runs BEGIN IMMEDIATE, prints LOCKED, blocks for <ms> milliseconds, rolls back, prints
// RELEASED and exits.
//
// argv: <path> <ms>
import { createRequire } from 'node:module'
import { writeSync } from 'node:fs'

const Database = createRequire(import.meta.url)('better-sqlite3')
const [path, ms] = process.argv.slice(2)
const db = new Database(path, { fileMustExist: true })
db.exec('BEGIN IMMEDIATE')
writeSync(1, 'LOCKED\n')
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(ms))
db.exec('ROLLBACK')
db.close()
writeSync(1, 'RELEASED\n')
