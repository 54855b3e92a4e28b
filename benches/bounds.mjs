// What bounds the rows of the benchmark that miss their targets against the reference: each
// timed whole, for this store and the reference, and in parts of this store's work, alternated
// round by round in one process on the benchmark's data. A part's ratio is how far ahead of
// the reference this store would be if that part were all it did: where it is short of the
// target, no saving made elsewhere meets it.
//
//   node --expose-gc benches/bounds.mjs [--rounds N] [--smoke]
//
// --smoke runs one round on the benchmark's tiny data, to keep the script working.
//
// The parts: "write alone" is the native store handed the frame already encoded (checked,
// compacted and written by SQLite, through the storage thread for a large set as a `keys.set`
// goes, on the JavaScript thread for creds); "read alone" is a read answered on the
// JavaScript thread into a buffer (through the storage thread when it cannot be, as
// index.js reads), not decoded; "encoding alone" is lib/codec.js making the frame.
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dataFromChild, mutateCreds, structuredCloneWithBuffers } from './data.mjs'
import { storeByName } from './stores.mjs'
import { processContext } from './workloads.mjs'

const require = createRequire(import.meta.url)
const codec = require('../lib/codec.js')
const { checkOptions, openStore } = require('../lib/open.js')

const args = process.argv.slice(2)
const smoke = args.includes('--smoke')
const at = args.indexOf('--rounds')
const rounds = at >= 0 ? Number(args[at + 1]) : smoke ? 1 : 15
const data = dataFromChild(smoke ? 'smoke' : 'full')
const n = data.sizes

/**
 * The reference's and this store's variants of a row, each a store of the benchmark opened in
 * its directory: `prepare(auth)` readies the store and resolves to the run to time.
 */
const bothStores = (prepare) =>
  Object.fromEntries(
    [
      ['reference', 'reference'],
      ['this store', 'rust'],
    ].map(([label, name]) => [
      label,
      async (dir) => {
        const auth = await storeByName(name).open(dir)
        return [await prepare(auth), auth.close]
      },
    ]),
  )
/** The native store alone, opened as useRustAuthState opens it by default. */
async function nativeStore(dir) {
  const path = join(dir, 'auth.db')
  const { store } = await openStore(path, checkOptions(path))
  return store
}
/** The frame of one `keys.set` of `data`, copied out of the encoder's buffer. */
const frameOf = async (data) => Buffer.from(await codec.encodeSet(data))
const noClose = async () => {}

const preKeys = { 'pre-key': data.preKeys }
/** Writes, with `set(data)`, the sessions the gets read, as W3 writes them. */
async function writeSessions(set) {
  await set({ session: data.sessions })
  for (const { id, value } of data.steps) await set({ session: { [id]: value } })
}
/** W3's gets from the native store alone, decoded or not. */
const nativeGets = (decode) => async (dir) => {
  const store = await nativeStore(dir)
  await writeSessions(async (d) => store.set(await frameOf(d)))
  const out = Buffer.allocUnsafeSlow(256 * 1024)
  const read = async (id) => {
    const ids = codec.encodeIds([id])
    // As index.js does: through the storage thread when the read cannot be made at once.
    const frame = store.getSync('session', ids, out) >= 0 ? out : await store.get('session', ids)
    if (decode) codec.decodeMapNow(frame)
  }
  const run = async () => {
    for (const id of data.getIds) await read(id)
  }
  return [run, () => store.close()]
}

/** Creds as the workload saves them: mutated before each save, from the same start. */
const freshCreds = () => structuredCloneWithBuffers(data.creds)
/** The workload's saves: `save(creds)` after each mutation. */
async function saves(creds, save) {
  for (let i = 0; i < n.creds; i++) {
    mutateCreds(creds, i)
    await save(creds)
  }
}

/**
 * Each row: the benchmark's workload, its target against the reference, and its variants.
 * A variant's `setup(dir)` resolves to `[run, close]`: `run` is timed, `close` is not.
 */
const ROWS = [
  {
    name: `W1 keys.set of ${n.preKeys} pre-keys`,
    target: 4,
    variants: {
      ...bothStores(async (auth) => () => auth.keys.set(preKeys)),
      'its write alone': async (dir) => {
        const [store, frame] = [await nativeStore(dir), await frameOf(preKeys)]
        return [() => store.set(frame), () => store.close()]
      },
      'its encoding alone': async () => [() => codec.encodeSet(preKeys), noClose],
    },
  },
  {
    name: `W3 ${n.steps} sequential single-session gets`,
    target: 3,
    variants: {
      ...bothStores(async (auth) => {
        await writeSessions((d) => auth.keys.set(d))
        return async () => {
          for (const id of data.getIds) await auth.keys.get('session', [id])
        }
      }),
      'its read alone': nativeGets(false),
      'its read and decoding': nativeGets(true),
    },
  },
  {
    name: `W5 ${n.creds} sequential saveCreds()`,
    target: 2.5,
    variants: {
      ...bothStores(async (auth) => {
        Object.assign(auth.creds, freshCreds())
        await auth.saveCreds()
        return () => saves(auth.creds, () => auth.saveCreds())
      }),
      'its write alone': async (dir) => {
        const store = await nativeStore(dir)
        const each = []
        await saves(freshCreds(), (creds) => each.push(Buffer.from(codec.encodeValue(creds))))
        await store.saveCreds(each[0])
        const run = async () => {
          for (const creds of each) {
            const done = store.saveCredsNow(creds)
            // As index.js does: through the storage thread when it cannot write at once.
            await (done === true ? undefined : done === false ? store.saveCreds(creds) : done)
          }
        }
        return [run, () => store.close()]
      },
      'its encoding alone': async () => [() => saves(freshCreds(), (creds) => Buffer.from(codec.encodeValue(creds))), noClose],
    },
  },
]

const scratch = mkdtempSync(join(tmpdir(), 'bra-bounds-'))
const ctx = processContext(data, scratch)
const samples = ROWS.map((row) => Object.fromEntries(Object.keys(row.variants).map((v) => [v, { ms: [], ratio: [] }])))
try {
  for (let r = 0; r < rounds; r++) {
    for (const [i, row] of ROWS.entries()) {
      const names = Object.keys(row.variants)
      // Each variant goes first in turn.
      const order = names.slice(r % names.length).concat(names.slice(0, r % names.length))
      const got = {}
      for (const name of order) {
        const dir = ctx.freshDir()
        try {
          const [run, close] = await row.variants[name](dir)
          got[name] = await ctx.time(run)
          await close()
        } finally {
          ctx.removeDir(dir)
        }
      }
      for (const name of names) {
        samples[i][name].ms.push(got[name])
        samples[i][name].ratio.push(got.reference / got[name])
      }
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
console.log(`${rounds} round${rounds === 1 ? '' : 's'}, variants alternated (medians; "×": the reference's time over the variant's, median of the rounds)`)
for (const [i, row] of ROWS.entries()) {
  console.log(`${row.name} (target: ${row.target}× the reference)`)
  for (const [name, s] of Object.entries(samples[i])) {
    const ratio = name === 'reference' ? '' : `${median(s.ratio).toFixed(2).padStart(8)}×`
    console.log(`  ${name.padEnd(24)}${median(s.ms).toFixed(2).padStart(9)} ms${ratio}`)
  }
}
