// Randomized round trips of the value codec through the real store: JavaScript encoder,
// native stored form (base64 compaction), native presentation (JSON or the stored form),
// JavaScript decoder. A fixed seed always runs; a random one is logged so a failure can be replayed
// with CODEC_SEED=<seed>.
import { describe, it, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { proto } from 'baileys'
import { createRequire } from 'node:module'
import { useRustAuthState } from '../index.js'
import { rng } from './helpers/signal-shapes.mjs'

// A real protobuf Long, as Baileys' decoded messages hold them.
const aLong = proto.Message.AppStateSyncKeyData.decode(
  proto.Message.AppStateSyncKeyData.encode({ keyData: Buffer.alloc(1), timestamp: 1700000000123 }).finish(),
).timestamp

const STRINGS = ['', 'a', 'v1', 'héllo', '日本語', '🎉 emoji', 'quote " \\ \n \t \u0000', '\u2028\u2029', '\ud800', 'x\udfff', '__proto__']

function generator(seed) {
  const r = rng(seed)
  const pick = (arr) => arr[Math.floor(r() * arr.length)]
  const bytes = (n) => Buffer.from(Array.from({ length: n }, () => Math.floor(r() * 256)))
  const leaf = () => {
    switch (Math.floor(r() * 14)) {
      case 0: return null
      case 1: return undefined
      case 2: return r() < 0.5
      case 3: return Math.floor((r() - 0.5) * 2 ** Math.floor(r() * 60))
      case 4: return pick([0, -0, NaN, Infinity, -Infinity, 0.1, -1.5e-300, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 53, -(2 ** 60), 1e21])
      case 5: return pick(STRINGS)
      case 6: return bytes(Math.floor(r() * 40)).toString('base64') // libsignal-style text
      case 7: return bytes(Math.floor(r() * 70))
      case 8: return new Uint8Array(bytes(Math.floor(r() * 20)))
      case 9: return new Date(Math.floor(r() * 2e12))
      case 10: return aLong
      case 11: return String.fromCharCode(...Array.from({ length: 8 }, () => Math.floor(r() * 0x10000)))
      default: return r() * 1e6
    }
  }
  const value = (depth) => {
    const k = r()
    if (depth > 4 || k < 0.45) return leaf()
    if (k < 0.7) return Array.from({ length: Math.floor(r() * 5) }, () => value(depth + 1))
    const obj = {}
    for (let i = Math.floor(r() * 6); i > 0; i--) {
      const key = r() < 0.3 ? bytes(33).toString('base64') : pick([...STRINGS.filter((s) => s.isWellFormed()), 'k' + i, '0', '17'])
      if (key === '__proto__') Object.defineProperty(obj, key, { value: value(depth + 1), enumerable: true, writable: true, configurable: true })
      else obj[key] = value(depth + 1)
    }
    return obj
  }
  return value
}

/** What the store promises to give back: bytes as Buffers, class instances as plain data. */
function expected(v) {
  if (v instanceof Uint8Array) return Buffer.from(v)
  if (v instanceof Date || v === null || typeof v !== 'object') return v
  if (Array.isArray(v)) return v.map(expected)
  const out = {}
  for (const k of Object.keys(v)) {
    Object.defineProperty(out, k, { value: expected(v[k]), enumerable: true, writable: true, configurable: true })
  }
  return out
}

const seeds = [20261127, Number(process.env.CODEC_SEED) || Math.floor(Math.random() * 2 ** 31)]

/** `{ a, b, c }` whose getter of `a` deletes `c`: the keys change while it is encoded. */
function shiftyObject() {
  const shifty = { a: 1, b: 2, c: 3 }
  Object.defineProperty(shifty, 'a', {
    enumerable: true,
    get() {
      delete shifty.c
      return 1
    },
  })
  return shifty
}
describe('codec round trips through the store', () => {
  let dir, auth
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bra-codec-'))
    auth = await useRustAuthState(join(dir, 'auth.db'))
  })
  after(async () => {
    await auth.close()
    rmSync(dir, { recursive: true, force: true })
  })

  for (const seed of seeds) {
    it(`keeps 600 random values exactly (seed ${seed})`, async (t) => {
      t.diagnostic(`seed ${seed} (replay with CODEC_SEED=${seed})`)
      const make = generator(seed)
      const values = {}
      for (let i = 0; i < 600; i++) values[`id-${i}`] = make(0)
      // Values that are null or undefined at the top mean "delete": store them wrapped.
      for (const id in values) if (values[id] == null) values[id] = [values[id]]
      const type = `random-${seed}`
      await auth.state.keys.set({ [type]: values })
      const ids = Object.keys(values)
      // One large get (storage thread, decoded in slices) and small ones (answered at once).
      const all = await auth.state.keys.get(type, ids)
      for (const id of ids) {
        assert.deepStrictEqual(all[id], expected(values[id]), `${id} (bulk)`)
        const one = await auth.state.keys.get(type, [id])
        assert.deepStrictEqual(one[id], expected(values[id]), `${id} (single)`)
      }
      let listed = 0
      for await (const [id, v] of auth.state.keys.list(type)) {
        assert.deepStrictEqual(v, expected(values[id]), `${id} (list)`)
        listed++
      }
      assert.equal(listed, ids.length)
    })
  }

  it('stores an object\'s own keys only, whatever its prototype chain or getters do', async () => {
    // Inherited enumerable keys (a polluted Object.prototype, a class with fields on its
    // prototype) are not stored; a getter that deletes a later key still gives a sound frame.
    class WithDefaults {
      constructor() {
        this.own = 1
      }
    }
    WithDefaults.prototype.inherited = 2
    const shifty = shiftyObject()
    Object.prototype.polluted = 'x' // eslint-disable-line no-extend-native
    try {
      await auth.state.keys.set({ odd: { plain: { x: 1, y: { z: 2 } }, empty: {}, classy: new WithDefaults(), shifty } })
    } finally {
      delete Object.prototype.polluted
    }
    const got = await auth.state.keys.get('odd', ['plain', 'empty', 'classy', 'shifty'])
    assert.deepStrictEqual(got.plain, { x: 1, y: { z: 2 } })
    assert.deepStrictEqual(got.empty, {})
    assert.deepStrictEqual(got.classy, { own: 1 })
    // With Object.prototype polluted, keys are listed as Object.keys lists them, when the
    // encoding of the object began: c is listed, and gone once reached.
    assert.deepStrictEqual(Object.keys(got.shifty), ['a', 'b', 'c'])
    assert.deepStrictEqual([got.shifty.a, got.shifty.b, got.shifty.c], [1, 2, undefined])
  })

  it('keeps objects of many keys, in their order, and objects without a prototype', async () => {
    // Past 127 keys an object's count takes more than the one byte first left for it.
    const sized = (n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${n - i}`, i]))
    const bare = Object.create(null)
    bare.b = { c: [1, bare.d] }
    bare.a = 'x'
    const values = { k127: sized(127), k128: sized(128), k20000: sized(20_000), bare, inBare: { bare } }
    await auth.state.keys.set({ many: values })
    const got = await auth.state.keys.get('many', Object.keys(values))
    for (const [id, v] of Object.entries(values)) {
      assert.deepStrictEqual(JSON.stringify(got[id]), JSON.stringify(v), id)
      assert.deepStrictEqual(Object.keys(got[id]), Object.keys(v), `${id}: order`)
    }
  })

  it('keeps objects of every known shape, and objects that nearly have one, exactly', async () => {
    // Objects whose keys are those of a shape (src/shapes.rs) reach JavaScript without their
    // keys and are built by a literal; bytes and undefined keep them off the JSON path.
    const shapes = createRequire(import.meta.url)('../binding.js').valueShapes()
    assert.ok(shapes.some((keys) => keys.join() === 'private,public'))
    const id = Buffer.alloc(33, 7).toString('base64')
    const values = {}
    shapes.forEach((keys, i) => {
      const valueOf = (j) => [Buffer.from([i, j]), undefined, { n: j, u: undefined }, 'text', null][j % 5]
      const of = (ks) => Object.fromEntries(ks.map((k, j) => [k, valueOf(j)]))
      const shaped = of(keys)
      values[`shape-${i}`] = shaped
      values[`reversed-${i}`] = of([...keys].reverse())
      values[`extra-${i}`] = { ...shaped, extra: Buffer.from([i]) }
      values[`fewer-${i}`] = [of(keys.slice(0, -1)), Buffer.from([i])]
      values[`nested-${i}`] = { byId: { [id]: shaped }, list: [shaped, of([...keys].reverse())], inShape: Object.fromEntries(keys.map((k) => [k, shaped])) }
    })
    await auth.state.keys.set({ shaped: values })
    const ids = Object.keys(values)
    const all = await auth.state.keys.get('shaped', ids)
    for (const id of ids) {
      assert.deepStrictEqual(all[id], values[id], `${id} (bulk)`)
      assert.deepStrictEqual(Object.keys(all[id]), Object.keys(values[id]), `${id}: order`)
      const one = await auth.state.keys.get('shaped', [id])
      assert.deepStrictEqual(one[id], values[id], `${id} (single)`)
    }
  })

  it('does not store a key a getter deleted before it was reached', async () => {
    await auth.state.keys.set({ odd: { shifty: shiftyObject() } })
    const { shifty: got } = await auth.state.keys.get('odd', ['shifty'])
    assert.deepStrictEqual(got, { a: 1, b: 2 })
  })

  it('keeps creds with every kind of value, through a reopen', async () => {
    const make = generator(seeds[1] ^ 0x5bd1e995)
    const extra = {}
    for (let i = 0; i < 50; i++) extra[`f${i}`] = make(0)
    Object.assign(auth.state.creds, { extra })
    await auth.saveCreds()
    const want = expected(auth.state.creds)
    const path = join(dir, 'auth.db')
    await auth.close()
    auth = await useRustAuthState(path)
    assert.deepStrictEqual(auth.state.creds, want)
  })
})
