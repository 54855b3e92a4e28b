// Opens a store in this fresh process and reads back what the request names.
// Arguments: kind, location, JSON request { get: { [type]: ids }, list: [types] }.

import { proto } from 'baileys'

import { childMain, openStore } from './signal.mjs'

const { AppStateSyncKeyData } = proto.Message

async function collect(iterable) {
  const items = []
  for await (const item of iterable) items.push(item)
  return items
}

await childMain(async ([kind, location, request]) => {
  const { get = {}, list = [] } = JSON.parse(request)
  const { state, close } = await openStore(kind, location)
  const result = { creds: state.creds, got: {}, appStateKeys: {}, listed: {}, listedIds: {} }
  for (const [type, ids] of Object.entries(get)) {
    result.got[type] = await state.keys.get(type, ids)
  }
  // Baileys uses these as protobuf messages: report whether each is one and encodes.
  for (const [id, value] of Object.entries(result.got['app-state-sync-key'] ?? {})) {
    if (!value) continue
    result.appStateKeys[id] = {
      isMessage: value instanceof AppStateSyncKeyData,
      encoded: AppStateSyncKeyData.encode(value).finish(),
    }
  }
  for (const type of list) {
    result.listed[type] = await collect(state.keys.list(type))
    result.listedIds[type] = await collect(state.keys.listIds(type))
  }
  await close()
  return result
})
