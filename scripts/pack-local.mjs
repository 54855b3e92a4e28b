// Packs this host's platform package and the main package into installable tarballs, as they
// would be published:
//
//   npm run pack:local                  builds the addon (release), then packs into .pack/
//   node scripts/pack-local.mjs --reuse --out DIR
//                                       reuses the release build in the project root when it is
//                                       newer than every Rust source, packs into DIR
//
// The platform package is npm/<platform>/ with the .node copied in. The main package is what
// `files` selects, with the `optionalDependencies` that `napi pre-publish` writes at release
// time: one platform package per `napi.targets` entry, all at the main package's version.
// Install both tarballs together: npm install ./baileys-rust-auth-0.1.0.tgz ./baileys-rust-auth-linux-x64-gnu-0.1.0.tgz

import { spawnSync } from 'node:child_process'
import { closeSync, copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseTriple } from '@napi-rs/cli'

export const root = fileURLToPath(new URL('..', import.meta.url))
const npmCommand = process.platform === 'win32' ? 'npm.cmd' : 'npm'

/** Where the main package must never ship from: sources, tests, build output. */
const NOT_SHIPPED = /(^|\/)(src|__test__|tests|benches|examples|scripts|target|npm|node_modules)\/|\.node$|\.rs$|^Cargo\.(toml|lock)$|^build\.rs$/

function fail(message) {
  throw new Error(`pack:local: ${message}`)
}

function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'))
}

function isMusl() {
  const header = process.report?.getReport?.().header
  return process.platform === 'linux' && !header?.glibcVersionRuntime
}

/** The `napi.targets` entry this machine runs, e.g. x86_64-unknown-linux-gnu → linux-x64-gnu. */
export function hostTarget(pkg = readJson(join(root, 'package.json'))) {
  const targets = (pkg.napi?.targets ?? []).map(parseTriple)
  const abi = { linux: isMusl() ? 'musl' : 'gnu', win32: 'msvc' }[process.platform] ?? null
  const target = targets.find((t) => t.platform === process.platform && t.arch === process.arch && (t.abi ?? null) === abi)
  if (!target) {
    fail(`no napi.targets entry for ${process.platform}-${process.arch}${abi ? `-${abi}` : ''} in package.json`)
  }
  return target
}

/** Every Rust input of the addon: a build older than any of them is stale. */
function rustSources() {
  const files = ['Cargo.toml', 'Cargo.lock', 'build.rs'].map((f) => join(root, f)).filter((f) => existsSync(f))
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name)
      if (entry.isDirectory()) walk(path)
      else files.push(path)
    }
  }
  walk(join(root, 'src'))
  return files
}

/**
 * Whether `file` is an ELF shared object without a symbol table, as the release profile
 * (strip = "symbols") leaves it; a debug build keeps its symbols. Anything else: false.
 */
function isStrippedElf(file) {
  const fd = openSync(file, 'r')
  try {
    const header = Buffer.alloc(64)
    readSync(fd, header, 0, 64, 0)
    // ELF magic, 64-bit, little-endian
    if (header.readUInt32BE(0) !== 0x7f454c46 || header[4] !== 2 || header[5] !== 1) return false
    const shoff = Number(header.readBigUInt64LE(0x28))
    const shentsize = header.readUInt16LE(0x3a)
    const shnum = header.readUInt16LE(0x3c)
    const sections = Buffer.alloc(shentsize * shnum)
    readSync(fd, sections, 0, sections.length, shoff)
    const SHT_SYMTAB = 2
    for (let i = 0; i < shnum; i++) {
      if (sections.readUInt32LE(i * shentsize + 4) === SHT_SYMTAB) return false
    }
    return true
  } finally {
    closeSync(fd)
  }
}

/** Why the release build in the project root cannot be reused, or null if it can. */
export function staleReason(nodeFile) {
  if (!existsSync(nodeFile)) return `${nodeFile} does not exist`
  if (process.platform !== 'linux') return 'a release build is only recognised on Linux'
  if (!isStrippedElf(nodeFile)) return `${nodeFile} is not a release build (it has a symbol table)`
  const built = statSync(nodeFile).mtimeMs
  const newer = rustSources().find((f) => statSync(f).mtimeMs > built)
  return newer ? `${newer} is newer than ${nodeFile}` : null
}

function run(command, args, cwd, { quiet }) {
  const result = spawnSync(command, args, {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', quiet ? 'pipe' : 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  })
  if (result.error) fail(`could not run ${command}: ${result.error.message}`)
  if (result.status !== 0) {
    fail(`\`${command} ${args.join(' ')}\` in ${cwd} exited with ${result.status}\n${result.stdout}${result.stderr ?? ''}`)
  }
  return result.stdout
}

/** `npm pack --json` in `dir`: the one entry it reports. */
function npmPack(dir, args, options) {
  const out = run(npmCommand, ['pack', '--json', '--ignore-scripts', ...args], dir, options)
  const [entry] = JSON.parse(out)
  return entry
}

function copyAtomically(from, to) {
  const partial = `${to}.partial-${process.pid}`
  copyFileSync(from, partial)
  renameSync(partial, to)
}

/**
 * Builds (or reuses) the addon and packs both tarballs into `out`.
 * Returns what was packed: the .node and, per tarball, its file, size and contents.
 */
export function packLocal({ out = join(root, '.pack'), reuse = false, quiet = false } = {}) {
  const pkg = readJson(join(root, 'package.json'))
  const target = hostTarget(pkg)
  const binaryName = pkg.napi?.binaryName ?? 'index'
  const packageName = pkg.napi?.packageName ?? pkg.name
  const platformName = `${packageName}-${target.platformArchABI}`
  const nodeName = `${binaryName}.${target.platformArchABI}.node`
  const platformDir = join(root, 'npm', target.platformArchABI)
  const log = quiet ? () => {} : (line) => console.log(line)

  if (!existsSync(join(platformDir, 'package.json'))) {
    fail(`${platformDir}/package.json is missing: run \`npx napi create-npm-dirs\``)
  }
  const platformPkg = readJson(join(platformDir, 'package.json'))
  if (platformPkg.name !== platformName) fail(`${platformDir}/package.json is named ${platformPkg.name}, expected ${platformName}`)
  if (platformPkg.version !== pkg.version) {
    fail(`${platformName} is at ${platformPkg.version} but ${pkg.name} at ${pkg.version}: run \`npx napi version\``)
  }
  if (platformPkg.main !== nodeName) fail(`${platformName}'s main is ${platformPkg.main}, expected ${nodeName}`)

  // The release build: `npm run build` writes it to the project root, beside binding.js.
  const built = join(root, nodeName)
  const why = reuse ? staleReason(built) : 'a build was asked for'
  if (why === null) {
    log(`reusing ${nodeName} (a release build newer than the Rust sources)`)
  } else {
    log(`building ${nodeName} in release mode (${why})`)
    run(npmCommand, ['run', 'build', '--silent'], root, { quiet })
    if (process.platform === 'linux' && !isStrippedElf(built)) fail(`\`npm run build\` did not leave a stripped release build at ${built}`)
  }
  // The loader checks a platform package's version against the one it was generated for.
  const loaderVersions = new Set([...readFileSync(join(root, 'binding.js'), 'utf8').matchAll(/expected (\S+) but got/g)].map((m) => m[1]))
  if (loaderVersions.size !== 1 || !loaderVersions.has(pkg.version)) {
    fail(`binding.js was generated for version ${[...loaderVersions].join(', ')}, not ${pkg.version}: run \`npm run build\``)
  }
  const nodeSize = statSync(built).size
  copyAtomically(built, join(platformDir, nodeName))

  mkdirSync(out, { recursive: true })
  for (const old of readdirSync(out)) {
    if (old.endsWith('.tgz') && (old.startsWith(`${packageName}-`) || old.startsWith(`${pkg.name}-`))) rmSync(join(out, old))
  }

  const platformTarball = npmPack(platformDir, ['--pack-destination', resolve(out)], { quiet })
  const platformFiles = platformTarball.files.map((f) => f.path).sort()
  if (!platformFiles.includes(nodeName)) fail(`${platformTarball.filename} does not hold ${nodeName}`)

  // The main package, as published: what `files` selects, plus the optionalDependencies that
  // `napi pre-publish` adds (they cannot live in package.json before the platform packages
  // exist on the registry, or the lockfile could never be in sync).
  const selected = npmPack(root, ['--dry-run'], { quiet }).files.map((f) => f.path)
  const stage = mkdtempSync(join(tmpdir(), 'baileys-rust-auth-stage-'))
  let mainTarball
  try {
    for (const file of selected) {
      mkdirSync(dirname(join(stage, file)), { recursive: true })
      cpSync(join(root, file), join(stage, file))
    }
    const optionalDependencies = { ...pkg.optionalDependencies }
    for (const t of pkg.napi.targets.map(parseTriple)) optionalDependencies[`${packageName}-${t.platformArchABI}`] = pkg.version
    writeFileSync(join(stage, 'package.json'), `${JSON.stringify({ ...pkg, optionalDependencies }, null, 2)}\n`)
    mainTarball = npmPack(stage, ['--pack-destination', resolve(out)], { quiet })
  } finally {
    rmSync(stage, { recursive: true, force: true })
  }
  const mainFiles = mainTarball.files.map((f) => f.path).sort()
  const shipped = mainFiles.filter((f) => NOT_SHIPPED.test(f))
  if (shipped.length) fail(`${mainTarball.filename} would ship ${shipped.join(', ')}`)
  for (const needed of [pkg.main, pkg.types, 'binding.js']) {
    if (!mainFiles.includes(needed)) fail(`${mainTarball.filename} lacks ${needed}`)
  }

  const describe = (entry, files) => ({
    name: entry.name,
    version: entry.version,
    file: join(resolve(out), entry.filename),
    size: entry.size,
    unpackedSize: entry.unpackedSize,
    files,
  })
  const result = {
    target: target.triple,
    node: { file: built, size: nodeSize },
    main: describe(mainTarball, mainFiles),
    platform: describe(platformTarball, platformFiles),
  }
  const kib = (n) => `${(n / 1024).toFixed(1)} KiB`
  log(`${nodeName}: ${nodeSize} bytes (${(nodeSize / 1024 / 1024).toFixed(2)} MiB)`)
  for (const t of [result.main, result.platform]) {
    log(`${t.file}: ${kib(t.size)} packed, ${kib(t.unpackedSize)} unpacked`)
    for (const f of t.files) log(`  ${f}`)
  }
  log(`install with: npm install ${result.main.file} ${result.platform.file}`)
  return result
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const args = process.argv.slice(2)
  const outIndex = args.indexOf('--out')
  try {
    packLocal({ reuse: args.includes('--reuse'), out: outIndex >= 0 ? resolve(args[outIndex + 1]) : undefined })
  } catch (err) {
    console.error(err.message)
    process.exitCode = 1
  }
}
