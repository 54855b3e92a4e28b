'use strict'
// Counters and latency histograms per operation and key type, kept in plain numbers:
// recording one call costs two clock reads and a map lookup.

/** Upper bounds of the latency buckets, in seconds (Prometheus `le`). */
const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]

function series(op, type) {
  return { op, type, calls: 0, errors: 0, items: 0, bytes: 0, seconds: 0, buckets: new Array(BUCKETS.length + 1).fill(0) }
}

class Metrics {
  constructor(sessionId) {
    this.sessionId = sessionId
    this.byKey = new Map()
    this.errorCodes = new Map()
    this.since = Date.now()
    this.lastWriteMs = 0
  }

  /** Records one finished call: `items` keys, `bytes` moved, `err` if it failed. */
  record(op, type, started, items, bytes, err) {
    const seconds = (performance.now() - started) / 1000
    const key = type === undefined ? op : `${op}\0${type}`
    let s = this.byKey.get(key)
    if (s === undefined) this.byKey.set(key, (s = series(op, type)))
    s.calls++
    s.items += items
    s.bytes += bytes
    s.seconds += seconds
    let i = 0
    while (i < BUCKETS.length && seconds > BUCKETS[i]) i++
    s.buckets[i]++
    if (err === undefined && op !== 'get') this.lastWriteMs = Date.now()
    if (err !== undefined) {
      s.errors++
      const code = err?.code ?? 'ERR_UNKNOWN'
      this.errorCodes.set(code, (this.errorCodes.get(code) ?? 0) + 1)
    }
  }

  /** A plain-object copy of every figure. */
  snapshot() {
    const operations = [...this.byKey.values()].map((s) => {
      let cumulative = 0
      const buckets = BUCKETS.map((le, i) => ({ le, count: (cumulative += s.buckets[i]) }))
      return {
        op: s.op,
        ...(s.type === undefined ? {} : { type: s.type }),
        calls: s.calls,
        errors: s.errors,
        items: s.items,
        bytes: s.bytes,
        seconds: { sum: s.seconds, buckets },
      }
    })
    return {
      sessionId: this.sessionId,
      since: new Date(this.since).toISOString(),
      operations,
      errors: Object.fromEntries(this.errorCodes),
    }
  }

  /** The Prometheus text exposition format (version 0.0.4). */
  text() {
    const out = []
    const help = (name, kind, text) => out.push(`# HELP ${name} ${text}`, `# TYPE ${name} ${kind}`)
    const labels = (s, extra = '') => {
      const parts = [`session="${escape(this.sessionId)}"`, `op="${s.op}"`]
      if (s.type !== undefined) parts.push(`type="${escape(s.type)}"`)
      return `{${parts.join(',')}${extra}}`
    }
    const all = [...this.byKey.values()]
    const counter = (name, text, field) => {
      help(name, 'counter', text)
      for (const s of all) out.push(`${name}${labels(s)} ${s[field]}`)
    }
    counter('baileys_auth_calls_total', 'Calls made to the auth store.', 'calls')
    counter('baileys_auth_call_errors_total', 'Calls that failed.', 'errors')
    counter('baileys_auth_keys_total', 'Keys read or written.', 'items')
    counter('baileys_auth_bytes_total', 'Encoded bytes read or written.', 'bytes')
    const h = 'baileys_auth_call_duration_seconds'
    help(h, 'histogram', 'Time from call to settled promise.')
    for (const s of all) {
      let cumulative = 0
      BUCKETS.forEach((le, i) => out.push(`${h}_bucket${labels(s, `,le="${le}"`)} ${(cumulative += s.buckets[i])}`))
      out.push(`${h}_bucket${labels(s, ',le="+Inf"')} ${s.calls}`)
      out.push(`${h}_sum${labels(s)} ${s.seconds}`, `${h}_count${labels(s)} ${s.calls}`)
    }
    help('baileys_auth_errors_total', 'counter', 'Failed calls by error code.')
    for (const [code, n] of this.errorCodes) out.push(`baileys_auth_errors_total{session="${escape(this.sessionId)}",code="${code}"} ${n}`)
    return out.join('\n') + '\n'
  }
}

function escape(v) {
  return String(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

module.exports = { Metrics, BUCKETS }
