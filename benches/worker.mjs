// One step of the benchmark, run by benches/run.mjs in its own process:
//
//   worker.mjs data     <root> <full|smoke> [--no-fixture]
//                                            make the data set and (unless told not to) the
//                                            Rust limit's fixture
//   worker.mjs populate <root>               fill one big store per kind for W6
//   worker.mjs measure  <root> <plain|als>   every workload, stores interleaved round by round
//   worker.mjs rss      <root> <store>       W1-W8 once on one store, watching RSS (W9)
//
// Separate processes because an AsyncLocalStorage, once run (Baileys' transaction layer runs
// one), slows every promise of the process from then on: the plain mode must never see one,
// and RSS is only attributable to a store in a process of its own.
import { AsyncLocalStorage } from 'node:async_hooks'
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { deserialize, serialize } from 'node:v8'
import { STORES, storeByName } from './stores.mjs'
import { processContext, WORKLOADS } from './workloads.mjs'

const [task, root, arg, flag] = process.argv.slice(2)
const paths = {
  data: join(root, 'data.v8'),
  fixture: join(root, 'limit.fixture'),
  bulk: join(root, 'bulk.json'),
  result: (name) => join(root, `${name}.json`),
}

const loadData = () => deserialize(readFileSync(paths.data))
const writeResult = (name, value) => writeFileSync(paths.result(name), JSON.stringify(value))

function makeContext(data, { als = null } = {}) {
  const scratch = join(root, 'scratch')
  mkdirSync(scratch, { recursive: true })
  return processContext(data, scratch, { als, bulk: readJsonIfAny(paths.bulk) })
}

function readJsonIfAny(path) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'))
  } catch {
    return null
  }
}

/** Size (as written, and as allocated on disk) and count of the files under `dir`. */
function footprint(dir) {
  let bytes = 0
  let allocated = 0
  let files = 0
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const st = statSync(join(entry.parentPath ?? entry.path, entry.name))
    bytes += st.size
    allocated += st.blocks * 512
    files++
  }
  return { bytes, allocated, files }
}

async function makeDataSet(sizeName, fixture) {
  const { SIZES, generateData, writeLimitFixture } = await import('./data.mjs')
  const data = await generateData(SIZES[sizeName], sizeName === 'smoke')
  writeFileSync(paths.data, serialize(data))
  if (fixture) await writeLimitFixture(paths.fixture, data)
}

async function populate() {
  const { bulkChunks, structuredCloneWithBuffers } = await import('./data.mjs')
  const data = loadData()
  const out = {}
  for (const store of STORES.filter((s) => !s.server)) {
    const start = performance.now()
    const dir = join(root, 'bulk', store.name)
    mkdirSync(dir, { recursive: true })
    const auth = await store.open(dir)
    Object.assign(auth.creds, structuredCloneWithBuffers(data.creds))
    await auth.saveCreds()
    for (const chunk of bulkChunks(data)) await auth.keys.set(chunk)
    await auth.close()
    out[store.name] = { dir, ...footprint(dir) }
    process.stderr.write(`  ${store.label}: ${((performance.now() - start) / 1000).toFixed(1)} s\n`)
  }
  writeFileSync(paths.bulk, JSON.stringify(out))
}

const rotate = (list, by) => list.map((_, i) => list[(i + by) % list.length])

async function measure(mode) {
  const ctx = makeContext(loadData(), { als: mode === 'als' ? new AsyncLocalStorage() : null })
  const rounds = ctx.data.smoke ? () => 1 : (w) => w.rounds
  const samples = {}
  for (const workload of WORKLOADS) {
    const start = performance.now()
    for (let r = 0; r < rounds(workload); r++) {
      for (const store of rotate(STORES, r)) {
        const figures = await workload.run(store, ctx)
        for (const [row, value] of Object.entries(figures)) {
          ;((samples[row] ??= {})[store.name] ??= []).push(value)
        }
      }
    }
    const seconds = ((performance.now() - start) / 1000).toFixed(1)
    process.stderr.write(`  ${mode}: ${workload.name} (${seconds} s)\n`)
  }
  writeResult(mode, samples)
}

async function rss(storeName) {
  const store = storeByName(storeName)
  const ctx = makeContext(loadData())
  const mb = () => process.memoryUsage.rss() / 2 ** 20
  globalThis.gc?.()
  const baseline = mb()
  let peak = baseline
  const sampler = setInterval(() => (peak = Math.max(peak, mb())), 5)
  for (const workload of WORKLOADS) {
    await workload.run(store, ctx)
    peak = Math.max(peak, mb())
  }
  clearInterval(sampler)
  globalThis.gc?.()
  const end = mb()
  writeResult(`rss-${storeName}`, { baseline, peak: Math.max(peak, end), end, growth: end - baseline })
}

switch (task) {
  case 'data':
    await makeDataSet(arg, flag !== '--no-fixture')
    break
  case 'populate':
    await populate()
    break
  case 'measure':
    await measure(arg)
    break
  case 'rss':
    await rss(arg)
    break
  default:
    throw new Error(`unknown task ${task}`)
}
