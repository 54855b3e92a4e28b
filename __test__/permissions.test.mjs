// Permissions: the file holds private keys, so the database, its -wal and -shm are 0600 and
// the parent directories the library creates are 0700, even when the process runs with
// umask 000 (set at the top of a child process, helpers/open-child.mjs, which keeps the
// store open while the modes are read, since a clean close removes -wal and -shm).
// Directories that already existed keep their mode. Nothing here changes with BRA_HEAVY.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync, mkdirSync, chmodSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { useRustAuthState } from '../index.js'
import { run } from './helpers/procs.mjs'

const mode = (path) => (statSync(path).mode & 0o777).toString(8).padStart(4, '0')

/** Opens `path` in a child with umask 0, writes a key, and holds the store open. */
async function holdOpen(path) {
  const child = run('open-child.mjs', [path, 'hold', 'umask0'])
  const first = JSON.parse(await child.line('{', 120_000))
  assert.equal(first.ok, true, `${first.code}: ${first.message}`)
  await child.line('{"holding"', 30_000)
  return async () => {
    child.stdin.end()
    const { code, stderr } = await child.exited
    assert.equal(code, 0, stderr)
  }
}

describe('file modes under umask 000', () => {
  let dir
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'bra-modes-'))
    chmodSync(dir, 0o755)
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('creates the database, -wal and -shm as 0600 and missing parents as 0700', async (t) => {
    const existing = join(dir, 'existing')
    mkdirSync(existing, { mode: 0o755 })
    chmodSync(existing, 0o755)
    const path = join(existing, 'created', 'nested', 'auth.db')
    const release = await holdOpen(path)
    try {
      const modes = {
        'auth.db': mode(path),
        'auth.db-wal': mode(`${path}-wal`),
        'auth.db-shm': mode(`${path}-shm`),
        'created/': mode(join(existing, 'created')),
        'created/nested/': mode(join(existing, 'created', 'nested')),
        'existing/ (made by the test)': mode(existing),
      }
      t.diagnostic(JSON.stringify(modes))
      assert.deepEqual(modes, {
        'auth.db': '0600',
        'auth.db-wal': '0600',
        'auth.db-shm': '0600',
        'created/': '0700',
        'created/nested/': '0700',
        'existing/ (made by the test)': '0755',
      })
    } finally {
      await release()
    }
    assert.equal(existsSync(`${path}-wal`), false, 'a clean close removes -wal')
    assert.equal(mode(path), '0600')
  })

  it('keeps 0600 on -wal and -shm recreated when an existing database is opened again', async () => {
    const path = join(dir, 'again', 'auth.db')
    const first = await useRustAuthState(path)
    await first.close()
    const release = await holdOpen(path)
    try {
      assert.deepEqual([mode(path), mode(`${path}-wal`), mode(`${path}-shm`)], ['0600', '0600', '0600'])
    } finally {
      await release()
    }
  })
})
