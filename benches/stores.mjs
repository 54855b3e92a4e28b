// The stores compared, behind one interface so each workload is written once:
// `open(dir)` resolves to `{ creds, keys, saveCreds, close }` on a store kept in `dir`.
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { useMultiFileAuthState } from 'baileys'
import { useReferenceAuthState } from './reference-store.mjs'
import { serverStores } from './server-stores.mjs'

const require = createRequire(import.meta.url)
const { useRustAuthState } = require('../index.js')

/** What a `use*AuthState` call returns, as the workloads use a store. */
export const shape = ({ state, saveCreds, close }) => ({
  creds: state.creds,
  keys: state.keys,
  // Called bare, as `ev.on('creds.update', saveCreds)` calls it.
  saveCreds: () => saveCreds(),
  close: close ?? (async () => {}),
})

export const STORES = [
  {
    name: 'rust',
    label: 'rust (normal)',
    open: async (dir) => shape(await useRustAuthState(join(dir, 'auth.db'))),
  },
  {
    name: 'rust-full',
    label: 'rust (full)',
    open: async (dir) => shape(await useRustAuthState(join(dir, 'auth.db'), { durability: 'full' })),
  },
  {
    name: 'multi-file',
    label: 'multi-file',
    open: async (dir) => shape(await useMultiFileAuthState(join(dir, 'auth'))),
  },
  {
    name: 'reference',
    label: 'reference',
    open: async (dir) => shape(await useReferenceAuthState(join(dir, 'auth.db'))),
  },
  // PostgreSQL and Redis rows, when those servers answer: no bulk fill (W6) nor RSS run.
  ...(await serverStores(shape)),
]

export const storeByName = (name) => {
  const store = STORES.find((s) => s.name === name)
  if (!store) throw new Error(`unknown store ${name}`)
  return store
}
