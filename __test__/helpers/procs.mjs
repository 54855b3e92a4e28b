// Child processes for the tests: real node processes running helper scripts, with their
// stdout read line by line, and a look at an SQLite file from outside the library.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

export const helpers = dirname(fileURLToPath(import.meta.url))

const require = createRequire(import.meta.url)

/** better-sqlite3, when installed (a devDependency): an independent reader of the file. */
export const Database = (() => {
  try {
    return require('better-sqlite3')
  } catch {
    return null
  }
})()

export const NO_SQLITE = 'needs better-sqlite3 (a devDependency): run npm install'

/** `PRAGMA integrity_check` of the file, read-only, from a connection outside the library. */
export function integrity(path) {
  const db = new Database(path, { readonly: true, fileMustExist: true })
  try {
    return db.pragma('integrity_check', { simple: false }).map((r) => r.integrity_check).join('; ')
  } finally {
    db.close()
  }
}

/**
 * Runs a helper script in a new node process. Returns the child plus:
 * - `lines`: every stdout line so far; `onLine(fn)` to watch new ones;
 * - `line(pred, ms)`: a promise of the first line matching `pred` (a prefix or a function);
 * - `exited`: a promise of `{ code, signal, stderr }`.
 */
export function run(script, args = [], options = {}) {
  const child = spawn(process.execPath, [join(helpers, script), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    ...options,
  })
  const lines = []
  const watchers = new Set()
  let partial = ''
  let stderr = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', (chunk) => {
    partial += chunk
    let nl
    while ((nl = partial.indexOf('\n')) !== -1) {
      const l = partial.slice(0, nl)
      partial = partial.slice(nl + 1)
      lines.push(l)
      for (const w of watchers) w(l)
    }
  })
  child.stderr.on('data', (chunk) => {
    stderr += chunk
  })
  child.stdin.on('error', () => {}) // a killed child closes its stdin under us
  const exited = new Promise((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stderr, lines }))
  })
  const onLine = (fn) => {
    watchers.add(fn)
    return () => watchers.delete(fn)
  }
  const line = (pred, ms = 30_000) => {
    const match = typeof pred === 'function' ? pred : (l) => l.startsWith(pred)
    const seen = lines.find(match)
    if (seen !== undefined) return Promise.resolve(seen)
    return new Promise((resolve, reject) => {
      let done = false
      const finish = (fn, v) => {
        if (done) return
        done = true
        clearTimeout(timer)
        off()
        fn(v)
      }
      const timer = setTimeout(
        () => finish(reject, new Error(`${script}: no line matching ${pred} within ${ms} ms; stderr: ${stderr}`)),
        ms,
      )
      const off = onLine((l) => match(l) && finish(resolve, l))
      exited.then(({ code, signal }) =>
        finish(reject, new Error(`${script} exited (code ${code}, signal ${signal}) before a line matching ${pred}; stderr: ${stderr}`)),
      )
    })
  }
  return Object.assign(child, { lines, onLine, line, exited, stderrText: () => stderr })
}

/** Runs a helper to its end; resolves to `{ code, signal, stderr, lines }`. */
export async function runToEnd(script, args = [], options = {}) {
  const child = run(script, args, options)
  child.stdin.end()
  return child.exited
}

/** The uid and gid of `nobody`, to drop root's privileges in a child. */
export function nobody() {
  return { uid: 65534, gid: 65534 }
}
