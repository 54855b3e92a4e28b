// A code change measured on a shared machine: this checkout's build and the one in another
// checkout DIR (its own index.js and .node), alternated round by round in one process that
// has loaded Baileys and the benchmark's stores (as `npm run bench` measures), on the same
// real data. Prints, per workload, both medians and the median of the per-round ratios,
// which moves far less than two runs of the benchmark do. What each build reads back is
// checked against what was written, outside the timed part.
//
//   node --expose-gc benches/ab.mjs DIR [--rounds N] [--als]
//
// --als runs every round inside an AsyncLocalStorage, as the benchmark's second mode does.
import { AsyncLocalStorage } from 'node:async_hooks'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { isDeepStrictEqual } from 'node:util'
import { dataFromChild, mutateCreds, structuredCloneWithBuffers } from './data.mjs'
import './stores.mjs' // Baileys and every store loaded, as in the benchmark's process

const args = process.argv.slice(2)
const at = args.indexOf('--rounds')
const rounds = at >= 0 ? Number(args[at + 1]) : 21
const other = resolve(args[0] ?? '')
const als = args.includes('--als') ? new AsyncLocalStorage() : null
const builds = [
  ['this', createRequire(import.meta.url)('../index.js')],
  ['DIR', createRequire(join(other, 'index.js'))(join(other, 'index.js'))],
]
const data = dataFromChild('full')

/** What each session id holds once the sessions and then every step are written. */
const lastWritten = { ...data.sessions }
for (const { id, value } of data.steps) lastWritten[id] = value

/** Checks a read: a build that reads faster by reading wrong must not look faster. */
function expectRead(found, ids, expected, what) {
  for (const id of ids) {
    if (!isDeepStrictEqual(found[id], expected[id])) throw new Error(`${what}: ${id} read back wrong`)
  }
}

/** One round on a fresh store of `addon`: each workload's time in ms. */
async function round(addon) {
  const dir = mkdtempSync(join(tmpdir(), 'bra-ab-'))
  const { state, saveCreds, close } = await addon.useRustAuthState(join(dir, 'auth.db'))
  const timed = async (fn) => {
    globalThis.gc?.()
    await sleep(10)
    const start = performance.now()
    await fn()
    return performance.now() - start
  }
  try {
    const out = {}
    out['W1 set 812 pre-keys'] = await timed(() => state.keys.set({ 'pre-key': data.preKeys }))
    const preKeyIds = Object.keys(data.preKeys)
    let found
    out['W2 get 812 pre-keys'] = await timed(async () => (found = await state.keys.get('pre-key', preKeyIds)))
    expectRead(found, preKeyIds, data.preKeys, 'W2')
    await state.keys.set({ session: data.sessions })
    out['W3 2000 single sets'] = await timed(async () => {
      for (const { id, value } of data.steps) await state.keys.set({ session: { [id]: value } })
    })
    out['W3c 2000 sets, 50 at once'] = await timed(async () => {
      for (let i = 0; i < data.steps.length; i += data.sizes.concurrency) {
        const wave = data.steps.slice(i, i + data.sizes.concurrency)
        await Promise.all(wave.map(({ id, value }) => state.keys.set({ session: { [id]: value } })))
      }
    })
    out['W3 2000 single gets'] = await timed(async () => {
      for (const id of data.getIds) await state.keys.get('session', [id])
    })
    // Checked on reads of their own, made the same way: kept, the timed ones would cost
    // their round collections of 2,000 sessions.
    for (const id of data.getIds) expectRead(await state.keys.get('session', [id]), [id], lastWritten, 'W3 gets')
    const sessionIds = Object.keys(data.sessions)
    out['W4 get 500 sessions'] = await timed(async () => (found = await state.keys.get('session', sessionIds)))
    expectRead(found, sessionIds, lastWritten, 'W4')
    out['W4 set 500 sessions'] = await timed(() => state.keys.set({ session: data.sessionsNext }))
    Object.assign(state.creds, structuredCloneWithBuffers(data.creds))
    await saveCreds()
    out['W5 1000 saveCreds'] = await timed(async () => {
      for (let i = 0; i < data.sizes.creds; i++) {
        mutateCreds(state.creds, i)
        await saveCreds()
      }
    })
    return out
  } finally {
    await close()
    rmSync(dir, { recursive: true, force: true })
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const samples = {}
for (let r = 0; r < rounds; r++) {
  // Each build goes first every other round.
  const order = r % 2 ? [...builds].reverse() : builds
  const got = {}
  for (const [name, addon] of order) got[name] = await (als ? als.run({ request: 'bench' }, () => round(addon)) : round(addon))
  for (const row of Object.keys(got.this)) {
    const s = (samples[row] ??= { this: [], DIR: [], ratio: [] })
    s.this.push(got.this[row])
    s.DIR.push(got.DIR[row])
    s.ratio.push(got.this[row] / got.DIR[row])
  }
}
console.log(`this checkout against ${other}, ${rounds} rounds${als ? ', in an AsyncLocalStorage' : ''} (medians, ms; ratio < 1: this build is faster)`)
for (const [row, s] of Object.entries(samples)) {
  const ms = (xs) => median(xs).toFixed(2).padStart(9)
  console.log(`${row.padEnd(26)} this ${ms(s.this)}  DIR ${ms(s.DIR)}  this/DIR ${median(s.ratio).toFixed(3)}`)
}
