// The package as users get it: the main tarball and this host's platform tarball (packed by
// scripts/pack-local.mjs, as `npm run pack:local` does) are installed with npm into a fresh
// TypeScript project together with Baileys and TypeScript from the registry, with no Rust
// toolchain on PATH. A bot is compiled with `tsc --strict` as an ES module project and as a
// CommonJS one, then run: two local devices talk through Baileys' Signal layer on one store,
// which is closed, reopened and checked. The addon must come from the platform package.

import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { homedir, tmpdir } from 'node:os'
import { delimiter, dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hostTarget, packLocal } from '../scripts/pack-local.mjs'
import { npmErrors, sh, unreachable, withoutRunnerEnv } from './helpers/npm.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const BAILEYS = '7.0.0-rc14'
// The peer range's other line: the newest 6.7 release, and 6.17.16, npm's `latest` tag (what
// `npm install baileys` gives). Both name libsignal by a GitHub URL, and this machine reaches
// the npm registry only: the same project's npm release stands in for it. 6.17 also names a
// lint configuration there, which nothing loads at run time: an empty package stands in.
const LIBSIGNAL_FOR_6 = '6.0.0'
const BAILEYS_6 = [
  { version: '6.7.24', overrides: { libsignal: LIBSIGNAL_FOR_6 } },
  {
    version: '6.17.16',
    overrides: { libsignal: LIBSIGNAL_FOR_6, '@whiskeysockets/eslint-config': 'file:./eslint-config-stub' },
    files: { 'eslint-config-stub/package.json': JSON.stringify({ name: '@whiskeysockets/eslint-config', version: '0.0.0' }) },
  },
]
const TYPESCRIPT = pkg.devDependencies.typescript
const NODE_TYPES = pkg.devDependencies['@types/node']
const platformPackage = `${pkg.napi?.packageName ?? pkg.name}-${hostTarget(pkg).platformArchABI}`

const ALICE = '15550000001@s.whatsapp.net'
const BOB = '15550000002@s.whatsapp.net'

/** The environment npm and the bots run in: no cargo, no rustc, nothing inherited from npm. */
function cleanEnv(shimBin) {
  const cargoBins = [join(homedir(), '.cargo', 'bin'), process.env.CARGO_HOME && join(process.env.CARGO_HOME, 'bin')]
    .filter(Boolean)
    .map((d) => resolve(d))
  const hasRustTool = (dir) => ['cargo', 'rustc', 'cargo.exe', 'rustc.exe'].some((tool) => existsSync(join(dir, tool)))
  const kept = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((dir) => dir && !cargoBins.includes(resolve(dir)) && !hasRustTool(dir))
  const env = { ...withoutRunnerEnv(process.env), PATH: [shimBin, ...kept].join(delimiter) }
  for (const key of Object.keys(env)) {
    if (/^NAPI_RS_/.test(key) || ['CARGO', 'RUSTC', 'RUSTUP_TOOLCHAIN'].includes(key)) delete env[key]
  }
  return env
}

/** A bin folder holding only `node` and `npm`, so both are found whatever PATH leaves out. */
function makeShimBin(dir) {
  mkdirSync(dir, { recursive: true })
  symlinkSync(process.execPath, join(dir, 'node'))
  const npmCli =
    process.env.npm_execpath && /npm-cli\.js$/.test(process.env.npm_execpath)
      ? process.env.npm_execpath
      : (process.env.PATH ?? '')
          .split(delimiter)
          .map((d) => join(d, 'npm'))
          .find((f) => existsSync(f))
  assert.ok(npmCli, 'npm not found on PATH')
  symlinkSync(realpathSync(npmCli), join(dir, 'npm'))
  return dir
}

function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath ?? e.path, e.name))
}

// What a bot does. `makeWASocket` opens its WebSocket as soon as it is called, so that part is
// compiled and type-checked but never called; the Signal exchange runs on the store through
// Baileys' signal repository, as the socket wires it (Baileys 6's takes the auth state only).
const botSource = ({ baileys6 }) => `import { createRequire } from 'node:module'
import { join } from 'node:path'
import ${baileys6 ? '{ makeWASocket,' : 'makeWASocket, {'}
  addTransactionCapability,
  Browsers,
  generateOrGetPreKeys,
  generateSignalPubKey,
  makeCacheableSignalKeyStore,
} from 'baileys'
import * as baileys from 'baileys'
import type { ILogger } from 'baileys/lib/Utils/logger.js'
import { makeLibSignalRepository } from 'baileys/lib/Signal/libsignal.js'
import { useRustAuthState, AuthStateError, ErrorCode } from 'baileys-rust-auth'
import type { RustAuthState } from 'baileys-rust-auth'

// Baileys 6.17 is CommonJS: Node's ES module view of it lacks proto (it reads the names of
// module.exports from the source), and TypeScript types its default import as the whole
// module, so a bot there imports makeWASocket by name and takes proto from module.exports.
const proto: typeof baileys.proto = baileys.proto ?? (baileys as unknown as { default: typeof baileys }).default.proto

/** Never called: makeWASocket connects to WhatsApp at once. */
export async function startBot(): Promise<void> {
  const { state, saveCreds } = await useRustAuthState('./auth.db')
  const sock = makeWASocket({ auth: state, browser: Browsers.ubuntu('Bot') })
  sock.ev.on('creds.update', saveCreds)
}

const quiet: ILogger = {
  level: 'silent',
  child: () => quiet,
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error('failed: ' + what)
}

type Wire = { from: string; type: 'pkmsg' | 'msg'; ciphertext: Uint8Array }

function device(jid: string, auth: RustAuthState) {
  const { creds } = auth.state
  const keys = addTransactionCapability(makeCacheableSignalKeyStore(auth.state.keys, quiet), quiet, {
    maxCommitRetries: 10,
    delayBetweenTriesMs: 3000,
  })
  const repository = makeLibSignalRepository(${baileys6 ? '{ creds, keys }' : '{ creds, keys }, quiet, async () => undefined'})
  return {
    jid,
    auth,
    async publishPreKeys(count: number): Promise<void> {
      const { newPreKeys, lastPreKeyId } = generateOrGetPreKeys(creds, count)
      await keys.set({ 'pre-key': newPreKeys })
      creds.nextPreKeyId = Math.max(lastPreKeyId + 1, creds.nextPreKeyId)
      creds.firstUnuploadedPreKeyId = creds.nextPreKeyId
      await auth.saveCreds()
    },
    async startSessionWith(other: { jid: string; auth: RustAuthState }): Promise<void> {
      const theirs = other.auth.state.creds
      const preKeyId = String(theirs.firstUnuploadedPreKeyId - 1)
      const preKey = (await other.auth.state.keys.get('pre-key', [preKeyId]))[preKeyId]
      check(preKey !== undefined, 'the pre-key is stored')
      await repository.injectE2ESession({
        jid: other.jid,
        session: {
          registrationId: theirs.registrationId,
          identityKey: generateSignalPubKey(theirs.signedIdentityKey.public),
          signedPreKey: {
            keyId: theirs.signedPreKey.keyId,
            publicKey: generateSignalPubKey(theirs.signedPreKey.keyPair.public),
            signature: theirs.signedPreKey.signature,
          },
          preKey: { keyId: Number(preKeyId), publicKey: generateSignalPubKey(preKey!.public) },
        },
      })
    },
    async send(to: string, text: string): Promise<Wire> {
      const { type, ciphertext } = await repository.encryptMessage({ jid: to, data: Buffer.from(text) })
      return { from: jid, type, ciphertext }
    },
    async receive({ from, type, ciphertext }: Wire): Promise<string> {
      return Buffer.from(await repository.decryptMessage({ jid: from, type, ciphertext })).toString()
    },
  }
}

type Device = ReturnType<typeof device>

async function open(): Promise<[Device, Device]> {
  const alice = device('${ALICE}', await useRustAuthState('./auth.db', { sessionId: 'alice' }))
  const bob = device('${BOB}', await useRustAuthState('./auth.db', { sessionId: 'bob', durability: 'full' }))
  return [alice, bob]
}

async function talk(alice: Device, bob: Device, round: string): Promise<string[]> {
  const types: string[] = []
  for (let i = 0; i < 3; i++) {
    const a = 'alice to bob ' + i + ' ' + round
    const wa = await alice.send(bob.jid, a)
    types.push(wa.type)
    check((await bob.receive(wa)) === a, 'bob decrypts ' + a)
    const b = 'bob to alice ' + i + ' ' + round
    const wb = await bob.send(alice.jid, b)
    types.push(wb.type)
    check((await alice.receive(wb)) === b, 'alice decrypts ' + b)
  }
  return types
}

async function ids(auth: RustAuthState, type: 'session' | 'pre-key'): Promise<string[]> {
  const found: string[] = []
  for await (const id of auth.state.keys.listIds(type)) found.push(id)
  return found
}

async function main(): Promise<void> {
  let [alice, bob] = await open()
  await bob.publishPreKeys(5)
  await alice.startSessionWith(bob)
  const first = await talk(alice, bob, 'before reopening')
  check(first[0] === 'pkmsg', 'the first message carries the pre-key')

  // Direct use of the store, beside what Baileys writes.
  const marker = { at: new Date(0), raw: new Uint8Array([1, 2, 3]), note: 'kept' }
  await alice.auth.state.keys.set({ 'sender-key-memory': { group: { '${BOB}': true } } })
  await alice.auth.state.keys.set({ 'app-state-sync-version': { regular: { version: 7, hash: Buffer.alloc(128, 1), indexValueMap: {} } } })
  const syncKey = proto.Message.AppStateSyncKeyData.fromObject({ keyData: Buffer.alloc(32, 7), timestamp: 1764000000 })
  await alice.auth.state.keys.set({ 'app-state-sync-key': { AAAAAAAB: syncKey } })
  ;(alice.auth.state.creds as unknown as { marker: typeof marker }).marker = marker
  await alice.auth.saveCreds()
  const before = {
    aliceRegistration: alice.auth.state.creds.registrationId,
    bobRegistration: bob.auth.state.creds.registrationId,
    aliceSessions: await ids(alice.auth, 'session'),
    bobSessions: await ids(bob.auth, 'session'),
    bobPreKeys: await ids(bob.auth, 'pre-key'),
  }
  check(before.aliceSessions.length === 1 && before.bobSessions.length === 1, 'one session each')
  await Promise.all([alice.auth.close(), bob.auth.close()])
  try {
    await alice.auth.state.keys.get('session', before.aliceSessions)
    check(false, 'a closed store rejects')
  } catch (err) {
    check(err instanceof AuthStateError && err.code === ErrorCode.ERR_CLOSED, 'ERR_CLOSED after close')
  }

  ;[alice, bob] = await open()
  check(alice.auth.state.creds.registrationId === before.aliceRegistration, 'alice keeps her creds')
  check(bob.auth.state.creds.registrationId === before.bobRegistration, 'bob keeps his creds')
  const kept = (alice.auth.state.creds as unknown as { marker?: typeof marker }).marker
  check(kept?.at instanceof Date && kept.at.getTime() === 0 && kept.note === 'kept', 'creds keep a Date and a string')
  check(Buffer.from(kept!.raw).equals(Buffer.from([1, 2, 3])), 'creds keep bytes')
  check((await ids(alice.auth, 'session')).join() === before.aliceSessions.join(), 'alice keeps her session')
  check((await ids(bob.auth, 'session')).join() === before.bobSessions.join(), 'bob keeps his session')
  check((await ids(bob.auth, 'pre-key')).join() === before.bobPreKeys.join(), 'bob keeps his pre-keys')
  const memory = await alice.auth.state.keys.get('sender-key-memory', ['group'])
  check(memory.group?.['${BOB}'] === true, 'sender-key-memory is kept')
  const version = (await alice.auth.state.keys.get('app-state-sync-version', ['regular'])).regular
  check(version?.version === 7 && Buffer.from(version.hash).equals(Buffer.alloc(128, 1)), 'app-state-sync-version is kept')
  const { AAAAAAAB: keyBack } = await alice.auth.state.keys.get('app-state-sync-key', ['AAAAAAAB'])
  check(keyBack instanceof proto.Message.AppStateSyncKeyData, 'an app-state-sync-key comes back as the protobuf message')
  check(Buffer.from(keyBack!.keyData!).equals(Buffer.alloc(32, 7)), 'the app-state-sync-key keeps its bytes')
  check(proto.Message.AppStateSyncKeyData.encode(keyBack!).finish().length > 0, 'the app-state-sync-key encodes again')
  const second = await talk(alice, bob, 'after reopening')
  check(second.every((t) => t === 'msg'), 'the ratchet carries on from the stored sessions')
  await Promise.all([alice.auth.close(), bob.auth.close()])

  // Which native addon this process loaded.
  const cache = createRequire(join(process.cwd(), 'index.js')).cache
  const report = process.report.getReport() as unknown as { sharedObjects: string[] }
  console.log(
    JSON.stringify({
      ok: true,
      messages: first.length + second.length,
      requireCache: Object.keys(cache).filter((f) => f.endsWith('.node')),
      sharedObjects: report.sharedObjects.filter((f) => f.endsWith('.node')),
    }),
  )
}

main().catch((err: unknown) => {
  console.error(err)
  process.exitCode = 1
})
`

const tsconfig = {
  compilerOptions: {
    strict: true,
    module: 'nodenext',
    moduleResolution: 'nodenext',
    target: 'es2022',
    types: ['node'],
    // Baileys' own declaration files do not all type-check on their own.
    skipLibCheck: true,
    outDir: 'out',
    rootDir: '.',
  },
  files: ['bot.ts'],
}

let tmp
let project
let env
let tarballs
let registryDown = null

before(() => {
  tmp = realpathSync(mkdtempSync(join(tmpdir(), 'baileys-rust-auth-install-')))
  env = cleanEnv(makeShimBin(join(tmp, 'bin')))
  const ping = sh('npm', ['ping', '--fetch-retries=1', '--fetch-retry-mintimeout=1000', '--fetch-timeout=20000'], {
    cwd: tmp,
    env,
    timeout: 60_000,
  })
  // Only a network failure skips; any other failure of npm shows up in the install below.
  const why = ping.error?.message ?? npmErrors(ping.output)
  if (ping.status !== 0 && unreachable(why)) registryDown = `the npm registry is unreachable (npm ping: ${why})`
})

after(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true })
})

test('the packed packages install from npm with no Rust toolchain on PATH', (t) => {
  if (registryDown) return t.skip(registryDown)
  const tools = sh('sh', ['-c', 'command -v cargo; command -v rustc; true'], { cwd: tmp, env })
  assert.equal(tools.output.trim(), '', `cargo or rustc is still on PATH:\n${tools.output}`)

  // Reuses the release build in the project root when it is up to date.
  tarballs = packLocal({ out: join(tmp, 'tarballs'), reuse: true, quiet: true })
  t.diagnostic(`${tarballs.main.file}: ${tarballs.main.size} bytes; ${tarballs.platform.file}: ${tarballs.platform.size} bytes`)
  assert.equal(tarballs.platform.name, platformPackage)
  assert.equal(tarballs.platform.version, pkg.version)

  project = installBot('bot', BAILEYS)

  const modules = join(project, 'node_modules')
  const installedMain = JSON.parse(readFileSync(join(modules, pkg.name, 'package.json'), 'utf8'))
  assert.equal(
    installedMain.optionalDependencies?.[platformPackage],
    pkg.version,
    `the main package must depend on ${platformPackage}@${pkg.version}`,
  )
  const installedPlatform = JSON.parse(readFileSync(join(modules, platformPackage, 'package.json'), 'utf8'))
  assert.equal(installedPlatform.version, pkg.version)
  const mainFiles = filesUnder(join(modules, pkg.name)).map((f) => relative(join(modules, pkg.name), f))
  assert.deepEqual(
    mainFiles.filter((f) => f.endsWith('.node')),
    [],
    `the main package must not hold a native addon: the addon comes from ${platformPackage}`,
  )
  assert.ok(
    filesUnder(join(modules, platformPackage)).some((f) => f.endsWith('.node')),
    `${platformPackage} holds no .node file`,
  )
  assert.equal(existsSync(join(modules, 'baileys', 'package.json')), true, 'baileys is installed')
})

/**
 * A project in `tmp/name` with `baileys@version`, TypeScript and the packed tarballs
 * installed by npm; `overrides` go in its package.json, `files` (path: text) are written
 * first.
 */
function installBot(name, version, { overrides, files = {} } = {}) {
  const dir = join(tmp, name)
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, version: '1.0.0', overrides }, null, 2))
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true })
    writeFileSync(join(dir, path), text)
  }
  const install = sh(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      '--save-exact',
      `baileys@${version}`,
      `typescript@${TYPESCRIPT}`,
      `@types/node@${NODE_TYPES}`,
      tarballs.main.file,
      tarballs.platform.file,
    ],
    { cwd: dir, env, timeout: 10 * 60_000 },
  )
  assert.equal(install.error, undefined, `npm install did not run: ${install.error}`)
  assert.equal(install.status, 0, `npm install failed:\n${install.output}`)
  const installed = JSON.parse(readFileSync(join(dir, 'node_modules', 'baileys', 'package.json'), 'utf8'))
  assert.equal(installed.version, version, 'the Baileys asked for is installed')
  return dir
}

/** Compiles `source` with tsc --strict in `project` as an ES module or CommonJS bot, and runs it. */
function compileAndRun(project, esm, source) {
  const dir = join(project, esm ? 'esm' : 'cjs')
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: esm ? 'module' : 'commonjs' }))
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig, null, 2))
  writeFileSync(join(dir, 'bot.ts'), source)

  const tsc = join(project, 'node_modules', '.bin', 'tsc')
  const compiled = sh(tsc, ['-p', 'tsconfig.json', '--strict', '--pretty', 'false'], { cwd: dir, env })
  assert.equal(compiled.error, undefined, `could not run ${tsc}: ${compiled.error}`)
  assert.equal(compiled.status, 0, `tsc --strict failed:\n${compiled.output}`)

  const ran = sh('node', [join('out', 'bot.js')], { cwd: dir, env, timeout: 2 * 60_000 })
  assert.equal(ran.status, 0, `the compiled bot failed:\n${ran.output}`)
  const line = ran.output.split('\n').find((l) => l.startsWith('{"ok":true'))
  assert.ok(line, `the bot printed no report:\n${ran.output}`)
  const report = JSON.parse(line)
  assert.equal(report.messages, 12)

  const expected = realpathSync(join(project, 'node_modules', platformPackage)) + sep
  for (const [where, loaded] of [
    ['require.cache', report.requireCache],
    ['the process report', report.sharedObjects],
  ]) {
    assert.equal(loaded.length, 1, `${where} lists ${loaded.length} native addons: ${loaded.join(', ')}`)
    assert.ok(
      realpathSync(loaded[0]).startsWith(expected),
      `the addon was loaded from ${loaded[0]}, not from the platform package ${platformPackage} (a local build was used)`,
    )
  }
}

for (const esm of [true, false]) {
  const kind = esm ? 'an ES module' : 'a CommonJS'
  test(`${kind} bot compiles with tsc --strict and runs on the platform package`, (t) => {
    if (registryDown) return t.skip(registryDown)
    assert.ok(project, 'the install step did not complete')
    compileAndRun(project, esm, botSource({ baileys6: false }))
  })
}

for (const { version, overrides, files } of BAILEYS_6) {
  test(`bots on Baileys ${version}, ES module and CommonJS, compile with tsc --strict and run`, (t) => {
    if (registryDown) return t.skip(registryDown)
    assert.ok(tarballs, 'the packing step did not complete')
    const project6 = installBot(`bot-${version}`, version, { overrides, files })
    for (const esm of [true, false]) compileAndRun(project6, esm, botSource({ baileys6: true }))
  })
}
