// A code change measured on a shared machine: this checkout's build and the one in another
// checkout DIR (its own index.js and .node), alternated round by round in one process that
// has loaded Baileys and the benchmark's stores (as `npm run bench` measures), on the same
// real data. Prints, per workload, both medians and the median of the per-round ratios,
// which moves far less than two runs of the benchmark do. What each build reads back is
// checked against what was written, outside the timed part.
//
//   node --expose-gc benches/ab.mjs DIR [--rounds N] [--als]
//   node --expose-gc benches/ab.mjs --reference [--rounds N] [--als] [--smoke]
//
// --als runs every round inside an AsyncLocalStorage, as the benchmark's second mode does.
// --reference alternates this build with the benchmark's reference store instead: the
// benchmark's main rows against the reference, paired round by round, in about a minute.
// --smoke: the benchmark's tiny data set, for `npm test`.
import { AsyncLocalStorage } from 'node:async_hooks'
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { isDeepStrictEqual } from 'node:util'
import { BufferJSON } from 'baileys'
import { dataFromChild, mutateCreds, structuredCloneWithBuffers } from './data.mjs'
// Baileys and every store loaded, as in the benchmark's process.
import { shape, storeByName } from './stores.mjs'

const args = process.argv.slice(2)
const at = args.indexOf('--rounds')
const smoke = args.includes('--smoke')
const rounds = at >= 0 ? Number(args[at + 1]) : smoke ? 1 : 21
const reference = args.includes('--reference')
const als = args.includes('--als') ? new AsyncLocalStorage() : null
/** Opens a store of the build in another checkout, as stores.mjs opens this one's. */
const rustAt = (index) => {
  const { useRustAuthState } = createRequire(index)(index)
  return async (dir) => shape(await useRustAuthState(join(dir, 'auth.db')))
}
const exactly = (v) => v
// The reference keeps values as JSON text: it reads back what JSON keeps (no `undefined`).
const asJson = (v) => JSON.parse(JSON.stringify(v, BufferJSON.replacer), BufferJSON.reviver)
const other = reference ? null : resolve(args[0] ?? '')
/**
 * Each side: its name, how it opens a store in a directory (the benchmark's store interface,
 * stores.mjs), and what it reads back of a value written.
 */
const builds = [
  ['this', { open: storeByName('rust').open, kept: exactly }],
  reference ? ['reference', { open: storeByName('reference').open, kept: asJson }] : ['DIR', { open: rustAt(join(other, 'index.js')), kept: exactly }],
]
const [, [base]] = builds
const data = dataFromChild(smoke ? 'smoke' : 'full')

/** The data's sizes, which name the rows. */
const n = data.sizes

/** What each session id holds once the sessions and then every step are written. */
const lastWritten = { ...data.sessions }
for (const { id, value } of data.steps) lastWritten[id] = value

/** Checks a read: a build that reads faster by reading wrong must not look faster. */
function expectRead(found, ids, expected, what, kept) {
  for (const id of ids) {
    if (!isDeepStrictEqual(found[id], kept(expected[id]))) throw new Error(`${what}: ${id} read back wrong`)
  }
}

/** One round on a fresh store of `build`: each workload's time in ms. */
async function round({ open, kept }) {
  const dir = mkdtempSync(join(tmpdir(), 'bra-ab-'))
  const auth = await open(dir)
  const timed = async (fn) => {
    globalThis.gc?.()
    await sleep(10)
    const start = performance.now()
    await fn()
    return performance.now() - start
  }
  try {
    const out = {}
    out[`W1 set ${n.preKeys} pre-keys`] = await timed(() => auth.keys.set({ 'pre-key': data.preKeys }))
    const preKeyIds = Object.keys(data.preKeys)
    let found
    out[`W2 get ${n.preKeys} pre-keys`] = await timed(async () => (found = await auth.keys.get('pre-key', preKeyIds)))
    expectRead(found, preKeyIds, data.preKeys, 'W2', kept)
    await auth.keys.set({ session: data.sessions })
    out[`W3 ${n.steps} single sets`] = await timed(async () => {
      for (const { id, value } of data.steps) await auth.keys.set({ session: { [id]: value } })
    })
    out[`W3c ${n.steps} sets, ${n.concurrency} at once`] = await timed(async () => {
      for (let i = 0; i < data.steps.length; i += n.concurrency) {
        const wave = data.steps.slice(i, i + n.concurrency)
        await Promise.all(wave.map(({ id, value }) => auth.keys.set({ session: { [id]: value } })))
      }
    })
    out[`W3 ${n.steps} single gets`] = await timed(async () => {
      for (const id of data.getIds) await auth.keys.get('session', [id])
    })
    // Checked on reads of their own, made the same way: kept, the timed ones would cost
    // their round collections of 2,000 sessions.
    for (const id of data.getIds) expectRead(await auth.keys.get('session', [id]), [id], lastWritten, 'W3 gets', kept)
    const sessionIds = Object.keys(data.sessions)
    out[`W4 get ${n.sessions} sessions`] = await timed(async () => (found = await auth.keys.get('session', sessionIds)))
    expectRead(found, sessionIds, lastWritten, 'W4', kept)
    out[`W4 set ${n.sessions} sessions`] = await timed(() => auth.keys.set({ session: data.sessionsNext }))
    Object.assign(auth.creds, structuredCloneWithBuffers(data.creds))
    await auth.saveCreds()
    out[`W5 ${n.creds} saveCreds`] = await timed(async () => {
      for (let i = 0; i < n.creds; i++) {
        mutateCreds(auth.creds, i)
        await auth.saveCreds()
      }
    })
    return out
  } finally {
    await auth.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const samples = {}
for (let r = 0; r < rounds; r++) {
  // Each build goes first every other round.
  const order = r % 2 ? [...builds].reverse() : builds
  const got = {}
  for (const [name, build] of order) got[name] = await (als ? als.run({ request: 'bench' }, () => round(build)) : round(build))
  for (const row of Object.keys(got.this)) {
    const s = (samples[row] ??= { this: [], base: [], ratio: [] })
    s.this.push(got.this[row])
    s.base.push(got[base][row])
    s.ratio.push(got.this[row] / got[base][row])
  }
}
const against = reference ? 'the reference store' : other
console.log(`this checkout against ${against}, ${rounds} round${rounds === 1 ? '' : 's'}${als ? ', in an AsyncLocalStorage' : ''} (medians, ms; ratio < 1: this build is faster)`)
for (const [row, s] of Object.entries(samples)) {
  const ms = (xs) => median(xs).toFixed(2).padStart(9)
  const ratio = median(s.ratio)
  // Against the reference, the ratio is also said the benchmark's way.
  const faster = !reference ? '' : ratio <= 1 ? `  (${(1 / ratio).toFixed(2)}x faster)` : `  (${ratio.toFixed(2)}x slower)`
  console.log(`${row.padEnd(26)} this ${ms(s.this)}  ${base} ${ms(s.base)}  this/${base} ${ratio.toFixed(3)}${faster}`)
}
