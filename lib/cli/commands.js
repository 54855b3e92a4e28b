'use strict'
// The commands of the command-line tool: each one its arguments, options, help and handler.
// Parsing, help and exit codes are shared, in main.js.

const fs = require('node:fs')
const { table, fields, formatBytes, formatDate, formatMs, formatHolder, yesNo, progressBar } = require('./format.js')
const { credsSummary } = require('./summary.js')
const { EXIT, UsageError, failure } = require('./io.js')

// Loaded on first use, so `--help` works even where the native addon cannot load.
const api = () => require('../../index.js')

const SESSION = { type: 'string', value: 'ID', description: "the session (default: 'default')" }
const NO_BACKUP = { type: 'boolean', description: 'do not snapshot the store beside it first' }
const YES = { type: 'boolean', description: 'do not ask for confirmation (needed when not on a terminal)' }
const TAKEOVER = { type: 'boolean', description: 'go ahead even while a live process holds the session (its writes then fail)' }

const DESTRUCTIVE =
  'Refused while a process has the session open. Asks for confirmation unless --yes; the ' +
  'store is snapshotted beside it first, unless --no-backup.'

const sessionOf = (opts) => opts.session ?? 'default'

/**
 * --schema / --prefix / --tls-ca, for the kind of store at `location` (a PostgreSQL or Redis
 * URL): a command that names two stores gives each the options that apply to it.
 */
function serverFor(location, opts) {
  const out = {}
  if (opts.schema !== undefined && /^postgres(ql)?:\/\//i.test(location)) out.schema = opts.schema
  if (opts.prefix !== undefined && /^rediss?:\/\//i.test(location)) out.prefix = opts.prefix
  if (opts['tls-ca'] !== undefined && /^rediss:\/\//i.test(location)) out.tls = { ca: opts['tls-ca'] }
  return out
}

/** A destructive command's backup: --no-backup, else the library's default (files only). */
const backupOf = (opts) => (opts['no-backup'] ? false : undefined)
const spkAge = (spk, suffix = '') => (spk.ageDays === null ? '' : `, ${spk.ageDays.toFixed(1)} days old${suffix}`)

const countsTable = (counts) =>
  table(
    [
      { title: 'TYPE', get: ([type]) => type },
      { title: 'COUNT', get: ([, c]) => c, right: true },
    ],
    Object.entries(counts),
  )

/** Runs `f(onProgress)` with a progress bar on stderr while it works. */
async function withProgress(io, unit, f) {
  const bar = progressBar(io.stderr, unit)
  try {
    return await f((p) => bar.update(p))
  } finally {
    bar.end()
  }
}

/** Asks before a destructive step, unless --yes. */
async function confirmUnlessYes(ctx, question) {
  if (!ctx.opts.yes) await ctx.io.confirm(question)
}

const commands = [
  {
    name: 'sessions',
    summary: 'list the sessions of a store',
    args: ['store'],
    options: {},
    async run({ args, opts, print }) {
      const sessions = await api().listSessions(args.store, serverFor(args.store, opts))
      print(sessions, () =>
        sessions.length === 0
          ? `${args.store} holds no sessions`
          : table(
              [
                { title: 'ID', get: (s) => s.sessionId },
                { title: 'CREDS', get: (s) => yesNo(s.hasCreds) },
                { title: 'KEYS', get: (s) => s.keys, right: true },
                { title: 'SIZE', get: (s) => formatBytes(s.bytes), right: true },
                { title: 'CREATED', get: (s) => formatDate(s.createdAt) },
                { title: 'UPDATED', get: (s) => formatDate(s.updatedAt) },
                { title: 'HOLDER', get: (s) => formatHolder(s.holder) },
              ],
              sessions,
            ),
      )
    },
  },
  {
    name: 'inspect',
    summary: "a session's health and a summary of its creds (never private keys)",
    args: ['store'],
    options: { session: SESSION },
    async run({ args, opts, print }) {
      const sessionId = sessionOf(opts)
      const health = await api().health(args.store, { sessionId, ...serverFor(args.store, opts) })
      if (!health.exists) throw failure('ERR_SESSION_NOT_FOUND', `${args.store} has no session '${sessionId}'`)
      const creds = await readCreds(args.store, sessionId, serverFor(args.store, opts))
      const summary = creds === null ? null : credsSummary(creds)
      print({ sessionId, health, creds: summary }, () => inspectText(args.store, health, summary))
    },
  },
  {
    name: 'validate',
    summary: "check a session's creds and every stored value",
    description: 'Exits with 3 when the session has problems; warnings alone exit with 0.',
    args: ['store'],
    options: { session: SESSION },
    async run({ args, opts, print }) {
      const sessionId = sessionOf(opts)
      const report = await api().validate(args.store, { sessionId, ...serverFor(args.store, opts) })
      print(report, () => validateText(args.store, sessionId, report))
      return report.problems.length > 0 ? EXIT.problems : EXIT.ok
    },
  },
  {
    name: 'backup',
    summary: 'snapshot the whole store (every session) to a new file',
    description: 'Safe while bots are running. The destination must not exist.',
    args: ['store', 'dest'],
    options: {},
    async run({ args, io, print }) {
      const result = await withProgress(io, 'pages', (onProgress) => api().backup(args.store, args.dest, { onProgress }))
      print(result, () =>
        fields([
          ['backup', result.dest],
          ['size', formatBytes(result.bytes)],
          ['time', formatMs(result.ms)],
        ]),
      )
    },
  },
  {
    name: 'restore',
    summary: 'replace a store with a backup',
    description:
      'Refused while a process has a session of the store open. The current content is ' +
      'snapshotted beside the store first, unless --no-backup.',
    args: ['backup', 'store'],
    options: { 'no-backup': NO_BACKUP },
    async run({ args, opts, io, print }) {
      const result = await withProgress(io, 'pages', (onProgress) =>
        api().restore(args.backup, args.store, { onProgress, backup: !opts['no-backup'] }),
      )
      print(result, () =>
        fields([
          ['restored', result.path],
          ['sessions', result.sessions],
          ['previous content', result.backup ?? '-'],
        ]),
      )
    },
  },
  {
    name: 'export',
    summary: 'write one session to a JSON file or a useMultiFileAuthState folder',
    description:
      'The output holds private keys: keep it as secret as the store. A JSON file is created ' +
      'with mode 0600 and never overwrites an existing file.',
    args: ['store', 'dest'],
    options: {
      session: SESSION,
      format: {
        type: 'string',
        value: 'json|multifile',
        description: "'json' (default): one file; 'multifile': a folder useMultiFileAuthState reads",
      },
      overwrite: { type: 'boolean', description: 'multifile: write into a folder that is not empty (its .json files are replaced)' },
    },
    async run({ args, opts, print }) {
      const format = opts.format ?? 'json'
      const sessionId = sessionOf(opts)
      let result
      if (format === 'json') {
        const text = await api().exportJson(args.store, { sessionId, ...serverFor(args.store, opts) })
        // 'wx': an export never replaces a file; 0600: it holds private keys.
        fs.writeFileSync(args.dest, text, { mode: 0o600, flag: 'wx' })
        result = { dest: args.dest, format, sessionId, bytes: Buffer.byteLength(text) }
      } else if (format === 'multifile') {
        const report = await api().exportMultiFile(args.store, args.dest, { sessionId, overwrite: Boolean(opts.overwrite), ...serverFor(args.store, opts) })
        result = { dest: args.dest, format, ...report }
      } else {
        throw new UsageError(`--format must be 'json' or 'multifile', not '${format}'`)
      }
      print(result, () =>
        [
          fields([
            ['exported', `session '${result.sessionId}' to ${result.dest} (${format})`],
            ['size', result.bytes === undefined ? undefined : formatBytes(result.bytes)],
            ['keys', result.keys],
          ]),
          result.counts ? `\n${countsTable(result.counts)}` : '',
        ].join(''),
      )
    },
  },
  {
    name: 'import',
    summary: 'import a session from a JSON export or a useMultiFileAuthState folder',
    description:
      "A folder is read as useMultiFileAuthState's; a file as written by 'export --format json'. " +
      "A session holding another device's creds is refused unless --overwrite.",
    args: ['source', 'store'],
    options: {
      session: { ...SESSION, description: 'the session to write (default: the exported one, or default)' },
      overwrite: { type: 'boolean', description: "replace a session that holds another device's creds" },
    },
    async run({ args, opts, io, print }) {
      const { session: sessionId, overwrite = false } = opts
      const folder = fs.statSync(args.source).isDirectory()
      const result = folder
        ? await withProgress(io, 'files', (onProgress) =>
            api().importMultiFile(args.source, args.store, { sessionId, overwrite, onProgress, ...serverFor(args.store, opts) }),
          )
        : await api().importJson(fs.readFileSync(args.source), args.store, { sessionId, overwrite, ...serverFor(args.store, opts) })
      print(result, () =>
        [
          `imported ${args.source} into session '${result.sessionId}' of ${args.store}: ${result.keys} keys`,
          Object.keys(result.counts).length > 0 ? `\n${countsTable(result.counts)}` : '',
        ].join(''),
      )
    },
  },
  {
    name: 'copy',
    summary: 'copy one session to another store, verified',
    description:
      'Written in one transaction under the target session\'s lease, then read back and compared ' +
      "value by value. A target session holding another device's creds is refused unless --overwrite.",
    args: ['from', 'to'],
    options: {
      session: SESSION,
      'to-session': { type: 'string', value: 'ID', description: 'the session to write (default: the same id)' },
      overwrite: { type: 'boolean', description: "replace a target session that holds another device's creds" },
    },
    async run({ args, opts, io, print }) {
      const sessionId = sessionOf(opts)
      const toSessionId = opts['to-session'] ?? sessionId
      const result = await withProgress(io, 'keys', (onProgress) =>
        api().copySession(args.from, args.to, {
          sessionId,
          toSessionId,
          overwrite: Boolean(opts.overwrite),
          onProgress,
          source: serverFor(args.from, opts),
          target: serverFor(args.to, opts),
        }),
      )
      print(result, () =>
        [
          `copied session '${sessionId}' of ${args.from} to session '${result.sessionId}' of ${args.to}: ${result.keys} keys, verified`,
          Object.keys(result.counts).length > 0 ? `\n${countsTable(result.counts)}` : '',
        ].join(''),
      )
    },
  },
  {
    name: 'delete',
    summary: 'delete a session: its creds, keys and lease',
    description: DESTRUCTIVE,
    args: ['store', 'session'],
    options: { 'no-backup': NO_BACKUP, yes: YES, takeover: TAKEOVER },
    async run(ctx) {
      const { args, opts, print } = ctx
      // No terminal to ask and no --yes: refuse before touching the store.
      if (!opts.yes) ctx.io.ensureCanAsk()
      const known = (await api().listSessions(args.store, serverFor(args.store, opts))).some((s) => s.sessionId === args.session)
      if (!known) throw failure('ERR_SESSION_NOT_FOUND', `${args.store} has no session '${args.session}'`)
      await confirmUnlessYes(ctx, `Delete session '${args.session}' of ${args.store}?`)
      const result = await api().deleteSession(args.store, args.session, {
        backup: backupOf(opts),
        takeover: Boolean(opts.takeover),
        ...serverFor(args.store, opts),
      })
      print({ sessionId: args.session, ...result }, () =>
        fields([
          ['deleted', `session '${args.session}' of ${args.store}`],
          ['backup', result.backup ?? '-'],
        ]),
      )
    },
  },
  {
    name: 'reset',
    summary: 'empty a session (creds and keys) so it pairs again',
    description: DESTRUCTIVE,
    args: ['store'],
    options: { session: SESSION, 'no-backup': NO_BACKUP, yes: YES },
    async run(ctx) {
      const { args, opts, print } = ctx
      const sessionId = sessionOf(opts)
      await confirmUnlessYes(ctx, `Reset session '${sessionId}' of ${args.store}? It will have to be paired again.`)
      const result = await api().resetSession(args.store, { sessionId, backup: backupOf(opts), ...serverFor(args.store, opts) })
      print({ sessionId, ...result }, () =>
        fields([
          ['reset', `session '${sessionId}' of ${args.store}`],
          ['backup', result.backup ?? '-'],
        ]),
      )
    },
  },
]

/** The stored creds of a session, or `null`; read on a connection of its own, no lease. */
async function readCreds(path, sessionId, server) {
  const { withStore } = require('../tools.js')
  const codec = require('../codec.js')
  return withStore(path, sessionId, { server }, async (store) => {
    const saved = await store.loadCreds()
    return saved === null ? null : codec.decodeValue(saved)
  })
}

function inspectText(path, h, c) {
  const spk = c?.signedPreKey
  const lines = [
    `session '${h.sessionId}' of ${path}`,
    fields(
      [
        ['me', c?.me ? [c.me.id ?? '-', c.me.name ? `(${c.me.name})` : ''].join(' ').trim() : '-'],
        ['registered', c ? yesNo(c.registered) : '-'],
        ['platform', c?.platform ?? '-'],
        ['registration id', c?.registrationId ?? '-'],
        ['identity key', c?.identityKeyFingerprint ? `sha256:${c.identityKeyFingerprint}` : '-'],
        ['signed pre-key', spk ? `id ${spk.keyId ?? '-'}${spkAge(spk, ` (since ${formatDate(spk.createdAt)})`)}` : '-'],
        ['next pre-key id', c?.nextPreKeyId ?? '-'],
        ['first unuploaded pre-key id', c?.firstUnuploadedPreKeyId ?? '-'],
        ['creds', yesNo(h.hasCreds)],
        ['keys', `${h.keys} (${formatBytes(h.valueBytes)})`],
        ['file size', `${formatBytes(h.fileBytes)} (whole store)`],
        ['created', formatDate(h.createdAt)],
        ['last write', formatDate(h.lastWriteAt)],
        ['holder', formatHolder(h.holder)],
        ['integrity', h.integrity === 'ok' ? 'ok' : `${h.integrity.length} problem(s)`],
      ],
      '  ',
    ),
  ]
  if (h.integrity !== 'ok') lines.push(...h.integrity.map((p) => `  integrity: ${p}`))
  const types = Object.entries(h.counts)
  if (types.length > 0) {
    lines.push(
      '',
      table(
        [
          { title: 'TYPE', get: ([type]) => type },
          { title: 'COUNT', get: ([, c]) => c.count, right: true },
          { title: 'SIZE', get: ([, c]) => formatBytes(c.bytes), right: true },
        ],
        types,
      ),
    )
  }
  return lines.join('\n')
}

function validateText(path, sessionId, r) {
  const status =
    r.problems.length > 0
      ? `${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}`
      : r.ok
        ? 'ok'
        : 'no problems, see warnings'
  const spk = r.signedPreKey
  const lines = [
    `session '${sessionId}' of ${path}: ${status}`,
    fields(
      [
        ['registered', yesNo(r.registered)],
        ['me', r.me ?? '-'],
        ['identity key', r.identityKey ? 'ok' : 'missing or malformed'],
        ['signed pre-key', spk.present ? `ok, id ${spk.keyId}${spkAge(spk)}` : 'missing or malformed'],
        ['pre-keys', r.preKeys],
        ['keys checked', r.keys],
      ],
      '  ',
    ),
  ]
  if (r.problems.length > 0) {
    lines.push('problems:')
    for (const p of r.problems) lines.push(`  ${p.type ? `${p.type} ${JSON.stringify(p.id)}: ` : ''}${p.problem}`)
  }
  if (r.warnings.length > 0) {
    lines.push('warnings:')
    for (const w of r.warnings) lines.push(`  ${w}`)
  }
  return lines.join('\n')
}

module.exports = { commands }
