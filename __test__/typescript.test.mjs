// The public types (index.d.ts), checked the way a TypeScript bot uses them: a throwaway bot
// project with this package installed in its node_modules is type-checked with
// `tsc --strict`, once as an ES module project and once as a CommonJS one, and small programs
// compiled from TypeScript are run against the real addon to show that the types describe
// what the runtime does.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import {
  cpSync,
  mkdtempSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const tsc = join(root, 'node_modules', '.bin', 'tsc')
const typesFile = join(root, 'index.d.ts')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

let tmp

before(() => {
  tmp = realpathSync(mkdtempSync(join(tmpdir(), 'baileys-rust-auth-ts-')))
})

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

// Compiler options of the bot projects. Baileys' own declaration files do not all type-check
// on their own (missing `ws` types, an extensionless relative import...), so, like bots do,
// the projects skip checking library .d.ts files; `index.d.ts is clean` below checks ours.
const compilerOptions = {
  strict: true,
  noEmit: true,
  module: 'nodenext',
  moduleResolution: 'nodenext',
  target: 'es2022',
  types: ['node'],
  skipLibCheck: true,
}

/**
 * Creates a bot project. `node_modules/baileys-rust-auth` holds what the published package
 * holds (package.json and its `files`) plus the native binary built here; Baileys (under the
 * name `baileys`) and the Node.js types link to the ones installed here.
 */
function makeProject(name, { esm, files, baileysName = 'baileys' }) {
  const dir = join(tmp, name)
  const modules = join(dir, 'node_modules')
  const installed = join(modules, 'baileys-rust-auth')
  mkdirSync(installed, { recursive: true })
  const shipped = ['package.json', ...pkg.files, ...readdirSync(root).filter((f) => f.endsWith('.node'))]
  for (const file of shipped) cpSync(join(root, file), join(installed, file), { recursive: true })
  mkdirSync(dirname(join(modules, baileysName)), { recursive: true })
  symlinkSync(join(root, 'node_modules', 'baileys'), join(modules, baileysName), 'dir')
  mkdirSync(join(modules, '@types'))
  symlinkSync(join(root, 'node_modules', '@types', 'node'), join(modules, '@types', 'node'), 'dir')
  const manifest = { name: `bot-${name}`, private: true, ...(esm ? { type: 'module' } : {}) }
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2))
  for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text)
  return dir
}

/** Runs tsc on `dir`'s `tsconfig` with `options` and `files`; returns status and output. */
function typeCheck(dir, files, options = {}, config = 'tsconfig.json') {
  writeFileSync(
    join(dir, config),
    JSON.stringify({ compilerOptions: { ...compilerOptions, ...options }, files }, null, 2),
  )
  const run = spawnSync(tsc, ['-p', config, '--pretty', 'false'], { cwd: dir, encoding: 'utf8' })
  assert.equal(run.error, undefined, `could not run ${tsc}: ${run.error}`)
  return { status: run.status, output: `${run.stdout}${run.stderr}` }
}

function assertCompiles(dir, files, options) {
  const { status, output } = typeCheck(dir, files, options)
  assert.equal(status, 0, `tsc failed in ${dir}:\n${output}`)
}

/** `file(line,col): error TSxxxx: message` lines of tsc's output, with absolute paths. */
function diagnostics(dir, output) {
  return output
    .split('\n')
    .map((line) => /^(.+?)\((\d+),(\d+)\): error (TS\d+): (.*)$/.exec(line))
    .filter(Boolean)
    .map(([, file, line, , code, message]) => ({ file: resolve(dir, file), line: Number(line), code, message }))
}

// What a bot does, plus direct uses of the key store. Each `@ts-expect-error` line is a misuse:
// tsc fails on the directive if that line stops being an error.
const botBody = (indent) =>
  `
const options: RustAuthStateOptions = { sessionId: 'main', durability: 'full', busyTimeoutMs: 1000 }
const { state, saveCreds, close }: RustAuthState = await useRustAuthState('./auth.db', { sessionId: 'main' })
const sock = makeWASocket({ auth: state, browser: Browsers.ubuntu('Bot') })
sock.ev.on('creds.update', saveCreds)
const asBaileys: AuthenticationState = state
const asBaileysKeys: SignalKeyStore = state.keys

const preKeys = await state.keys.get('pre-key', ['1'])
const preKey: KeyPair | undefined = preKeys['1']
const publicKey: Uint8Array | undefined = preKey?.public
const sessions: Promise<{ [id: string]: Uint8Array }> = state.keys.get('session', ['a.0'] as const)
await state.keys.set({ 'pre-key': { '1': null }, session: { 'a.0': new Uint8Array(1) } })
const ids: string[] = []
for await (const id of state.keys.listIds('session')) ids.push(id)
for await (const [id, pair] of state.keys.list('pre-key')) {
  const secret: Uint8Array = pair.private
  ids.push(id)
}
const cleared: Promise<void> = state.keys.clear()
try {
  await close()
  await state.keys.get('session', ids)
} catch (err) {
  if (err instanceof AuthStateError && err.code === ErrorCode.ERR_CLOSED) {
    const code: ErrorCodeName = err.code
    const message: string = err.message
  } else {
    throw err
  }
}
await useRustAuthState('./other.db', options)
const imported: MultiFileReport = await auth.importMultiFile('./auth_info', './auth.db', {
  sessionId: 'main',
  onProgress: ({ done, total }) => console.log(done, total),
})
const importedKeys: number | undefined = imported.counts['pre-key']
await auth.exportMultiFile('./auth.db', './auth_info_copy', { sessionId: 'main', overwrite: true })
if (new AuthStateError('m', 'ERR_INVALID_SOURCE').code === ErrorCode.ERR_SESSION_EXISTS) throw new Error()
const tooled: RustAuthState = await useRustAuthState('./auth.db', {
  sessionId: 'tools',
  lease: true,
  takeover: false,
  leaseTtlMs: 30_000,
  credsDebounceMs: 50,
  logger: sock.logger,
})
const health: SessionHealth = await tooled.health()
const spkAge: number | null = (await tooled.validate()).signedPreKey.ageDays
const calls: number = tooled.metrics().operations.reduce((n, o) => n + o.calls, 0)
const promText: string = tooled.metricsText()
const reset: string | null = (await tooled.resetSession({ backup: true })).backup
await tooled[Symbol.asyncDispose]()
const listed: SessionInfo[] = await auth.listSessions('./auth.db')
const holderPid: number | undefined = listed[0]?.holder?.pid
await auth.backup('./auth.db', './backup.db', { onProgress: ({ done, total }: Progress) => console.log(done / total) })
await auth.restore('./backup.db', './auth.db', { backup: false })
const json: string = await auth.exportJson('./auth.db', { sessionId: 'main' })
await auth.importJson(json, './other.db', { sessionId: 'copy', overwrite: true })
const copied: true = (await auth.copySession('./auth.db', './other.db', { sessionId: 'main', toSessionId: 'm2' })).verified
const deleted: boolean = (await auth.deleteSession('./auth.db', 'old', { backup: true })).deleted
const atRest: SessionValidation = await auth.validate('./auth.db', { sessionId: 'main' })
await auth.health('./auth.db')
await auth.resetSession('./auth.db', { sessionId: 'main', backup: true })
try {
  await useRustAuthState('./auth.db', { sessionId: 'main' })
} catch (err) {
  if (err instanceof AuthStateError && err.code === ErrorCode.ERR_SESSION_LOCKED) console.log(err.holder?.host, err.holder?.since.getTime())
}

// @ts-expect-error: an unknown key type
await state.keys.get('no-such-type', ['1'])
// @ts-expect-error: a pre-key is a key pair, not a string
const notAString: string = preKeys['1']
// @ts-expect-error: durability is 'normal' or 'full'
await useRustAuthState('./x.db', { durability: 'fast' })
// @ts-expect-error: unknown option
await useRustAuthState('./x.db', { sessionID: 'main' })
// @ts-expect-error: ErrorCode is read-only
ErrorCode.ERR_BUSY = 'ERR_IO'
// @ts-expect-error: codes are a closed set
if (new AuthStateError('m', 'ERR_BUSY').code === 'ERR_NOPE') throw new Error()
// @ts-expect-error: the folder comes first, then the SQLite file
await auth.importMultiFile('./auth_info', { sessionId: 'main' })
// @ts-expect-error: leaseTtlMs is a number
await useRustAuthState('./x.db', { leaseTtlMs: '30s' })
// @ts-expect-error: a backup needs a destination
await auth.backup('./auth.db')
// @ts-expect-error: list yields [id, value] pairs
for await (const id of state.keys.list('session')) id.toUpperCase()
`
    .trim()
    .split('\n')
    .map((line) => (line ? indent + line : line))
    .join('\n')

const baileysImport = `import makeWASocket, { Browsers } from 'baileys'
import type { AuthenticationState, KeyPair, SignalKeyStore } from 'baileys'`
const typeImport = `import type { ErrorCodeName, MultiFileReport, Progress, RustAuthState, RustAuthStateOptions, SessionHealth, SessionInfo, SessionValidation } from 'baileys-rust-auth'`

const esmBot = `${baileysImport}
import { useRustAuthState, AuthStateError, ErrorCode } from 'baileys-rust-auth'
${typeImport}
// The default import of a CommonJS package is its module.exports.
import auth from 'baileys-rust-auth'

${botBody('')}

const viaDefault: Promise<RustAuthState> = auth.useRustAuthState('./default.db')
export {}
`

const cjsBot = `${baileysImport}
import { useRustAuthState, AuthStateError, ErrorCode } from 'baileys-rust-auth'
${typeImport}
import auth = require('baileys-rust-auth')

async function main(): Promise<void> {
${botBody('  ')}
}

const viaRequire: Promise<RustAuthState> = auth.useRustAuthState('./require.db')
const code: 'ERR_BUSY' = auth.ErrorCode.ERR_BUSY
void main()
`

const misuse = `import { useRustAuthState } from 'baileys-rust-auth'

void useRustAuthState(42)
`

// Runs against the addon once compiled; written without top-level await so the same source
// serves both project kinds.
const runtime = `import { useRustAuthState, AuthStateError, ErrorCode } from 'baileys-rust-auth'

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error('failed: ' + what)
}

async function main(): Promise<void> {
  const { state, saveCreds, close } = await useRustAuthState('./runtime.db', { sessionId: 'rt', durability: 'full' })
  check(typeof state.creds.registrationId === 'number', 'creds generated')
  await state.keys.set({ 'pre-key': { '1': { public: new Uint8Array([1]), private: new Uint8Array([2]) } } })
  const found = await state.keys.get('pre-key', ['1', '2'])
  check(Object.keys(found).join() === '1', 'get returns the ids found')
  check(found['1'].private[0] === 2, 'get returns the value')
  await saveCreds()
  const ids: string[] = []
  for await (const id of state.keys.listIds('pre-key')) ids.push(id)
  for await (const [id, pair] of state.keys.list('pre-key')) ids.push(id + ':' + pair.public[0])
  check(ids.join() === '1,1:1', 'list and listIds')
  await state.keys.set({ 'pre-key': { '1': null } })
  check(Object.keys(await state.keys.get('pre-key', ['1'])).length === 0, 'null deletes')
  await close()
  try {
    await state.keys.get('pre-key', ['1'])
    check(false, 'a closed store rejects')
  } catch (err) {
    check(err instanceof AuthStateError, 'rejects with AuthStateError')
    if (err instanceof AuthStateError) check(err.code === ErrorCode.ERR_CLOSED, 'code is ERR_CLOSED')
  }
  try {
    // Checked at run time too, for JavaScript callers.
    await useRustAuthState(42 as unknown as string)
    check(false, 'a bad path rejects')
  } catch (err) {
    check(err instanceof AuthStateError && err.code === ErrorCode.ERR_INVALID_ARGUMENT, 'ERR_INVALID_ARGUMENT')
  }
  console.log('runtime ok')
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
`

test('an ES module bot type-checks', () => {
  const dir = makeProject('esm', { esm: true, files: { 'bot.ts': esmBot } })
  assertCompiles(dir, ['bot.ts'])
})

test('an ES module bot type-checks with stricter index and optional-property checks', () => {
  const dir = makeProject('esm-stricter', { esm: true, files: { 'bot.ts': esmBot } })
  assertCompiles(dir, ['bot.ts'], { noUncheckedIndexedAccess: true, exactOptionalPropertyTypes: true })
})

test('a CommonJS bot type-checks', () => {
  const dir = makeProject('cjs', { esm: false, files: { 'bot.ts': cjsBot } })
  assertCompiles(dir, ['bot.ts'])
})

for (const esm of [true, false]) {
  const kind = esm ? 'an ES module' : 'a CommonJS'
  test(`misuse fails to compile in ${kind} project`, () => {
    const dir = makeProject(`misuse-${esm ? 'esm' : 'cjs'}`, { esm, files: { 'misuse.ts': misuse } })
    const { status, output } = typeCheck(dir, ['misuse.ts'])
    assert.notEqual(status, 0, `tsc accepted a misuse:\n${output}`)
    const errors = diagnostics(dir, output)
    assert.deepEqual(
      errors.map(({ file, line, code }) => ({ file, line, code })),
      [{ file: join(dir, 'misuse.ts'), line: 3, code: 'TS2345' }],
      `expected one type error, on useRustAuthState(42):\n${output}`,
    )
  })

  test(`the types match the runtime in ${kind} project`, () => {
    const dir = makeProject(`runtime-${esm ? 'esm' : 'cjs'}`, { esm, files: { 'runtime.ts': runtime } })
    const { status, output } = typeCheck(dir, ['runtime.ts'], { noEmit: false, outDir: 'out' }, 'tsconfig.build.json')
    assert.equal(status, 0, `tsc failed in ${dir}:\n${output}`)
    const run = spawnSync(process.execPath, [join('out', 'runtime.js')], { cwd: dir, encoding: 'utf8' })
    assert.equal(run.status, 0, `compiled program failed:\n${run.stdout}${run.stderr}`)
    assert.match(run.stdout, /runtime ok/)
  })
}

test('a bot on @whiskeysockets/baileys type-checks once tsconfig maps the name baileys', () => {
  const whiskeyBot = esmBot.replaceAll("from 'baileys'", "from '@whiskeysockets/baileys'")
  const dir = makeProject('whiskeysockets', {
    esm: true,
    files: { 'bot.ts': whiskeyBot },
    baileysName: '@whiskeysockets/baileys',
  })
  assertCompiles(dir, ['bot.ts'], { paths: { baileys: ['./node_modules/@whiskeysockets/baileys'] } })
})

test('index.d.ts is clean when library files are checked too', () => {
  const dir = makeProject('lib-check', { esm: true, files: { 'bot.ts': esmBot } })
  const { output } = typeCheck(dir, ['bot.ts'], { skipLibCheck: false })
  // Baileys' own declaration files report errors here; none may come from index.d.ts or the bot.
  const installedTypes = join(dir, 'node_modules', 'baileys-rust-auth', 'index.d.ts')
  const ours = diagnostics(dir, output).filter(({ file }) => file === installedTypes || dirname(file) === dir)
  assert.deepEqual(ours, [], `errors in index.d.ts or the bot:\n${output}`)
})

test('ErrorCode in index.d.ts lists exactly the runtime codes, each documented', () => {
  const text = readFileSync(typesFile, 'utf8')
  const declared = [...text.matchAll(/^\s*(ERR_[A-Z_]+): '(ERR_[A-Z_]+)'$/gm)]
  for (const [, key, value] of declared) assert.equal(key, value)
  const { ErrorCode } = createRequire(import.meta.url)('../index.js')
  assert.deepEqual(
    declared.map(([, key]) => key),
    Object.keys(ErrorCode),
  )
  for (const [line, key] of declared) {
    const before = text.slice(0, text.indexOf(line)).trimEnd()
    assert.ok(before.endsWith('*/'), `${key} has no TSDoc comment`)
  }
})
