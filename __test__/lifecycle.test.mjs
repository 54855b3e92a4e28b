// A store left open must never crash the process on its way out, and what was queued
// before a normal exit is written. The write-ahead log is copied back into the database off
// the JavaScript thread.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Worker } from 'node:worker_threads'
import { fileURLToPath } from 'node:url'
import { useRustAuthState } from '../index.js'

const index = fileURLToPath(new URL('../index.js', import.meta.url))

/** Runs `body` (CommonJS source, `auth` open on `path`) in a fresh process. */
function child(path, body) {
  const src = `const { useRustAuthState } = require(${JSON.stringify(index)});
    (async () => { const auth = await useRustAuthState(${JSON.stringify(path)}); ${body} })()`
  return spawnSync(process.execPath, ['-e', src], { encoding: 'utf8', timeout: 60_000 })
}

describe('process exit with the store open', () => {
  const writes = (n) => `for (let i = 0; i < ${n}; i++) auth.state.keys.set({ session: { ['s' + i]: { i } } });`
  const cases = {
    'after awaited writes': `${writes(50)} await auth.state.keys.get('session', ['s0']);`,
    'with writes still queued': writes(300),
    'through process.exit()': `await auth.state.keys.set({ session: { s0: { i: 0 } } }); process.exit(0);`,
    'after close, exiting at once': `${writes(10)} auth.close(); process.exit(0);`,
  }
  for (const [name, body] of Object.entries(cases)) {
    it(`exits cleanly ${name}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'bra-exit-'))
      try {
        const path = join(dir, 'auth.db')
        for (let round = 0; round < 3; round++) {
          const r = child(path, body)
          assert.equal(r.status, 0, `exit ${r.status} ${r.signal ?? ''}\n${r.stderr}`)
        }
        const auth = await useRustAuthState(path)
        assert.deepEqual(await auth.state.keys.get('session', ['s0']), { s0: { i: 0 } })
        await auth.close()
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    })
  }

  it('flushes writes queued before a natural exit', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bra-exit-'))
    try {
      const path = join(dir, 'auth.db')
      const r = child(path, writes(300))
      assert.equal(r.status, 0, r.stderr)
      const auth = await useRustAuthState(path)
      assert.deepEqual(await auth.state.keys.get('session', ['s299']), { s299: { i: 299 } })
      await auth.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('writes the calls made in the turn that calls process.exit()', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bra-exit-'))
    try {
      const path = join(dir, 'auth.db')
      // The first is written at once; the others were held to be committed together.
      const r = child(path, `${writes(10)} process.exit(0);`)
      assert.equal(r.status, 0, r.stderr)
      const auth = await useRustAuthState(path)
      assert.deepEqual(await auth.state.keys.get('session', ['s0', 's9']), { s0: { i: 0 }, s9: { i: 9 } })
      await auth.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('survives worker threads that end with their store open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bra-worker-'))
    try {
      const src = `const { useRustAuthState } = require(${JSON.stringify(index)});
        (async () => {
          const auth = await useRustAuthState(${JSON.stringify(join(dir, 'auth.db'))}, { sessionId: 'w' + require('worker_threads').threadId });
          ${writes(100)}
          require('worker_threads').parentPort.postMessage('ready')
        })()`
      for (let i = 0; i < 4; i++) {
        await new Promise((resolve, reject) => {
          const w = new Worker(src, { eval: true })
          w.once('message', () => w.terminate().then(resolve, reject))
          w.once('error', reject)
        })
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describe('the write-ahead log', () => {
  it('is copied into the database by the storage thread after writes made on this thread', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bra-wal-'))
    try {
      const path = join(dir, 'auth.db')
      // Without a lease nothing else reaches the storage thread (its renewals would run
      // a due checkpoint too).
      const auth = await useRustAuthState(path, { lease: false })
      // Awaited one at a time, each write is made on this thread; 300 of about seven pages
      // of log each pass the 1,000 that make a checkpoint due. Until one runs the database
      // file holds little more than the schema (a commit would only checkpoint itself past
      // 4,000 pages), so a file of megabytes shows the storage thread did it.
      const blob = Buffer.alloc(12 * 1024, 7)
      for (let i = 0; i < 300; i++) await auth.state.keys.set({ 'sender-key': { [`k${i}`]: { i, blob } } })
      const deadline = Date.now() + 5_000
      while (statSync(path).size < 1 << 20 && Date.now() < deadline) await sleep(20)
      assert.ok(statSync(path).size >= 1 << 20, `database file of ${statSync(path).size} bytes`)
      await auth.close()
      const again = await useRustAuthState(path)
      const found = await again.state.keys.get('sender-key', ['k0', 'k299'])
      assert.deepEqual(found, { k0: { i: 0, blob }, k299: { i: 299, blob } })
      await again.close()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
