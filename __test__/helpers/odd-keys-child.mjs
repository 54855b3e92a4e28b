// Reads back, in a process of its own, what bad-input.test.mjs stored from oddCases():
// every value by get (one id at a time and all at once) and every id by listIds. Prints
// `OK <count>` or `FAIL <what>` lines.
//
// argv: <path>
import { isDeepStrictEqual } from 'node:util'
import { writeSync } from 'node:fs'
import { useRustAuthState } from '../../index.js'
import { oddCases, ODD_TYPES } from './odd-keys.mjs'

const say = (s) => writeSync(1, `${s}\n`)
const [path] = process.argv.slice(2)
const cases = oddCases()
const { state, close } = await useRustAuthState(path)
let failures = 0
const fail = (what) => {
  failures++
  say(`FAIL ${JSON.stringify(what).slice(0, 300)}`)
}
for (const [type, id, value] of cases) {
  const got = await state.keys.get(type, [id])
  if (!Object.hasOwn(got, id) || !isDeepStrictEqual(got[id], value)) fail({ type, id, single: true })
}
for (const type of [...ODD_TYPES, 'big']) {
  const want = cases.filter(([t]) => t === type)
  const ids = want.map(([, id]) => id)
  const got = await state.keys.get(type, ids)
  for (const [, id, value] of want) if (!isDeepStrictEqual(got[id], value)) fail({ type, id, bulk: true })
  const listed = []
  for await (const id of state.keys.listIds(type)) listed.push(id)
  if (!isDeepStrictEqual([...listed].sort(), [...ids].sort())) fail({ type, listed: listed.length, want: ids.length })
}
await close()
say(failures === 0 ? `OK ${cases.length}` : `FAILED ${failures}`)
