'use strict'
// The command-line tool: finds the command, parses its options, runs it and turns the
// outcome into an exit code. The commands themselves are in commands.js.

const { parseArgs } = require('node:util')
const { commands } = require('./commands.js')
const { EXIT, makeIo, UsageError } = require('./io.js')
const { fields, wrap } = require('./format.js')

const NAME = 'baileys-rust-auth'

const EXIT_HELP = `Exit codes:
  0  success
  1  the operation failed (the error code is printed)
  2  bad usage: unknown command or option, missing argument
  3  validate found problems in the session
  4  the session is locked by a live process (ERR_SESSION_LOCKED)`

const COMMON = {
  json: { type: 'boolean', description: 'print one JSON document on stdout instead of text' },
  schema: { type: 'string', value: 'NAME', description: "a postgres:// store's schema (default: baileys_auth)" },
  prefix: { type: 'string', value: 'P', description: "a redis:// store's key prefix (default: bra:)" },
  'tls-ca': {
    type: 'string',
    value: 'FILE',
    description: "a rediss:// store: PEM root certificate(s) to check the server's certificate against, instead of the system's",
  },
  help: { type: 'boolean', short: 'h', description: 'show this help' },
}

const byName = new Map(commands.map((c) => [c.name, c]))

function usageLine(cmd) {
  const optional = Object.entries(cmd.options).map(([name, o]) =>
    o.type === 'string' ? `[--${name} ${o.value}]` : `[--${name}]`,
  )
  return [NAME, cmd.name, ...cmd.args.map((a) => `<${a}>`), ...optional, '[--json]'].join(' ')
}

function commandHelp(cmd) {
  const options = Object.entries({ ...cmd.options, ...COMMON }).map(([name, o]) => [
    `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.value}` : ''}`,
    o.description,
  ])
  return [
    `Usage: ${usageLine(cmd)}`,
    '',
    wrap(`${cmd.summary[0].toUpperCase()}${cmd.summary.slice(1)}.${cmd.description ? ` ${cmd.description}` : ''}`),
    '',
    'Options:',
    fields(options, '  '),
    '',
    EXIT_HELP,
  ].join('\n')
}

function mainHelp() {
  return [
    `Usage: ${NAME} <command> [arguments] [options]`,
    '',
    'Inspect and manage baileys-rust-auth stores (SQLite files holding Baileys sessions).',
    '',
    'Commands:',
    fields(
      commands.map((c) => [c.name, c.summary]),
      '  ',
    ),
    '',
    `Run '${NAME} help <command>' or '${NAME} <command> --help' for a command's options,`,
    `'${NAME} --version' for the version.`,
    'Every command takes --json for one JSON document on stdout, --schema / --prefix for a',
    'PostgreSQL / Redis store outside the default namespace, and --tls-ca for a rediss:// store',
    "whose certificate the system does not trust; errors go to stderr as 'error [CODE]: message'.",
    '',
    EXIT_HELP,
  ].join('\n')
}

function version() {
  return require('../../package.json').version
}

/** Parses a command's arguments; `null` when it asked for help. */
function parse(cmd, argv) {
  const options = {}
  for (const [name, o] of Object.entries({ ...cmd.options, ...COMMON })) {
    options[name] = { type: o.type, ...(o.short ? { short: o.short } : {}) }
  }
  let parsed
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
  } catch (err) {
    // parseArgs' own messages name the offending option.
    throw new UsageError(err.message)
  }
  const { values, positionals } = parsed
  if (values.help) return null
  if (positionals.length < cmd.args.length) {
    throw new UsageError(`${cmd.name}: missing <${cmd.args[positionals.length]}>`)
  }
  if (positionals.length > cmd.args.length) {
    throw new UsageError(`${cmd.name}: unexpected argument '${positionals[cmd.args.length]}'`)
  }
  for (const [name, o] of Object.entries(cmd.options)) {
    if (o.type === 'string' && values[name] === '') throw new UsageError(`--${name} must not be empty`)
  }
  const args = Object.fromEntries(cmd.args.map((a, i) => [a, positionals[i]]))
  return { args, opts: values }
}

function exitCodeOf(err) {
  if (err instanceof UsageError) return EXIT.usage
  if (err?.code === 'ERR_SESSION_LOCKED') return EXIT.locked
  return EXIT.failed
}

/**
 * Runs the tool with `argv` (without node and the script). Never throws: resolves to the
 * exit code, having written the outcome to `io`.
 */
async function main(argv, io = makeIo()) {
  const [first, ...rest] = argv
  let cmd
  try {
    if (first === undefined) {
      io.err(mainHelp())
      return EXIT.usage
    }
    if (first === '--help' || first === '-h') {
      io.out(mainHelp())
      return EXIT.ok
    }
    if (first === '--version' || first === '-V') {
      io.out(version())
      return EXIT.ok
    }
    if (first === 'help') {
      if (rest.length === 0) {
        io.out(mainHelp())
        return EXIT.ok
      }
      const named = byName.get(rest[0])
      if (!named) throw new UsageError(`unknown command '${rest[0]}'`)
      io.out(commandHelp(named))
      return EXIT.ok
    }
    cmd = byName.get(first)
    if (!cmd) throw new UsageError(first.startsWith('-') ? `unknown option '${first}'` : `unknown command '${first}'`)
    const parsed = parse(cmd, rest)
    if (parsed === null) {
      io.out(commandHelp(cmd))
      return EXIT.ok
    }
    const json = parsed.opts.json === true
    const print = (data, text) => (json ? io.json(data) : io.out(text()))
    const code = await cmd.run({ ...parsed, json, io, print })
    return code ?? EXIT.ok
  } catch (err) {
    const code = typeof err?.code === 'string' ? err.code : 'ERR_UNEXPECTED'
    io.err(`error [${code}]: ${err?.message ?? String(err)}`)
    if (err instanceof UsageError) io.err(`Run '${NAME} ${cmd ? `${cmd.name} ` : ''}--help' for usage.`)
    return exitCodeOf(err)
  }
}

module.exports = { main, EXIT, commands }
