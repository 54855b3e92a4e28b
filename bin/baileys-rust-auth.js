#!/usr/bin/env node
'use strict'
// The baileys-rust-auth command: see `baileys-rust-auth --help`.

const { main } = require('../lib/cli/main.js')

// exitCode, not exit(): a large JSON document on a pipe is written out in full first.
main(process.argv.slice(2)).then((code) => {
  process.exitCode = code
})
