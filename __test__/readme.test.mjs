// README's migration script ("Migrating from useMultiFileAuthState"), taken from README.md as
// it stands and run as a user runs it: `node migrate.mjs` in the bot's folder, next to an
// `auth_info` folder that Baileys' own useMultiFileAuthState wrote.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { useMultiFileAuthState } from 'baileys'
import { useRustAuthState } from '../index.js'

const root = fileURLToPath(new URL('..', import.meta.url))

/** The README code block whose first line is `first`. */
function readmeBlock(first) {
  const blocks = readFileSync(join(root, 'README.md'), 'utf8').match(/^```js\n[\s\S]*?^```$/gm) ?? []
  const block = blocks.find((b) => b.split('\n')[1] === first)
  assert.ok(block, `README.md has no js block starting with ${first}`)
  return block.split('\n').slice(1, -1).join('\n')
}

test("README's migration script copies a useMultiFileAuthState folder and the login carries on", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bra-readme-'))
  try {
    // The bot's folder: this package installed, and the folder its old store wrote.
    mkdirSync(join(dir, 'node_modules'))
    symlinkSync(root, join(dir, 'node_modules', 'baileys-rust-auth'), 'dir')
    const old = await useMultiFileAuthState(join(dir, 'auth_info'))
    old.state.creds.me = { id: '15550000001:7@s.whatsapp.net', name: 'Shop' }
    await old.state.keys.set({
      'pre-key': { 1: { public: Buffer.alloc(32, 1), private: Buffer.alloc(32, 2) }, 2: { public: Buffer.alloc(32, 3), private: Buffer.alloc(32, 4) } },
      session: { '15550000002.0': { _sessions: {}, version: 'v1' } },
    })
    await old.saveCreds()

    writeFileSync(join(dir, 'migrate.mjs'), readmeBlock('// migrate.mjs — run once, with the bot stopped (a running bot holds the session\'s lease)'))
    const r = spawnSync(process.execPath, ['migrate.mjs'], { cwd: dir, encoding: 'utf8', timeout: 60_000 })
    assert.equal(r.status, 0, `migrate.mjs failed:\n${r.stdout}\n${r.stderr}`)
    assert.match(r.stdout, /^3 keys copied \{ 'pre-key': 2, session: 1 \}$/m)
    assert.match(r.stdout, /^logged in as 15550000001:7@s\.whatsapp\.net$/m)

    const auth = await useRustAuthState(join(dir, 'auth.db'))
    try {
      assert.equal(auth.state.creds.registrationId, old.state.creds.registrationId)
      const { 2: preKey } = await auth.state.keys.get('pre-key', ['2'])
      assert.ok(Buffer.from(preKey.private).equals(Buffer.alloc(32, 4)))
    } finally {
      await auth.close()
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
