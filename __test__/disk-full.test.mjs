// Disk full: the store lives on a 2 MB tmpfs (mounted by this test, unmounted after; that
// needs root, or CAP_SYS_ADMIN: without it the tests are skipped, saying so). Writes go on
// until one fails; it must reject with ERR_DISK_FULL and write nothing, every write confirmed
// before it must read back intact, reads must go on, and once space is freed (a filler file
// put on the same tmpfs beforehand is deleted) the same store must write again. Both
// durabilities. Nothing here changes with BRA_HEAVY.
//
// To run it: as root, `node --test __test__/disk-full.test.mjs`.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync, unlinkSync, readdirSync, openSync, writeSync, closeSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { useRustAuthState, ErrorCode } from '../index.js'
import { integrity, Database } from './helpers/procs.mjs'
import { bytesOf } from './helpers/signal-shapes.mjs'

const SIZE = '2m'
const mountPoint = mkdtempSync(join(tmpdir(), 'bra-full-'))
const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${SIZE},mode=0700`, 'tmpfs', mountPoint], { encoding: 'utf8' })
const skip =
  mounted.status === 0
    ? false
    : `needs root (or CAP_SYS_ADMIN) to mount a ${SIZE} tmpfs (mount said: ${(mounted.stderr || String(mounted.error)).trim()}); ` +
      'run as root: node --test __test__/disk-full.test.mjs'
const unmount = () => {
  if (mounted.status !== 0) return
  if (spawnSync('umount', [mountPoint]).status !== 0) spawnSync('umount', ['-l', mountPoint])
  mounted.status = null
}
process.once('exit', () => {
  unmount()
  rmSync(mountPoint, { recursive: true, force: true })
})

const value = (i) => ({ i, blob: bytesOf(32 * 1024, 'full', i) }) // incompressible, 32 KB
const isDiskFull = (err) => {
  assert.equal(err.code, ErrorCode.ERR_DISK_FULL, err.message)
  assert.match(err.message, /full/i)
  return true
}

/** Fills what is left of the tmpfs with one file; returns its path. */
function fillUp(name) {
  const path = join(mountPoint, name)
  const fd = openSync(path, 'w')
  const chunk = Buffer.alloc(16 * 1024, 1)
  try {
    for (;;) writeSync(fd, chunk)
  } catch (err) {
    assert.equal(err.code, 'ENOSPC')
  } finally {
    closeSync(fd)
  }
  return path
}

describe(`a full disk (a ${SIZE} tmpfs)`, { skip }, () => {
  after(() => {
    unmount()
    rmSync(mountPoint, { recursive: true, force: true })
  })

  for (const durability of ['normal', 'full']) {
    it(`durability '${durability}': ERR_DISK_FULL, nothing earlier lost, and writes again once space is freed`, async (t) => {
      const filler = join(mountPoint, 'filler.bin')
      writeFileSync(filler, bytesOf(512 * 1024, 'filler'))
      const path = join(mountPoint, `auth-${durability}.db`)
      const auth = await useRustAuthState(path, { durability })
      const { keys } = auth.state
      const confirmed = []
      let failure = null
      try {
        for (let i = 0; i < 1000 && failure === null; i++) {
          // Each call also overwrites `latest` and deletes the previous `marker`: the failing
          // call must leave both as the last confirmed call left them.
          const data = { session: { [`k${i}`]: value(i), latest: { i } }, marker: { [i]: { i }, [i - 1]: null } }
          await keys.set(data).then(
            () => confirmed.push(i),
            (err) => (failure = err),
          )
        }
        assert.ok(failure, 'the disk never filled up')
        assert.ok(isDiskFull(failure))
        assert.ok(confirmed.length > 3, `only ${confirmed.length} writes fit before the disk was full`)
        const failedId = `k${confirmed.at(-1) + 1}`

        // Every confirmed write is intact, the failed one left nothing, reads go on.
        const check = async () => {
          const ids = confirmed.map((i) => `k${i}`)
          const all = await keys.get('session', [...ids, failedId, 'latest']) // storage thread
          assert.deepEqual(Object.keys(all).sort(), [...ids, 'latest'].sort())
          assert.deepEqual(all.latest, { i: confirmed.at(-1) }, 'the failed call overwrote a key')
          const last = confirmed.at(-1)
          assert.deepEqual(await keys.get('marker', [String(last), String(last + 1)]), { [last]: { i: last } }, 'the failed call deleted a key')
          for (const i of confirmed) {
            assert.deepEqual(all[`k${i}`], value(i), `k${i}`)
            assert.deepEqual(await keys.get('session', [`k${i}`]), { [`k${i}`]: value(i) }) // small read
          }
        }
        await check()

        // Creds too large for what is left: refused, the saved creds unchanged.
        const counter = auth.state.creds.accountSyncCounter
        auth.state.creds.accountSyncCounter = counter + 1
        auth.state.creds.filler = bytesOf(256 * 1024, 'creds')
        await assert.rejects(auth.saveCreds(), isDiskFull)
        delete auth.state.creds.filler
        await check()

        // Free space: the same store writes again.
        unlinkSync(filler)
        await keys.set({ session: { again: value(-1) } })
        await auth.saveCreds()
        confirmed.push(-1)
        assert.deepEqual(await keys.get('session', ['again']), { again: value(-1) })
        t.diagnostic(`${confirmed.length - 1} writes of 32 KB fitted, then ERR_DISK_FULL: ${failure.message}`)
      } finally {
        await auth.close()
      }

      // From a new connection: the file is sound and holds exactly what was confirmed. The
      // disk may be full again (the -wal is folded back into the file at close, which needs
      // room), so taking the session's lease, a write, may fail, but only as ERR_DISK_FULL;
      // a look without the lease always works.
      if (Database) assert.equal(integrity(path), 'ok')
      await useRustAuthState(path, { durability }).then(
        (leased) => leased.close(),
        (err) => assert.ok(isDiskFull(err), `${err.code}: ${err.message}`),
      )
      const again = await useRustAuthState(path, { durability, lease: false })
      try {
        const ids = await (async () => {
          const out = []
          for await (const id of again.state.keys.listIds('session')) out.push(id)
          return out
        })()
        assert.deepEqual(ids.sort(), [...confirmed.map((i) => (i === -1 ? 'again' : `k${i}`)), 'latest'].sort())
        const all = await again.state.keys.get('session', ids)
        for (const i of confirmed) {
          const id = i === -1 ? 'again' : `k${i}`
          assert.deepEqual(all[id], value(i), id)
        }
        assert.equal('filler' in again.state.creds, false)
      } finally {
        await again.close()
      }
      for (const f of readdirSync(mountPoint)) rmSync(join(mountPoint, f), { force: true })
    })
  }

  it('refuses to create a store on a full disk with ERR_DISK_FULL, then creates it once space is freed', async () => {
    const filler = fillUp('all-of-it.bin')
    const path = join(mountPoint, 'new.db')
    try {
      await assert.rejects(useRustAuthState(path), isDiskFull)
    } finally {
      unlinkSync(filler)
    }
    const auth = await useRustAuthState(path)
    await auth.state.keys.set({ session: { a: value(1) } })
    assert.deepEqual(await auth.state.keys.get('session', ['a']), { a: value(1) })
    await auth.close()
    const again = await useRustAuthState(path)
    assert.deepEqual(await again.state.keys.get('session', ['a']), { a: value(1) })
    await again.close()
  })
})
