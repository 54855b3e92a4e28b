'use strict'
// Keys known to be absent. Baileys asks for keys that do not exist again and again: the LID
// mapping of every contact that has none, on every message to or from it. Its own cache
// (makeCacheableSignalKeyStore) keeps found keys only, so each of those asks reaches the store,
// and on a server each costs a round trip.

/** Most ids remembered per type; past it the type starts over (a bot meets many contacts). */
const MAX_PER_TYPE = 50_000

/**
 * Ids that reads of this store found absent, per type. Sound only while this store is the
 * session's one writer, i.e. holds its lease: a write or clear forgets what it touches when
 * it is called, before it is applied, and a read's findings are kept only if no write was
 * called while it ran. Losing the lease switches it off for good.
 */
class Absent {
  constructor() {
    this.byType = new Map()
    /** Writes called so far: a read remembers what it found only if none came meanwhile. */
    this.writes = 0
    this.on = true
  }

  /** Whether every id of `ids` is known absent from `type`. */
  has(type, ids) {
    const known = this.byType.get(type)
    if (known === undefined) return false
    for (let i = 0; i < ids.length; i++) if (!known.has(ids[i])) return false
    return true
  }

  /** Remembers the ids of `ids` that `found` lacks, unless a write was called since `writes`. */
  note(type, ids, found, writes) {
    if (!this.on || writes !== this.writes) return
    let known = this.byType.get(type)
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]
      if (Object.hasOwn(found, id)) continue
      if (known === undefined) this.byType.set(type, (known = new Set()))
      if (known.size >= MAX_PER_TYPE) known.clear()
      known.add(id)
    }
  }

  /** Forgets the ids a `keys.set(data)` writes (or deletes: an absent key may be set next). */
  forget(data) {
    this.writes++
    if (typeof data !== 'object' || data === null) return
    for (const type in data) {
      const known = this.byType.get(type)
      const byId = data[type]
      if (known === undefined || typeof byId !== 'object' || byId === null) continue
      for (const id in byId) known.delete(id)
    }
  }

  forgetAll() {
    this.writes++
    this.byType.clear()
  }

  off() {
    this.on = false
    this.forgetAll()
  }
}

module.exports = { Absent }
