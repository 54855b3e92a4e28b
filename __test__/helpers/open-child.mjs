// Opens a store and writes one key, in a process of its own (started as an unprivileged user
// when the tests run as root, or with umask 0). Prints one JSON line: { ok: true } or
// { ok: false, code, message, name }. With `hold`, it then prints { holding: true } and keeps the store
// open until its stdin closes.
//
// argv: <path> [hold] [umask0]
import { writeSync } from 'node:fs'

if (process.argv.includes('umask0')) process.umask(0)
const say = (v) => writeSync(1, `${JSON.stringify(v)}\n`)
const [path] = process.argv.slice(2)
const hold = process.argv.includes('hold')
const { useRustAuthState } = await import('../../index.js')
let store
try {
  store = await useRustAuthState(path)
  await store.state.keys.set({ 'pre-key': { 1: { public: Buffer.alloc(32, 1), private: Buffer.alloc(32, 2) } } })
  say({ ok: true })
} catch (err) {
  say({ ok: false, code: err.code, message: err.message, name: err.name })
}
if (store && hold) {
  say({ holding: true })
  process.stdin.resume()
  await new Promise((resolve) => process.stdin.once('end', resolve))
}
await store?.close()
