// Failover: several processes share one store, each driving its own sessions in real Signal
// conversations with the others. A holder is SIGKILLed mid-conversation and another process
// takes its sessions over and carries every conversation on: no message fails to decrypt,
// so no acknowledged ratchet step was lost (a lost one would reuse a message key, which the
// receiver refuses). A holder that is alive but stops renewing (SIGSTOP) loses its session
// once the lease lapses, and cannot write after it resumes.
import { describe, it, after } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

import { useRustAuthState, ErrorCode } from '../index.js'
import { run } from './helpers/procs.mjs'
import { dropRunData, POSTGRES_URL, REDIS_URL, RUN_PREFIX, RUN_SCHEMA, serverUp } from './helpers/servers.mjs'
import { fromWire, preKeyBundle, toWire } from './helpers/signal.mjs'

// Where the shared store lives, per kind: `at(dir)` gives a location, or nothing to skip the
// kind (a server that is not configured). A server store is one more line here.
const LOCATIONS = [
  { kind: 'sqlite', at: (dir) => join(dir, 'shared.db') },
  // Servers: this run's own schema / key prefix, dropped at the end.
  { kind: 'postgres', at: () => serverUp('postgres') && POSTGRES_URL, options: { schema: RUN_SCHEMA } },
  { kind: 'redis', at: () => serverUp('redis') && REDIS_URL, options: { prefix: RUN_PREFIX } },
]

const IDENTITIES = [
  { name: 'A', jid: '1111111111:1@s.whatsapp.net', lid: '101111111111111:1@lid' },
  { name: 'B', jid: '2222222222:2@s.whatsapp.net', lid: '102222222222222:2@lid' },
  { name: 'C', jid: '3333333333:3@s.whatsapp.net', lid: '103333333333333:3@lid' },
  { name: 'D', jid: '4444444444:4@s.whatsapp.net', lid: '104444444444444:4@lid' },
  { name: 'S', jid: '5555555555:5@s.whatsapp.net', lid: '105555555555555:5@lid' },
]
// Conversations across the two processes (initiator first); A talks to both C and D.
const PAIRS = [['A', 'C'], ['B', 'D'], ['A', 'D']]

const dir = mkdtempSync(join(tmpdir(), 'bra-failover-'))
after(() => {
  rmSync(dir, { recursive: true, force: true })
  dropRunData()
})

/**
 * A bot process over `names` (sessions) of the store at `location`. `ready` resolves to its
 * first line (ready or refused); `call(command)` writes one command and resolves to its answer.
 */
function bot(children, { location, options: base }, identities, names, options) {
  const args = [location, JSON.stringify(identities), names.join(','), JSON.stringify({ leaseTtlMs: 2000, ...base, ...options })]
  const child = run('failover-child.mjs', args)
  children.add(child)
  let next = 0
  const call = async (command) => {
    const seq = ++next
    child.stdin.write(`${toWire({ seq, ...command })}\n`)
    return fromWire(await child.line((l) => l.startsWith(`{"seq":${seq},`) || l === `{"seq":${seq}}`))
  }
  const ready = child.line((l) => l.startsWith('{"ready"') || l.startsWith('{"refused"')).then(fromWire)
  return Object.assign(child, { call, ready, names })
}

/** Closes a bot cleanly: it answers once its stores are closed, then exits with 0. */
async function exit(b) {
  b.stdin.write(`${toWire({ cmd: 'exit' })}\n`)
  await b.line('{"closed"')
  const { code } = await b.exited
  assert.equal(code, 0, b.stderrText())
}

function killAll(children) {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL')
}

for (const { kind, at, options = {} } of LOCATIONS) {
  const location = at(dir)
  const store = { location, options }
  describe(`failover on ${kind}`, { skip: location ? false : `no ${kind} location configured`, timeout: 120_000 }, () => {
    // Fresh session ids per run, so that a server store may be reused between runs.
    const tag = randomBytes(3).toString('hex')
    const identities = IDENTITIES.map((i) => ({ ...i, name: `${i.name}-${tag}` }))
    const id = Object.fromEntries(IDENTITIES.map((i, n) => [i.name, identities[n].name]))

    it('a killed holder is taken over at once and every conversation carries on', async (t) => {
      const children = new Set()
      try {
        const where = {} // session → the bot process driving it now
        const place = (b) => b.names.forEach((n) => (where[n] = b))
        const counts = { before: 0, down: 0, after: 0 }
        let phase = 'before'

        const send = async (from, to, text) => {
          const answer = await where[from].call({ cmd: 'send', from, to, text })
          assert.equal(answer.error, undefined, `${from}→${to}: ${answer.error}`)
          return { from, to, text, type: answer.type, ciphertext: answer.ciphertext }
        }
        const deliver = async (m) => {
          const answer = await where[m.to].call({ cmd: 'recv', to: m.to, from: m.from, type: m.type, ciphertext: m.ciphertext })
          assert.equal(answer.error, undefined, `${m.from}→${m.to} (${m.type}) "${m.text}": ${answer.error}`)
          assert.equal(answer.text, m.text)
          counts[phase]++
        }
        const rounds = async (label, n) => {
          for (let r = 0; r < n; r++) {
            for (const [x, y] of PAIRS) {
              for (const [from, to] of [[id[x], id[y]], [id[y], id[x]]]) {
                for (let k = 0; k <= r % 2; k++) await deliver(await send(from, to, `${label} ${r}.${k} ${from}→${to} ✓ ünïcødé`))
              }
            }
          }
        }
        const takeOver = async (names) => {
          const started = performance.now()
          const b = bot(children, store, identities, names)
          const answer = await b.ready
          assert.equal(answer.ready, true, JSON.stringify(answer))
          place(b)
          return { b, ms: performance.now() - started, openMs: answer.openMs }
        }

        const p1 = bot(children, store, identities, [id.A, id.B])
        const p2 = bot(children, store, identities, [id.C, id.D])
        for (const b of [p1, p2]) {
          assert.equal((await b.ready).ready, true)
          place(b)
        }
        const offered = {}
        for (const name of [id.A, id.B, id.C, id.D]) {
          offered[name] = await where[name].call({ cmd: 'register', name })
          assert.equal(offered[name].error, undefined, offered[name].error)
        }
        // Each session takes its own pre-key of the receiver, as the server hands them out.
        const used = {}
        for (const [x, y] of PAIRS) {
          const { creds, preKeys } = offered[id[y]]
          const bundle = preKeyBundle({ creds }, preKeys[(used[y] = (used[y] ?? -1) + 1)])
          const started = await where[id[x]].call({ cmd: 'start', from: id[x], to: id[y], bundle })
          assert.equal(started.error, undefined, started.error)
        }
        await rounds('before', 4)

        // Kill 1, right after an acknowledged send: that message must still decrypt for C
        // once delivered, and A's next messages must carry on from its ratchet step.
        const acked = await send(id.A, id.C, 'acknowledged, then its sender died')
        p1.kill('SIGKILL')
        await p1.exited
        // Meanwhile C and D keep writing to A and B, as a server would queue it.
        phase = 'down'
        const queued = [acked]
        for (const [from, to] of [['C', 'A'], ['D', 'B'], ['D', 'A']]) queued.push(await send(id[from], id[to], `while ${to} was down`))

        const first = await takeOver([id.A, id.B])
        // While the new holder runs, nobody else may open its sessions.
        const intruder = bot(children, store, identities, [id.A, id.B])
        const refused = await intruder.ready
        assert.equal(refused.refused, ErrorCode.ERR_SESSION_LOCKED, JSON.stringify(refused))
        assert.equal(refused.holder.pid, first.b.pid)
        await intruder.exited
        for (const m of queued) await deliver(m)
        await rounds('after first takeover', 3)

        // Kill 2, in the middle of a command: sixty sends go out at once and the holder dies
        // as soon as the first is acknowledged, long before it can have answered them all (it
        // answers them one by one; a dozen could all be answered before the kill landed on a
        // loaded machine).
        // Those it acknowledged are delivered; the others never are, whether or not their
        // step reached the store: the receivers just see a gap in the chain.
        const pipelined = []
        for (let k = 0; k < 20; k++) for (const [from, to] of PAIRS) pipelined.push({ from: id[from], to: id[to], text: `pipelined ${k} ${from}→${to}` })
        const inflight = pipelined.map((m) => first.b.call({ cmd: 'send', ...m }))
        inflight.forEach((p) => p.catch(() => {}))
        await inflight[0]
        first.b.kill('SIGKILL')
        await first.b.exited
        const settled = await Promise.allSettled(inflight)
        const acknowledged = pipelined.flatMap((m, i) => (settled[i].status === 'fulfilled' ? [{ ...m, ...settled[i].value }] : []))
        const unacked = pipelined.length - acknowledged.length
        assert.ok(unacked >= 1, 'the holder died with a send in flight')
        phase = 'after'
        const second = await takeOver([id.A, id.B])
        for (const m of acknowledged) {
          assert.equal(m.error, undefined, m.error)
          await deliver(m)
        }
        await rounds('after second takeover', 3)

        await exit(second.b)
        await exit(p2)
        const total = counts.before + counts.down + counts.after
        t.diagnostic(
          `${total} messages decrypted: ${counts.before} before the first kill, ${counts.down} between the kills, ` +
            `${counts.after} after; at the second kill ${acknowledged.length} of ${pipelined.length} pipelined sends ` +
            `were acknowledged (delivered), ${unacked} not (dropped)`,
        )
        t.diagnostic(
          `takeover (spawn to ready): ${Math.round(first.ms)} ms and ${Math.round(second.ms)} ms; ` +
            `opening the sessions of the killed holder: ${JSON.stringify(first.openMs)} and ${JSON.stringify(second.openMs)} ms`,
        )
      } finally {
        killAll(children)
      }
    })

    it('a live holder that stops renewing loses its session once the lease lapses, and cannot write after', async (t) => {
      const children = new Set()
      const TTL = 500
      const S = id.S
      try {
        const stopped = bot(children, store, identities, [S], { leaseTtlMs: TTL })
        assert.equal((await stopped.ready).ready, true)
        assert.equal((await stopped.call({ cmd: 'register', name: S })).error, undefined)

        process.kill(stopped.pid, 'SIGSTOP')
        const since = performance.now()
        // Renewed at most TTL/3 before it stopped: still fresh, and its pid is alive.
        const fresh = await useRustAuthState(location, { ...options, sessionId: S }).catch((e) => e)
        assert.equal(fresh.code, ErrorCode.ERR_SESSION_LOCKED, fresh.message)
        assert.equal(fresh.holder.pid, stopped.pid)

        // Nothing to await but the lapse itself: try again until the lease is free.
        let holder
        let attempts = 1
        for (;;) {
          holder = await useRustAuthState(location, { ...options, sessionId: S }).catch((e) => e)
          attempts++
          if (!(holder instanceof Error)) break
          assert.equal(holder.code, ErrorCode.ERR_SESSION_LOCKED, holder.message)
          assert.ok(performance.now() - since < TTL + 2000, 'the lease never lapsed')
          await sleep(25)
        }
        // No lower bound: when the lapse comes depends on the holder's last renewal before it
        // stopped, which a busy machine delays. Refused while fresh is what the first try shows.
        const lapsedMs = performance.now() - since
        // It sees everything the stopped holder wrote, and writes its own.
        assert.equal(holder.state.creds.me.id, identities.find((i) => i.name === S).jid)
        await holder.state.keys.set({ session: { marker: { by: 'new holder' } } })

        process.kill(stopped.pid, 'SIGCONT')
        const late = await stopped.call({ cmd: 'write', name: S, type: 'session', key: 'marker', value: { by: 'stopped holder' } })
        assert.equal(late.error, ErrorCode.ERR_LEASE_LOST)
        // The resumed process neither wrote nor took the lease back by renewing it.
        holder.state.creds.me.name = 'new holder'
        await holder.saveCreds()
        await holder.state.keys.set({ session: { after: { ok: true } } })
        const reader = await useRustAuthState(location, { ...options, sessionId: S, lease: false })
        assert.deepEqual(await reader.state.keys.get('session', ['marker']), { marker: { by: 'new holder' } })
        assert.equal(reader.state.creds.me.name, 'new holder')
        await reader.close()
        await holder.close()
        t.diagnostic(`leaseTtlMs ${TTL}: refused while fresh, opened without takeover ${Math.round(lapsedMs)} ms after the holder stopped (${attempts} attempts)`)
      } finally {
        killAll(children)
      }
    })
  })
}
