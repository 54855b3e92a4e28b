// Uses a store, then lets the process end on its own, after close() or without it, as a bot's
// process ends. Arguments: kind, location, 'close' | 'no-close'.

import { Curve } from 'baileys'

import { openStore, toWire } from './signal.mjs'

const [kind, location, mode] = process.argv.slice(2)
const { state, saveCreds, close } = await openStore(kind, location)
await state.keys.set({ 'pre-key': { 1: Curve.generateKeyPair() } })
await saveCreds()
if (mode === 'close') await close()
process.stdout.write(toWire({ mode }))
