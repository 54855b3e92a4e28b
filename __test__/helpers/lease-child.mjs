// Holds one session of a store open, as a bot does, and writes on request.
// argv: <path> <sessionId>. Prints `OPEN`, or `REFUSED <code>` if the open failed; then for
// each stdin line `WRITE <n>` writes a key and prints `OK <n>` or `E <n> <code>`; `EXIT` closes.
import { createInterface } from 'node:readline'
import { writeSync } from 'node:fs'
import { useRustAuthState } from '../../index.js'

const say = (line) => writeSync(1, `${line}\n`)
const [path, sessionId] = process.argv.slice(2)
let auth
try {
  auth = await useRustAuthState(path, { sessionId })
  say('OPEN')
} catch (err) {
  say(`REFUSED ${err.code}`)
  process.exit(0)
}
for await (const line of createInterface({ input: process.stdin })) {
  const [verb, n] = line.split(' ')
  if (verb === 'EXIT') break
  try {
    await auth.state.keys.set({ session: { [`child-${n}`]: { n: Number(n) } } })
    say(`OK ${n}`)
  } catch (err) {
    say(`E ${n} ${err.code}`)
  }
}
await auth.close()
process.stdin.destroy()
