// What an `await` costs in a process holding `n` AsyncLocalStorages that have run, as a
// process holds one per socket Baileys made (its transaction layer's, never disabled).
//
//   node benches/storages.mjs [n ...]
//
// Prints the median of 9 rounds of 20,000 awaits, in µs, for each n (default 0 to 100).
import { AsyncLocalStorage } from 'node:async_hooks'

const counts = process.argv.slice(2).map(Number)
const storages = []

async function awaitCost() {
  const rounds = []
  for (let r = 0; r < 9; r++) {
    const start = performance.now()
    for (let i = 0; i < 20_000; i++) await Promise.resolve(i)
    rounds.push((performance.now() - start) / 20)
  }
  return rounds.sort((a, b) => a - b)[4]
}

const figures = []
for (const n of counts.length > 0 ? counts : [0, 1, 2, 5, 10, 20, 50, 100]) {
  while (storages.length < n) {
    const storage = new AsyncLocalStorage()
    storage.run({}, () => {})
    storages.push(storage)
  }
  figures.push(`${n}: ${(await awaitCost()).toFixed(2)}`)
}
console.log(`Node.js ${process.versions.node}, µs per await with n storages that have run: ${figures.join(', ')}`)
