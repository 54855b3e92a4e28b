'use strict'
// The session lease: one process drives a session at a time. Two processes writing the same
// session would overwrite each other's Signal ratchets ("Bad MAC" on the next message).

const { randomUUID } = require('node:crypto')
const { hostname } = require('node:os')
const { AuthStateError, ErrorCode } = require('./errors.js')

/** Tokens of the leases this process holds: a holder with our pid is alive only if listed. */
const held = new Set()

/** Whether the holder, on this host, is a process that no longer runs. */
function gone(holder, host) {
  if (holder.host !== host) return false // another machine: only the lease's lapse frees it
  if (holder.pid === process.pid) return !held.has(holder.token) // an earlier run with our pid
  try {
    process.kill(holder.pid, 0)
    return false
  } catch (err) {
    return err.code === 'ESRCH'
  }
}

/** Whether a lease still binds: renewed within its time and its holder not known gone. */
function isLive(holder) {
  return holder.renewedMs + holder.ttlMs >= Date.now() && !gone(holder, hostname())
}

function lockedError(sessionId, holder) {
  const since = new Date(holder.sinceMs)
  const err = new AuthStateError(
    `session '${sessionId}' is in use by process ${holder.pid} on ${holder.host} since ${since.toISOString()}; ` +
      'close it there, or open with { takeover: true } to take it over',
    ErrorCode.ERR_SESSION_LOCKED,
  )
  err.holder = { pid: holder.pid, host: holder.host, since }
  return err
}

/**
 * Takes the lease of the session `store` is open on and keeps it renewed. A holder that
 * crashed on this host is taken over at once; one on another host once its lease lapses.
 * `onLost` runs when a renewal finds that another process took the session over.
 * Resolves to `{ release() }`; rejects with ERR_SESSION_LOCKED naming a live holder.
 */
async function takeLease(store, { sessionId, takeover, ttlMs, logger, onLost = () => {} }) {
  const token = randomUUID()
  const host = hostname()
  let holder = JSON.parse(await store.acquire(token, host, ttlMs, takeover, null))
  if (holder !== null && gone(holder, host)) {
    logger.debug({ sessionId, holder }, 'taking over the lease of a process that is gone')
    holder = JSON.parse(await store.acquire(token, host, ttlMs, false, holder.token))
  }
  if (holder !== null) throw lockedError(sessionId, holder)
  if (takeover) logger.debug({ sessionId }, 'lease taken over')
  held.add(token)
  // Held weakly: a store dropped without close() is still collected (and closed, which gives
  // the lease back) instead of being kept alive, and its session locked, by this timer.
  const ref = new WeakRef(store)
  const renew = () =>
    ref.deref().renew().catch((err) => {
      if (err.code === ErrorCode.ERR_LEASE_LOST) onLost()
      if (err.code === ErrorCode.ERR_LEASE_LOST || err.code === ErrorCode.ERR_CLOSED) stop()
      if (err.code !== ErrorCode.ERR_CLOSED) logger.warn({ sessionId, err }, 'auth store lease: renewal failed')
    })
  const timer = setInterval(() => (ref.deref() ? renew() : stop()), Math.max(50, Math.floor(ttlMs / 3)))
  timer.unref() // the lease never keeps a process alive
  const stop = () => {
    clearInterval(timer)
    held.delete(token)
  }
  return { release: stop }
}

module.exports = { takeLease, isLive }
