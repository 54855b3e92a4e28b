// The server rows of the benchmark alone, quickly: this addon on PostgreSQL and Redis beside
// the community stores of server-stores.mjs, on the same real data, stores interleaved round
// by round, printing medians and the ratios of the same run (the only ones that mean
// anything on a shared machine).
//
//   node --expose-gc benches/servers.mjs [--rounds N] [--only REGEX] [--base DIR]
//
// --only keeps the workloads whose name matches (e.g. 'W3|W5'). --base DIR adds this addon
// as built in another checkout DIR (its own index.js and .node), as rows `base-pg` and
// `base-redis`, to compare two builds in one run.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { dataFromChild } from './data.mjs'
import { ROWS } from './report.mjs'
import { serverStores } from './server-stores.mjs'
import { processContext, WORKLOADS } from './workloads.mjs'

const args = process.argv.slice(2)
const option = (name, fallback) => {
  const at = args.indexOf(name)
  return at >= 0 ? args[at + 1] : fallback
}
const rounds = Number(option('--rounds', 7))
const only = new RegExp(option('--only', '.'))
const baseDir = option('--base', null)

const shape = ({ state, saveCreds, close }) => ({
  creds: state.creds,
  keys: state.keys,
  saveCreds: () => saveCreds(),
  close,
})
const stores = await serverStores(shape)
if (baseDir) {
  const base = await import(join(resolve(baseDir), 'benches', 'server-stores.mjs'))
  for (const s of await base.serverStores(shape)) {
    if (s.baseline) stores.push({ ...s, name: s.name.replace('rust-', 'base-'), label: `${s.label}, ${baseDir}` })
  }
}
if (stores.length === 0) throw new Error('neither PostgreSQL nor Redis answers (see server-stores.mjs)')

process.stderr.write('real data from Baileys and libsignal...\n')
const data = dataFromChild('full')
const scratch = mkdtempSync(join(tmpdir(), 'bra-servers-'))
const ctx = processContext(data, scratch)

// The workloads that run on a server (W6 needs a bulk-filled file, W7 watches stalls).
const names = ['W1/W2 pre-keys', 'W3 sequential sessions', 'W4 many sessions', 'W5 saveCreds', 'W8 Signal conversation']
const samples = {}
const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length])
try {
  for (const workload of WORKLOADS.filter((w) => names.includes(w.name) && only.test(w.name))) {
    for (let r = 0; r < rounds; r++) {
      for (const store of rotate(stores, r)) {
        for (const [row, value] of Object.entries(await workload.run(store, ctx))) {
          ;((samples[row] ??= {})[store.name] ??= []).push(value)
        }
      }
    }
    process.stderr.write(`  ${workload.name}\n`)
  }
} finally {
  rmSync(scratch, { recursive: true, force: true })
}

const median = (values) => {
  const s = [...values].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}
const higherIsBetter = (row) => ROWS.find((r) => r.key === row)?.kind === 'rate'
console.log(`medians of ${rounds} rounds; ratio > 1: the first is faster`)
for (const [row, byStore] of Object.entries(samples)) {
  if (row === 'W8share') continue
  const m = Object.fromEntries(Object.entries(byStore).map(([name, v]) => [name, median(v)]))
  const ratio = (a, b) => (m[a] && m[b] ? (higherIsBetter(row) ? m[a] / m[b] : m[b] / m[a]).toFixed(2) : null)
  const pairs = stores
    .filter((s) => s.baseline)
    .flatMap((s) => {
      const vs = [`${s.name}/${s.baseline} ${ratio(s.name, s.baseline)}`]
      const base = s.name.replace('rust-', 'base-')
      if (base !== s.name && m[base] !== undefined) vs.push(`${s.name}/${base} ${ratio(s.name, base)}`)
      return vs
    })
  const figures = Object.entries(m).map(([name, v]) => `${name} ${v.toFixed(1)}`)
  console.log(`${row.padEnd(7)} ${figures.join('  ')}${higherIsBetter(row) ? ' msg/s' : ' ms'}\n        ${pairs.join('  ')}`)
}
