'use strict'
// Where the command-line tool talks: results on stdout (text, or one JSON document with
// --json), errors, progress and questions on stderr, so `--json | jq` always parses.

const readline = require('node:readline/promises')

/** The exit codes, as documented in --help and the README. */
const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2, problems: 3, locked: 4 })

/** An error in how the tool was called: exit code 2. */
class UsageError extends Error {
  constructor(message) {
    super(message)
    this.code = 'ERR_USAGE'
  }
}

/** The user declined a confirmation: nothing was changed. */
class CancelledError extends Error {
  constructor(message) {
    super(message)
    this.code = 'ERR_CANCELLED'
  }
}

/** A failed operation with a code of its own (exit code 1), for failures found here. */
function failure(code, message) {
  return Object.assign(new Error(message), { code })
}

function makeIo({ stdin = process.stdin, stdout = process.stdout, stderr = process.stderr } = {}) {
  const line = (stream, text) => stream.write(text.endsWith('\n') ? text : `${text}\n`)
  return {
    stdin,
    stdout,
    stderr,
    out: (text) => line(stdout, text),
    err: (text) => line(stderr, text),
    /** Dates become ISO text through their toJSON. */
    json: (value) => line(stdout, JSON.stringify(value, null, 2)),
    /**
     * Asks a yes/no question on the terminal. Without a terminal there is nobody to ask, and
     * a destructive command must not go ahead on its own: the caller has to pass --yes.
     */
    ensureCanAsk() {
      if (!stdin.isTTY) throw new UsageError('not a terminal: pass --yes to confirm')
    },
    async confirm(question) {
      this.ensureCanAsk()
      const rl = readline.createInterface({ input: stdin, output: stderr })
      try {
        const answer = await rl.question(`${question} [y/N] `)
        if (!/^y(es)?$/i.test(answer.trim())) throw new CancelledError('cancelled: nothing was changed')
      } finally {
        rl.close()
      }
    },
  }
}

module.exports = { EXIT, makeIo, failure, UsageError, CancelledError }
