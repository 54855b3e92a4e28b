'use strict'
// Human output of the command-line tool: sizes, dates, aligned tables and a progress bar.

const UNITS = ['KB', 'MB', 'GB', 'TB']

/** `1536` → `1.5 KB`: sizes in powers of 1024, one decimal below 100. */
function formatBytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '-'
  if (n < 1024) return `${n} B`
  let value = n
  let unit = -1
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit++
  }
  return `${value < 100 ? value.toFixed(1) : Math.round(value)} ${UNITS[unit]}`
}

/** A Date (or ms, or ISO text) as ISO 8601; `-` when absent. */
function formatDate(d) {
  if (d === null || d === undefined) return '-'
  const date = d instanceof Date ? d : new Date(d)
  return Number.isNaN(date.getTime()) ? '-' : date.toISOString()
}

function formatMs(ms) {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`
}

const yesNo = (b) => (b ? 'yes' : 'no')

/** A lease holder as `pid@host since <date> (live|stale)`; `-` when none. */
function formatHolder(h) {
  if (!h) return '-'
  return `${h.pid}@${h.host} since ${formatDate(h.since)} (${h.live ? 'live' : 'stale'})`
}

/**
 * Rows as aligned columns under a header. `columns` is `[{ title, get, right }]`: `get(row)`
 * gives the cell text, `right` aligns numbers to the right.
 */
function table(columns, rows) {
  const cells = [columns.map((c) => c.title), ...rows.map((r) => columns.map((c) => String(c.get(r))))]
  const widths = columns.map((_, i) => Math.max(...cells.map((line) => line[i].length)))
  const last = columns.length - 1
  return cells
    .map((line) =>
      line
        .map((cell, i) => (columns[i].right ? cell.padStart(widths[i]) : i === last ? cell : cell.padEnd(widths[i])))
        .join('  '),
    )
    .join('\n')
}

/** `[label, value]` pairs as two aligned columns; pairs whose value is `undefined` are skipped. */
function fields(pairs, indent = '') {
  const shown = pairs.filter(([, v]) => v !== undefined)
  const width = Math.max(0, ...shown.map(([k]) => k.length))
  return shown.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v}`).join('\n')
}

/**
 * A progress bar redrawn in place on `stream` when it is a terminal; does nothing otherwise,
 * so logs and pipes never fill up with carriage returns.
 */
function progressBar(stream, unit) {
  if (!stream.isTTY) return { update() {}, end() {} }
  const WIDTH = 30
  let drawn = false
  return {
    update({ done, total }) {
      if (!(total > 0)) return
      const ratio = Math.min(1, done / total)
      const filled = Math.round(ratio * WIDTH)
      const bar = '#'.repeat(filled) + '-'.repeat(WIDTH - filled)
      stream.write(`\r[${bar}] ${done}/${total} ${unit} ${String(Math.floor(ratio * 100)).padStart(3)}%`)
      drawn = true
    },
    end() {
      if (drawn) stream.write('\r\x1b[K')
      drawn = false
    },
  }
}

/** Text broken into lines of at most `width` characters, at spaces. */
function wrap(text, width = 90) {
  const lines = []
  let line = ''
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  if (line !== '') lines.push(line)
  return lines.join('\n')
}

module.exports = { wrap, formatBytes, formatDate, formatMs, formatHolder, yesNo, table, fields, progressBar }
