// Where the store's time goes inside the benchmark's conversation (W8): this store and the
// reference alternated round by round in one process, each write split into its steps.
//
//   node --expose-gc benches/w8-split.mjs [--rounds N] [--smoke]
//
// --smoke runs one round of a few messages, to keep the script working.
//
// Medians in µs. This store, per `keys.set`: its encoding (lib/codec.js), and its commit on
// the JavaScript thread (`setNow`: the frame parsed, checked and compacted to the stored
// form, then the SQLite transaction). The reference, per value: its JSON text
// (`JSON.stringify` with `BufferJSON.replacer`) and its statement; per `keys.set`: its whole
// transaction (JSON text, statement, BEGIN and COMMIT). Nearly every write of the
// conversation is one value.
import { mkdtempSync, rmSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { dataFromChild } from './data.mjs'
import { useReferenceAuthState } from './reference-store.mjs'
import { shape, STORES } from './stores.mjs'
import { processContext, WORKLOADS } from './workloads.mjs'

const require = createRequire(import.meta.url)
const args = process.argv.slice(2)
const smoke = args.includes('--smoke')
const at = args.indexOf('--rounds')
const rounds = at >= 0 ? Number(args[at + 1]) : smoke ? 1 : 9

/** Wraps `obj[name]` so that, while `on.now`, each call's time (ms) is pushed to `into`. */
function timeCalls(obj, name, into, on) {
  const inner = obj[name]
  obj[name] = function (...a) {
    if (!on.now) return inner.apply(this, a)
    const start = performance.now()
    const out = inner.apply(this, a)
    into.push(performance.now() - start)
    return out
  }
}

const on = { now: false }
const mine = { encode: [], commit: [], other: [] }
const codec = require('../lib/codec.js')
const { NativeStore } = require('../binding.js')
timeCalls(codec, 'encodeSet', mine.encode, on)
timeCalls(NativeStore.prototype, 'setNow', mine.commit, on)
// Writes that did not commit at once on the JavaScript thread.
for (const name of ['setLater', 'set']) timeCalls(NativeStore.prototype, name, mine.other, on)

const theirs = { encode: [], statement: [], transaction: [] }
const stores = [
  { ...STORES.find((s) => s.name === 'rust'), label: 'this store' },
  {
    name: 'reference',
    label: 'reference',
    open: async (dir) => shape(await useReferenceAuthState(join(dir, 'auth.db'), { timings: theirs })),
  },
]

const data = dataFromChild(smoke ? 'smoke' : 'full')
const scratch = mkdtempSync(join(tmpdir(), 'bra-w8-'))
const ctx = processContext(data, scratch)
// Only the conversation is timed, not what opens the stores and starts the chat.
const time = ctx.time.bind(ctx)
ctx.time = (fn) =>
  time(async () => {
    on.now = true
    try {
      await fn()
    } finally {
      on.now = false
    }
  })
const conversation = WORKLOADS.find((w) => w.name.startsWith('W8'))

const figures = new Map(stores.map((s) => [s, { rate: [], share: [] }]))
try {
  for (let r = 0; r < rounds; r++) {
    for (const store of r % 2 ? [...stores].reverse() : stores) {
      const { W8rate, W8share } = await conversation.run(store, ctx)
      figures.get(store).rate.push(W8rate)
      figures.get(store).share.push(W8share)
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1]
const us = (xs) => (xs.length ? (1000 * median(xs)).toFixed(1).padStart(7) : '      -')
const { messages } = data.sizes
console.log(`W8 split: ${rounds} round${rounds === 1 ? '' : 's'} of ${messages} messages, the stores alternated (medians)`)
for (const store of stores) {
  const { rate, share } = figures.get(store)
  const perMessage = 1000 / median(rate)
  const inStore = (perMessage * median(share)) / 100
  console.log(
    `${store.label.padEnd(11)} ${median(rate).toFixed(0).padStart(4)} msg/s, ${perMessage.toFixed(2)} ms a message, ` +
      `${inStore.toFixed(3)} ms of it in the store (${median(share).toFixed(1)}%)`,
  )
}
console.log(`per write (µs)      encoding  commit   statement  transaction  writes`)
console.log(`this store          ${us(mine.encode)}  ${us(mine.commit)}        -           -      ${mine.encode.length} (${mine.other.length} not at once)`)
console.log(`reference           ${us(theirs.encode)}        -  ${us(theirs.statement)}      ${us(theirs.transaction)}      ${theirs.transaction.length}`)
