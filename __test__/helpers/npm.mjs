// npm run by the tests that install from the registry: only a registry out of reach makes
// them skip; any other failure of npm fails them.
import { spawnSync } from 'node:child_process'

/** Whether npm's output (or a spawn error's message) says the registry cannot be reached. */
export const unreachable = (text) => /E(CONNREFUSED|CONNRESET|NOTFOUND|AI_AGAIN|TIMEDOUT|HOSTUNREACH|NETUNREACH)/.test(text)

/** The first `n` lines of npm's output that report an error, joined. */
export const npmErrors = (output, n = 3) =>
  output
    .split('\n')
    .filter((l) => /error/i.test(l))
    .slice(0, n)
    .join(' ')
    .trim()

/**
 * `env` without what `npm test` and the test runner set for their own children: a child
 * npm or test runner would take them as its own (the package it runs in, its reporter).
 */
export function withoutRunnerEnv(env) {
  const out = { ...env }
  const own = ['npm_config_local_prefix', 'npm_config_call', 'npm_command', 'npm_execpath', 'INIT_CWD', 'NODE_TEST_CONTEXT']
  for (const key of Object.keys(out)) if (/^(npm_package_|npm_lifecycle_)/.test(key) || own.includes(key)) delete out[key]
  return out
}

/**
 * Runs `command` to its end (at most `timeout` ms), by default in the environment above:
 * `{ status, error, output }`, output being stdout then stderr.
 */
export function sh(command, args, { cwd, env = withoutRunnerEnv(process.env), timeout = 5 * 60_000 } = {}) {
  const r = spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout, maxBuffer: 64 * 1024 * 1024 })
  return { status: r.status, error: r.error, output: `${r.stdout ?? ''}${r.stderr ?? ''}` }
}
