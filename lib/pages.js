'use strict'
// Paging through the keys of one type, in id order: a huge type is never read whole.

const codec = require('./codec.js')

/** Ids per page. */
const PAGE = 256

/** Every page of a type's entries: `[id, value]` pairs (values decoded), or ids alone. */
async function* pages(store, type, withValues = true) {
  let after = null
  for (;;) {
    const page = await codec.decodeList(await store.listPage(type, after, PAGE, withValues), withValues)
    yield page
    if (page.length < PAGE) return
    const last = page[page.length - 1]
    after = withValues ? last[0] : last
  }
}

module.exports = { pages }
