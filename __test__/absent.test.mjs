// Keys known to be absent (lib/absent.js): while a store holds its session's lease it answers
// reads of keys it found absent without asking the database again. These tests check that no
// read is ever answered wrongly by it:
//   - a random mix of gets, sets, deletes and clears on few ids, issued alone and in bursts,
//     each get compared with a model of the calls made before it;
//   - a store whose lease is taken over stops trusting what it knew, and reads what the new
//     holder wrote;
//   - without a lease nothing is remembered: another store's writes are read at once.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { useRustAuthState } from '../index.js'
import { rng, seed } from './helpers/signal-shapes.mjs'

let dir
before(() => (dir = mkdtempSync(join(tmpdir(), 'bra-absent-'))))
after(() => rmSync(dir, { recursive: true, force: true }))

const TYPES = ['lid-mapping', 'session']
const IDS = ['a', 'b', 'c', 'constructor', '15550000001']

describe('keys known to be absent', () => {
  it('never hide a key that a call made before the read wrote', async () => {
    const random = rng(seed)
    const pick = (list) => list[Math.floor(random() * list.length)]
    const auth = await useRustAuthState(join(dir, 'mix.db'))
    const model = new Map(TYPES.map((t) => [t, new Map()]))
    let version = 0
    // One call, made now: applied to the model in call order, checked when it resolves.
    const call = () => {
      const r = random()
      const type = pick(TYPES)
      if (r < 0.55) {
        const ids = [pick(IDS), ...(random() < 0.3 ? [pick(IDS)] : [])]
        const want = {}
        for (const id of ids) if (model.get(type).has(id)) want[id] = model.get(type).get(id)
        return auth.state.keys.get(type, ids).then((got) => {
          assert.deepEqual({ ...got }, want, `get ${type} ${ids} after ${version} writes`)
          for (const id of ids) if (!(id in want)) assert.equal(Object.hasOwn(got, id), false)
        })
      }
      if (r < 0.97) {
        const id = pick(IDS)
        const value = random() < 0.3 ? null : `v${++version}`
        if (value === null) model.get(type).delete(id)
        else model.get(type).set(id, value)
        return auth.state.keys.set({ [type]: { [id]: value } })
      }
      for (const m of model.values()) m.clear()
      return auth.state.keys.clear()
    }
    for (let round = 0; round < 400; round++) {
      if (random() < 0.5) await call()
      else await Promise.all(Array.from({ length: 1 + Math.floor(random() * 8) }, call))
    }
    await auth.close()
  })

  it('are forgotten when another store takes the session over', async () => {
    const path = join(dir, 'takeover.db')
    const first = await useRustAuthState(path, { leaseTtlMs: 150 })
    assert.deepEqual(await first.state.keys.get('lid-mapping', ['x']), {})
    assert.deepEqual(await first.state.keys.get('lid-mapping', ['x']), {})
    const second = await useRustAuthState(path, { takeover: true })
    await second.state.keys.set({ 'lid-mapping': { x: 'y' } })
    // The first store learns of the takeover at its next lease renewal.
    await sleep(300)
    assert.deepEqual(await first.state.keys.get('lid-mapping', ['x']), { x: 'y' })
    await second.close()
    await first.close()
  })

  it('are not kept without a lease', async () => {
    const path = join(dir, 'shared.db')
    const one = await useRustAuthState(path, { lease: false })
    const two = await useRustAuthState(path, { lease: false })
    assert.deepEqual(await one.state.keys.get('lid-mapping', ['x']), {})
    await two.state.keys.set({ 'lid-mapping': { x: 'y' } })
    assert.deepEqual(await one.state.keys.get('lid-mapping', ['x']), { x: 'y' })
    await Promise.all([one.close(), two.close()])
  })

  it('do not answer once the store is closed', async () => {
    const auth = await useRustAuthState(join(dir, 'closed.db'))
    assert.deepEqual(await auth.state.keys.get('lid-mapping', ['x']), {})
    await auth.close()
    await assert.rejects(auth.state.keys.get('lid-mapping', ['x']), { code: 'ERR_CLOSED' })
  })
})
