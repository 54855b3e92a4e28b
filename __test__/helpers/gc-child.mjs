// Opens, uses and closes stores one after another with a full collection in between, as a
// long-running process (and the benchmark) does, under --trace-deopt. Argument: a folder.
import { join } from 'node:path'
import { Curve } from 'baileys'
import { useRustAuthState } from '../../index.js'

const dir = process.argv[2]
const preKeys = {}
for (let i = 1; i <= 300; i++) preKeys[i] = Curve.generateKeyPair()
const ids = Object.keys(preKeys)
const session = { _sessions: { abc: { registrationId: 7, currentRatchet: { rootKey: Buffer.alloc(32, 3) } } }, version: 'v1' }
for (let round = 0; round < 12; round++) {
  const { state, saveCreds, close } = await useRustAuthState(join(dir, `auth-${round}.db`))
  for (let i = 0; i < 200; i++) {
    await state.keys.set({ 'pre-key': preKeys })
    await state.keys.get('pre-key', ids)
    await state.keys.set({ session: { [`${i}.0`]: session } })
    await state.keys.get('session', [`${i}.0`, 'absent.0'])
    await saveCreds()
  }
  await close()
  globalThis.gc()
  await new Promise((resolve) => setTimeout(resolve, 5))
}
process.stdout.write('done\n')
