// The example README points to (`npm run example`), run as a user runs it: on a path of
// their choosing, in a folder that holds other files, twice.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const example = fileURLToPath(new URL('../examples/two-devices.mjs', import.meta.url))

test('the two-devices example talks across a restart and leaves the rest of its folder alone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bra-example-'))
  try {
    const neighbour = join(dir, 'notes.txt')
    writeFileSync(neighbour, 'not the store')
    for (let run = 0; run < 2; run++) {
      const r = spawnSync(process.execPath, [example, join(dir, 'auth.db')], { encoding: 'utf8', timeout: 120_000 })
      assert.equal(r.status, 0, `run ${run}: exit ${r.status} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}`)
      assert.match(r.stdout, /^first run: 12 messages decrypted$/m)
      assert.match(r.stdout, /^after restart: 12 messages decrypted, same sessions$/m)
      // Each run starts from a fresh store: bob has 29 of the 30 pre-keys of this run, none of the last.
      assert.match(r.stdout, /^ {2}pre-key +29 keys$/m)
      assert.equal(readFileSync(neighbour, 'utf8'), 'not the store', `run ${run} touched another file of the folder`)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
