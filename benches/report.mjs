// Turns the raw samples into figures (median, min-max, ops/s, ratios, target verdicts) and
// prints them. Ratios always compare medians from the same run.

/** The addon in its default setting: the store the targets are set for. */
const DEFAULT = 'rust'
const LIMIT_OF = { rust: 'normal', 'rust-full': 'full' }

// kind: 'time' (ms, lower is better), 'bytes', 'count', 'stall' (ms), 'rate' (msg/s), 'share' (%).
// ref / limit: the targets, per store, on the ratio vs the reference (how many times faster,
// or for sizes and rates store / reference) and vs the Rust limit (how many times slower).
export const ROWS = [
  {
    key: 'W1',
    label: (s) => `W1  keys.set of ${s.preKeys} pre-keys, one call`,
    kind: 'time',
    ops: (s) => s.preKeys,
    targets: { rust: { ref: ['>=', 4], limit: ['<=', 3] } },
  },
  {
    key: 'W2',
    label: (s) => `W2  keys.get of those ${s.preKeys} pre-keys`,
    kind: 'time',
    ops: (s) => s.preKeys,
    targets: { rust: { ref: ['>=', 3], limit: ['<=', 3] } },
  },
  {
    key: 'W3set',
    label: (s) => `W3  ${s.steps} sequential awaited single-session sets`,
    kind: 'time',
    ops: (s) => s.steps,
    targets: { rust: { ref: ['>=', 1.3], limit: ['<=', 1.3] } },
  },
  {
    key: 'W3get',
    label: (s) => `W3  ${s.steps} sequential single-session gets`,
    kind: 'time',
    ops: (s) => s.steps,
    targets: { rust: { ref: ['>=', 3] } },
  },
  {
    key: 'W3c',
    label: (s) => `W3c ${s.steps} single-session sets, ${s.concurrency} at a time`,
    kind: 'time',
    ops: (s) => s.steps,
    targets: { rust: { ref: ['>=', 2] }, 'rust-full': { ref: ['>', 1] } },
  },
  {
    key: 'W4get',
    label: (s) => `W4  keys.get of ${s.sessions} sessions`,
    kind: 'time',
    ops: (s) => s.sessions,
    targets: { rust: { ref: ['>=', 3.5] } },
  },
  {
    key: 'W4set',
    label: (s) => `W4  keys.set of ${s.sessions} sessions`,
    kind: 'time',
    ops: (s) => s.sessions,
    targets: { rust: { ref: ['>=', 1.6] } },
  },
  {
    key: 'W5',
    label: (s) => `W5  ${s.creds} sequential saveCreds() after small mutations`,
    kind: 'time',
    ops: (s) => s.creds,
    targets: { rust: { ref: ['>=', 2.5] } },
  },
  {
    key: 'W6open',
    label: (s) => `W6  open + first get, ${s.bulk.toLocaleString('en')} keys stored`,
    kind: 'time',
    ops: () => 1,
  },
  {
    key: 'W6bytes',
    label: () => 'W6  bytes on disk after close (file sizes)',
    kind: 'bytes',
    targets: { rust: { ref: ['<=', 0.9] } },
  },
  { key: 'W6allocated', label: () => 'W6  disk space allocated after close', kind: 'bytes' },
  { key: 'W6files', label: () => 'W6  files after close', kind: 'count' },
  {
    key: 'W7w1',
    label: () => 'W7  longest event-loop stall during W1 (idle floor beside)',
    kind: 'stall',
    floor: 'W7w1idle',
    targets: { rust: { floor: 3 } },
  },
  {
    key: 'W7w4',
    label: () => 'W7  longest event-loop stall during W4 (idle floor beside)',
    kind: 'stall',
    floor: 'W7w4idle',
    targets: { rust: { floor: 3 } },
  },
  {
    key: 'W8rate',
    label: (s) => `W8  Signal conversation, ${s.messages} messages end to end`,
    kind: 'rate',
    targets: { rust: { ref: ['>=', 1] } },
  },
  {
    key: 'W8share',
    label: () => "W8  share of that time inside the store's get/set",
    kind: 'share',
    targets: { rust: { value: ['<=', 25] } },
  },
]

const sorted = (xs) => [...xs].sort((a, b) => a - b)
function median(xs) {
  const s = sorted(xs)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}
export const summarize = (samples) => ({
  median: median(samples),
  min: Math.min(...samples),
  max: Math.max(...samples),
  samples,
})

/** This addon on a server against the community store on the same server: ≥ 3× on bulk calls, not slower on single ones. */
const SERVER_TARGETS = { bulk: ['>=', 3], single: ['>=', 1] }
const SERVER_ROWS = { W1: 'bulk', W2: 'bulk', W4get: 'bulk', W4set: 'bulk', W3set: 'single', W3get: 'single', W5: 'single' }

const holds = ([op, bound], x) => (op === '>=' ? x >= bound : op === '>' ? x > bound : x <= bound)

/**
 * Figures of one mode: `{ [row]: { [store]: { median, min, max, samples, opsPerSec,
 * vsReference, vsLimit, floor, checks: [{ what, target, value, pass }] } } }`.
 */
function figures(samples, { sizes, limit, bulk, baselines = {} }) {
  const out = {}
  for (const row of ROWS) {
    const byStore = {}
    const raw = { ...samples[row.key] }
    if (row.key.startsWith('W6') && row.key !== 'W6open') {
      const field = { W6bytes: 'bytes', W6allocated: 'allocated', W6files: 'files' }[row.key]
      for (const [store, b] of Object.entries(bulk)) raw[store] = [b[field]]
    }
    for (const [store, values] of Object.entries(raw)) byStore[store] = summarize(values)
    for (const [store, f] of Object.entries(byStore)) {
      // Server rows compare with the community store on the same server.
      const ref = byStore[baselines[store]] ?? byStore.reference
      if (baselines[store]) f.versus = baselines[store]
      if (row.kind === 'time') {
        f.opsPerSec = row.ops(sizes) / (f.median / 1000)
        f.vsReference = ref.median / f.median
        const lim = limit?.[LIMIT_OF[store]]?.[row.key]
        if (lim) f.vsLimit = f.median / median(lim)
      } else if (row.kind === 'bytes' || row.kind === 'count' || row.kind === 'rate') {
        f.vsReference = f.median / ref.median
      } else if (row.kind === 'stall') {
        f.floor = median(samples[row.floor][store])
      }
      const t = baselines[store] ? SERVER_ROWS[row.key] && { ref: SERVER_TARGETS[SERVER_ROWS[row.key]] } : row.targets?.[store]
      if (!t) continue
      f.checks = []
      if (t.ref) f.checks.push({ what: 'vs reference', versus: f.versus, target: t.ref, value: f.vsReference, pass: holds(t.ref, f.vsReference) })
      if (t.limit && f.vsLimit !== undefined) {
        f.checks.push({ what: 'vs limit', target: t.limit, value: f.vsLimit, pass: holds(t.limit, f.vsLimit) })
      }
      if (t.floor !== undefined) {
        const bound = f.floor + t.floor
        f.checks.push({ what: 'vs idle floor', target: ['<=', bound], value: f.median, pass: f.median <= bound })
      }
      if (t.value) f.checks.push({ what: 'value', target: t.value, value: f.median, pass: holds(t.value, f.median) })
    }
    out[row.key] = byStore
  }
  return out
}

export function buildResults({ sizes, smoke, modes, limit, bulk, rss, seconds, labels, baselines }) {
  const limitFigures = {}
  for (const [durability, rows] of Object.entries(limit)) {
    limitFigures[durability] = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, summarize(v)]))
  }
  return {
    meta: {
      date: new Date().toISOString(),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      smoke,
      seconds,
      sizes,
      stores: labels,
      baselines,
    },
    modes: Object.fromEntries(Object.entries(modes).map(([mode, s]) => [mode, figures(s, { sizes, limit, bulk, baselines })])),
    limit: limitFigures,
    bulk: Object.fromEntries(Object.entries(bulk).map(([k, { dir, ...rest }]) => [k, rest])),
    rss,
  }
}

// Printing.

const num = (x, digits = 3) => {
  if (!Number.isFinite(x)) return String(x)
  const abs = Math.abs(x)
  if (abs >= 10 ** digits) return Math.round(x).toLocaleString('en')
  const fixed = x.toPrecision(digits)
  return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed
}
const si = (x) => (x >= 1e6 ? `${num(x / 1e6)}M` : x >= 1e3 ? `${num(x / 1e3)}k` : num(x))
const mb = (bytes) => `${num(bytes / 2 ** 20)} MB`

function formatValue(kind, x) {
  switch (kind) {
    case 'time':
    case 'stall':
      return `${num(x)} ms`
    case 'bytes':
      return mb(x)
    case 'count':
      return Math.round(x).toLocaleString('en')
    case 'rate':
      return `${num(x)} msg/s`
    case 'share':
      return `${num(x)} %`
  }
}

function formatRange(kind, f) {
  if (f.samples.length < 2) return ''
  const v = (x) => formatValue(kind, x).replace(/ .*$/, '')
  return `${v(f.min)}–${v(f.max)}`
}

function verdict(check) {
  if (!check) return ''
  const [op, bound] = check.target
  const sign = op === '>=' ? '≥' : op === '>' ? '>' : '≤'
  const unit = check.what === 'vs idle floor' ? ' ms' : check.what === 'value' ? '' : '×'
  return `${sign}${num(bound)}${unit} ${check.pass ? 'PASS' : 'FAIL'}`
}

function refRatio(row, f, store) {
  if (f.vsReference === undefined || store === 'reference') return ''
  const of = f.versus ? ` (${f.versus})` : ''
  if (row.kind === 'time') return f.vsReference >= 1 ? `${num(f.vsReference)}× faster${of}` : `${num(1 / f.vsReference)}× slower${of}`
  return `${num(f.vsReference)}×${of}`
}

const COLUMNS = [
  ['', 26, 'left'],
  ['median', 12],
  ['min–max', 15],
  ['ops/s', 8],
  ['vs reference', 22],
  ['target', 12],
  ['vs limit', 10],
  ['target', 12],
]

function line(cells) {
  return cells
    .map((c, i) => {
      const [, width, align] = COLUMNS[i]
      return align === 'left' ? c.padEnd(width) : c.padStart(width)
    })
    .join('  ')
    .trimEnd()
}

function printMode(title, rows, results, out) {
  const { sizes, stores } = results.meta
  out.push('', title, line(COLUMNS.map(([h]) => h)))
  for (const row of ROWS) {
    out.push(row.label(sizes))
    const byStore = rows[row.key]
    for (const [store, label] of Object.entries(stores)) {
      const f = byStore[store]
      if (!f) continue
      const checks = f.checks ?? []
      const refCheck = checks.find((c) => c.what === 'vs reference' || c.what === 'vs idle floor' || c.what === 'value')
      const limitCheck = checks.find((c) => c.what === 'vs limit')
      let ratio = refRatio(row, f, store)
      if (row.kind === 'stall') ratio = `floor ${num(f.floor)} ms`
      out.push(
        line([
          `  ${label}`,
          formatValue(row.kind, f.median),
          formatRange(row.kind, f),
          f.opsPerSec ? si(f.opsPerSec) : '',
          ratio,
          verdict(refCheck),
          f.vsLimit ? `${num(f.vsLimit)}×` : '',
          verdict(limitCheck),
        ]),
      )
    }
    for (const [durability, lim] of Object.entries(results.limit)) {
      const f = lim[row.key]
      if (!f) continue
      out.push(line([`  limit (${durability})`, formatValue('time', f.median), formatRange('time', f), si(row.ops(sizes) / (f.median / 1000))]))
    }
  }
}

export function printReport(results) {
  const out = []
  const { meta } = results
  out.push(
    `baileys-rust-auth benchmark${meta.smoke ? ' (smoke: tiny sizes, figures meaningless)' : ''}`,
    `${meta.date}  node ${meta.node}  ${meta.platform}`,
    'median of rounds (stores interleaved, order rotated each round); "vs reference" compares',
    'medians; "vs limit": times the same SQLite work done in Rust on pre-encoded bytes.',
    'Server rows ("rust (PostgreSQL)", "rust (Redis)") compare with the community store on the',
    'same server, named in brackets.',
    "W8 goes through Baileys' transaction layer, which runs its own AsyncLocalStorage in both modes.",
  )
  const titles = {
    plain: '== plain ==',
    als: '== with an AsyncLocalStorage active (als.run around each workload, as under a Baileys socket) ==',
  }
  for (const [mode, rows] of Object.entries(results.modes)) printMode(titles[mode] ?? mode, rows, results, out)

  out.push('', 'W9  RSS across W1–W8, one process per store, one round each')
  out.push(`${''.padEnd(28)}${'baseline'.padStart(12)}${'peak'.padStart(12)}${'growth'.padStart(12)}${'peak vs ref'.padStart(14)}`)
  const ref = results.rss.reference
  for (const [store, label] of Object.entries(meta.stores)) {
    const r = results.rss[store]
    if (!r) continue
    out.push(
      `  ${label.padEnd(26)}${`${num(r.baseline)} MB`.padStart(12)}${`${num(r.peak)} MB`.padStart(12)}` +
        `${`${num(r.growth)} MB`.padStart(12)}${(store === 'reference' ? '' : `${num(r.peak / ref.peak)}×`).padStart(14)}`,
    )
  }

  out.push('', 'Targets')
  for (const [mode, rows] of Object.entries(results.modes)) {
    const all = []
    for (const row of ROWS) {
      for (const [store, f] of Object.entries(rows[row.key])) {
        for (const c of f.checks ?? []) all.push({ row, store, c })
      }
    }
    const failed = all.filter((x) => !x.c.pass)
    out.push(`  ${mode}: ${all.length - failed.length}/${all.length} pass`)
    for (const { row, store, c } of failed) {
      out.push(`    FAIL ${row.key} ${meta.stores[store]} ${c.versus ? `vs ${c.versus}` : c.what}: ${num(c.value)} (target ${verdict(c).replace(/ FAIL$/, '')})`)
    }
  }
  out.push('', `${Math.round(meta.seconds)} s in all`)
  console.log(out.join('\n'))
}
