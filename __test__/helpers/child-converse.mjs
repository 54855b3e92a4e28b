// Reopens the stores of a conversation's parties in this fresh process, reports what they hold,
// and carries the conversation on.
// Arguments: kind, JSON options for converse(), then one store location per party.

import { childMain, converse, makeParty, openStore } from './signal.mjs'

await childMain(async ([kind, options, ...locations]) => {
  const stores = await Promise.all(locations.map((location) => openStore(kind, location)))
  // No server to ask in this process: the LID mappings Baileys learnt must come from the stores.
  const directory = new Map()
  const parties = stores.map((store) => makeParty(store, { name: store.state.creds.me.name, directory }))
  const reopened = []
  for (const { state } of stores) {
    const { creds, keys } = state
    const ids = Array.from({ length: creds.nextPreKeyId - 1 }, (_, i) => String(i + 1))
    const found = await keys.get('pre-key', ids)
    reopened.push({
      name: creds.me.name,
      nextPreKeyId: creds.nextPreKeyId,
      preKeyIds: ids.filter((id) => found[id]).map(Number),
    })
  }
  const log = await converse(parties, JSON.parse(options))
  for (const party of parties) await party.close()
  return { reopened, log }
})
