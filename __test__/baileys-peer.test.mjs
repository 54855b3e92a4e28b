// Baileys is a peer dependency, found at run time from where the package is installed: as
// `baileys`, else as `@whiskeysockets/baileys`, else a typed error before anything is opened.
// Each case runs in a project of its own (a copy of the package in its node_modules) and in a
// process of its own, since the package imports Baileys once per process.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const installedBaileys = dirname(createRequire(join(root, 'index.js')).resolve('baileys/package.json'))
const published = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).files

let tmp
before(() => {
  tmp = realpathSync(mkdtempSync(join(tmpdir(), 'bra-peer-')))
})
after(() => rmSync(tmp, { recursive: true, force: true }))

/**
 * A project holding a copy of this package (the files it publishes) and, under
 * `baileysName` (or nowhere), Baileys; `standIn`: a package named `baileys` there instead,
 * whose module is that source.
 */
function project(name, baileysName, { standIn = null } = {}) {
  const dir = join(tmp, name)
  const modules = join(dir, 'node_modules')
  const pkg = join(modules, 'baileys-rust-auth')
  mkdirSync(pkg, { recursive: true })
  for (const f of ['package.json', ...published]) cpSync(join(root, f), join(pkg, f), { recursive: true })
  for (const f of readdirSync(root).filter((f) => f.endsWith('.node'))) cpSync(join(root, f), join(pkg, f))
  if (baileysName) {
    mkdirSync(dirname(join(modules, baileysName)), { recursive: true })
    // Baileys' own dependencies resolve from where it really is.
    symlinkSync(installedBaileys, join(modules, baileysName), 'dir')
  }
  if (standIn !== null) {
    mkdirSync(join(modules, 'baileys'))
    writeFileSync(join(modules, 'baileys', 'package.json'), JSON.stringify({ name: 'baileys', version: '6.7.0', main: 'index.js' }))
    writeFileSync(join(modules, 'baileys', 'index.js'), standIn)
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true, type: 'module' }))
  return dir
}

/** Runs `body` (an ES module, `useRustAuthState` imported) in `dir`; its last line of output. */
function run(dir, body) {
  const src = `import { useRustAuthState, AuthStateError, ErrorCode } from 'baileys-rust-auth'\n${body}`
  writeFileSync(join(dir, 'main.mjs'), src)
  const r = spawnSync(process.execPath, ['main.mjs'], { cwd: dir, encoding: 'utf8', timeout: 60_000 })
  assert.equal(r.status, 0, `exit ${r.status} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`)
  return JSON.parse(r.stdout.trim().split('\n').at(-1))
}

/** Whether `name` resolves from `dir` other than through the project's own node_modules. */
const resolvable = (dir, name) => {
  try {
    createRequire(join(dir, 'main.mjs')).resolve(`${name}/package.json`)
    return true
  } catch {
    return false
  }
}

test('without Baileys, opening fails with ERR_BAILEYS_NOT_FOUND and creates no file', (t) => {
  const dir = project('none', null)
  if (resolvable(dir, 'baileys') || resolvable(dir, '@whiskeysockets/baileys')) {
    return t.skip(`Baileys resolves from a folder above ${dir}, so its absence cannot be shown here`)
  }
  const out = run(
    dir,
    `const got = await useRustAuthState('auth.db').then(() => 'opened', (e) => ({ isTyped: e instanceof AuthStateError, code: e.code, message: e.message }))
     const again = await useRustAuthState('auth.db').then(() => 'opened', (e) => e.code)
     console.log(JSON.stringify({ got, again, file: (await import('node:fs')).existsSync('auth.db') }))`,
  )
  assert.equal(out.got.isTyped, true)
  assert.equal(out.got.code, 'ERR_BAILEYS_NOT_FOUND')
  assert.match(out.got.message, /install 'baileys' or '@whiskeysockets\/baileys'/)
  assert.equal(out.again, 'ERR_BAILEYS_NOT_FOUND', 'a second open asks again and fails alike')
  assert.equal(out.file, false, 'nothing is created when Baileys is missing')
  assert.equal(existsSync(join(dir, 'auth.db')), false)
})

test('Baileys installed as @whiskeysockets/baileys is found and used', () => {
  const dir = project('whiskeysockets', '@whiskeysockets/baileys')
  const out = run(
    dir,
    `const { proto } = await import('@whiskeysockets/baileys')
     let auth = await useRustAuthState('auth.db')
     const registrationId = auth.state.creds.registrationId
     const key = proto.Message.AppStateSyncKeyData.fromObject({ keyData: Buffer.alloc(32, 3), timestamp: 5 })
     await auth.state.keys.set({ 'app-state-sync-key': { k: key }, session: { s: { a: 1 } } })
     await auth.close()
     auth = await useRustAuthState('auth.db')
     const { k } = await auth.state.keys.get('app-state-sync-key', ['k'])
     const { s } = await auth.state.keys.get('session', ['s'])
     await auth.close()
     console.log(JSON.stringify({
       sameCreds: auth.state.creds.registrationId === registrationId,
       isProto: k instanceof proto.Message.AppStateSyncKeyData,
       keyData: Buffer.from(k.keyData).toString('hex'),
       s,
     }))`,
  )
  assert.deepEqual(out, { sameCreds: true, isProto: true, keyData: '03'.repeat(32), s: { a: 1 } })
})

test('Baileys installed but failing to load is reported as such, with the cause', () => {
  const dir = project('broken', '@whiskeysockets/baileys', { standIn: "require('a-dependency-left-out')\n" })
  const out = run(
    dir,
    `const e = await useRustAuthState('auth.db').then(() => null, (e) => e)
     console.log(JSON.stringify({ isTyped: e instanceof AuthStateError, code: e.code, message: e.message, cause: e.cause?.message }))`,
  )
  assert.equal(out.isTyped, true)
  assert.equal(out.code, 'ERR_BAILEYS_NOT_FOUND')
  // Not the other name, and not "install Baileys": it is installed.
  assert.match(out.message, /^Baileys is installed as 'baileys' but cannot be loaded: .*a-dependency-left-out/s)
  assert.match(out.cause, /a-dependency-left-out/)
  assert.equal(existsSync(join(dir, 'auth.db')), false)
})

test('a Baileys without what this package uses is refused by name, before anything is opened', () => {
  const dir = project('too-old', null, { standIn: 'exports.initAuthCreds = () => ({}); exports.BufferJSON = {}\n' })
  const out = run(
    dir,
    `const e = await useRustAuthState('auth.db').then(() => null, (e) => e)
     console.log(JSON.stringify({ isTyped: e instanceof AuthStateError, code: e.code, message: e.message }))`,
  )
  assert.deepEqual(out, {
    isTyped: true,
    code: 'ERR_BAILEYS_NOT_FOUND',
    message: "Baileys, installed as 'baileys', exports no proto: this version is not supported",
  })
  assert.equal(existsSync(join(dir, 'auth.db')), false)
})
