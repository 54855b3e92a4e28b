// Run with --allow-natives-syntax. Fills the root of the hidden classes every `{}` shares
// with distinct first keys, as a long-running bot's process does, then reads two values of
// the same shape from a store and reports whether the engine gave them one hidden class.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { useRustAuthState } from '../../index.js'

// `keyPair` has a known shape (src/shapes.rs): it is built by an object literal.
const record = (n) => ({
  currentRatchet: { rootKey: Buffer.alloc(32, n), previousCounter: n },
  indexInfo: { closed: -1, used: n },
  keyPair: { private: Buffer.alloc(32, n), public: Buffer.alloc(32, n + 1) },
})
const dir = mkdtempSync(join(tmpdir(), 'bra-shapes-'))
try {
  const auth = await useRustAuthState(join(dir, 'auth.db'))
  await auth.state.keys.set({ session: { a: record(1), b: record(2) } })
  const filled = []
  for (let i = 0; i < 5000; i++) {
    const o = {}
    o[`elsewhere${i}`] = i
    filled.push(o)
  }
  const { a, b } = await auth.state.keys.get('session', ['a', 'b'])
  const same = (x, y) => eval('%HaveSameMap(x, y)')
  process.stdout.write(
    JSON.stringify({
      filled: filled.length,
      record: same(a, b),
      nested: same(a.currentRatchet, b.currentRatchet) && same(a.indexInfo, b.indexInfo),
      shaped: same(a.keyPair, b.keyPair) && Object.getPrototypeOf(a.keyPair) === Object.prototype,
      plain: Object.getPrototypeOf(a) === Object.prototype && a.constructor === Object,
    }),
  )
  await auth.close()
} finally {
  rmSync(dir, { recursive: true, force: true })
}
