// One of several processes writing the same file at once.
//
// argv: <path> <sessionId> <tag> <count> <window> [nolease]. Loads everything, prints LOADED, waits
// for a stdin line (so that all writers start together), then issues `count` keys.set calls
// (up to `window` in flight): call i writes `session` `<tag>-<i>` = { tag, i, key } and the
// id `shared` (the same for every writer) = { tag, i }; every 10th call also saves creds, and
// every call reads back an id it wrote earlier, checking its value. Prints `T <i>` once set
// i resolved, `DONE` at the end (after close). Any rejection or wrong read prints
// `E <code> <message>` and exits 3.
import { writeSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { isDeepStrictEqual } from 'node:util'
import { pathToFileURL } from 'node:url'
import { bytesOf } from './signal-shapes.mjs'

const say = (s) => writeSync(1, `${s}\n`)
const fail = (err) => {
  say(`E ${err?.code} ${String(err?.message).replace(/\n/g, ' ')}`)
  process.exit(3)
}

export const valueOf = (tag, i) => ({ tag, i, key: bytesOf(32, tag, i) })

async function main() {
  const [path, sessionId, tag, count, window, lease] = process.argv.slice(2)
  const { useRustAuthState } = await import('../../index.js')
  await import('baileys')
  say('LOADED')
  await new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin })
    rl.once('line', () => {
      rl.close()
      process.stdin.destroy() // nothing more to read: let the process end when done
      resolve()
    })
  })
  const { state, saveCreds, close } = await useRustAuthState(path, { sessionId, lease: lease !== 'nolease' })
  const inflight = []
  const confirmed = []
  for (let i = 1; i <= Number(count); i++) {
    inflight.push(
      state.keys.set({ session: { [`${tag}-${i}`]: valueOf(tag, i), shared: { tag, i } } }).then(() => {
        confirmed.push(i)
        say(`T ${i}`)
      }, fail),
    )
    if (confirmed.length > 0) {
      const j = confirmed[Math.floor(Math.random() * confirmed.length)]
      inflight.push(
        state.keys.get('session', [`${tag}-${j}`]).then((got) => {
          if (!isDeepStrictEqual(got[`${tag}-${j}`], valueOf(tag, j))) {
            fail({ code: 'WRONG_READ', message: `${tag}-${j} read back as ${JSON.stringify(got)}` })
          }
        }, fail),
      )
    }
    if (i % 10 === 0) {
      state.creds.accountSyncCounter = i
      inflight.push(saveCreds().catch(fail))
    }
    while (inflight.length > Number(window)) await inflight.shift()
  }
  await Promise.all(inflight)
  await close()
  say('DONE')
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main().catch(fail)
