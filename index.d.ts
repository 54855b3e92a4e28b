// Public types of baileys-rust-auth. The runtime is CommonJS (`module.exports = { ... }`);
// the ES export syntax below describes those exports, which lets TypeScript accept both
// `import { useRustAuthState } from 'baileys-rust-auth'` (ESM and CommonJS projects) and
// `import auth = require('baileys-rust-auth')` (CommonJS projects).

import type { AuthenticationState, SignalDataSet, SignalDataTypeMap, SignalKeyStore } from 'baileys'

/**
 * Every error code, mapped to itself: compare `err.code === ErrorCode.ERR_BUSY` rather than
 * spelling the string. The object is frozen, and a code never changes once released.
 */
export declare const ErrorCode: Readonly<{
  /** An argument has the wrong type or shape (a non-string path, ids not an array of strings, an unknown option value...). */
  ERR_INVALID_ARGUMENT: 'ERR_INVALID_ARGUMENT'
  /** A value holds something that cannot be stored (a function, symbol, BigInt, or non-byte typed array). */
  ERR_UNSUPPORTED_VALUE: 'ERR_UNSUPPORTED_VALUE'
  /** A value refers to itself. */
  ERR_CIRCULAR_VALUE: 'ERR_CIRCULAR_VALUE'
  /** A value is nested deeper than the store's encoding allows. */
  ERR_VALUE_TOO_DEEP: 'ERR_VALUE_TOO_DEEP'
  /** A value, type name or id is larger than the store accepts. */
  ERR_VALUE_TOO_LARGE: 'ERR_VALUE_TOO_LARGE'
  /** The store was closed; no call is accepted any more. */
  ERR_CLOSED: 'ERR_CLOSED'
  /** The path exists and is not an SQLite database; it was left untouched. */
  ERR_NOT_A_DATABASE: 'ERR_NOT_A_DATABASE'
  /** The database was written by a newer version of this library; it was left untouched. */
  ERR_SCHEMA_TOO_NEW: 'ERR_SCHEMA_TOO_NEW'
  /** The database or its directory cannot be written. */
  ERR_READ_ONLY: 'ERR_READ_ONLY'
  /** The database cannot be opened (the path is a directory, a permission is missing...). */
  ERR_CANNOT_OPEN: 'ERR_CANNOT_OPEN'
  /** The disk (or the configured size limit) is full; nothing of the failed call was written. */
  ERR_DISK_FULL: 'ERR_DISK_FULL'
  /** Another connection held the database lock longer than {@link RustAuthStateOptions.busyTimeoutMs}. */
  ERR_BUSY: 'ERR_BUSY'
  /** Stored bytes do not decode: the file was damaged or written by something else. */
  ERR_CORRUPT: 'ERR_CORRUPT'
  /** Any other storage error reported by SQLite or the operating system. */
  ERR_IO: 'ERR_IO'
  /** A bug in this library: an invariant broke or a panic was caught. Nothing was half-written. */
  ERR_INTERNAL: 'ERR_INTERNAL'
  /**
   * Neither `baileys` nor `@whiskeysockets/baileys` is installed, or the one installed fails
   * to load (`cause` holds the import's own error) or lacks what this package uses
   * (`initAuthCreds`, `proto`, `BufferJSON`): the message says which.
   */
  ERR_BAILEYS_NOT_FOUND: 'ERR_BAILEYS_NOT_FOUND'
  /**
   * Another live process holds the session's lease (see {@link RustAuthStateOptions.lease});
   * the error's `holder` names it.
   */
  ERR_SESSION_LOCKED: 'ERR_SESSION_LOCKED'
  /** Another process took this session over; this store writes no more. Nothing of the failed call was written. */
  ERR_LEASE_LOST: 'ERR_LEASE_LOST'
  /** The named session does not exist in the store. */
  ERR_SESSION_NOT_FOUND: 'ERR_SESSION_NOT_FOUND'
  /** The target session holds another device's creds; pass `overwrite: true` to replace them. */
  ERR_SESSION_EXISTS: 'ERR_SESSION_EXISTS'
  /** An auth folder, session JSON or backup cannot be read whole (a torn creds.json...); nothing was written. */
  ERR_INVALID_SOURCE: 'ERR_INVALID_SOURCE'
  /**
   * The PostgreSQL or Redis server cannot be reached, the connection broke, or the TLS
   * handshake failed (the message says why: a certificate not trusted, or not naming the
   * URL's host); nothing of the failed call was written, unless the message says the
   * connection broke while the server was committing (the outcome is then unknown).
   */
  ERR_UNAVAILABLE: 'ERR_UNAVAILABLE'
  /** A Redis write reached the primary, but fewer replicas than `redisWait.replicas` acknowledged it in time. */
  ERR_NOT_REPLICATED: 'ERR_NOT_REPLICATED'
}>

/** The name of an error code: one of the keys (and values) of {@link ErrorCode}. */
export type ErrorCodeName = keyof typeof ErrorCode

/**
 * The error every failed call rejects with. Branch on {@link AuthStateError.code}, which is
 * stable; the message is for people and may change.
 *
 * @example
 * ```ts
 * try {
 *   await state.keys.set({ session: { [id]: bytes } })
 * } catch (err) {
 *   if (err instanceof AuthStateError && err.code === ErrorCode.ERR_BUSY) retryLater()
 *   else throw err
 * }
 * ```
 */
export declare class AuthStateError extends Error {
  /**
   * @param message - What went wrong, for people.
   * @param code - The stable code callers branch on.
   */
  constructor(message: string, code: ErrorCodeName)
  /** Always `'AuthStateError'`. */
  name: string
  /** The stable, machine-readable kind of failure; see {@link ErrorCode}. */
  readonly code: ErrorCodeName
  /** With {@link ErrorCode.ERR_SESSION_LOCKED}: the process holding the session. */
  readonly holder?: LeaseHolder
}

/** The process holding a session's lease. */
export interface LeaseHolder {
  /** Its process id, on `host`. */
  pid: number
  /** The host name of its machine (`os.hostname()`). */
  host: string
  /** When it took the lease. */
  since: Date
  /** In listings: whether the lease still binds (renewed in time, and the process not known to be gone). */
  live?: boolean
}

/** A pino-compatible logger (Baileys' own logger fits): only these methods are called. */
export interface AuthLogger {
  trace(obj: object, msg?: string): void
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

/** Options of {@link useRustAuthState}. */
export interface RustAuthStateOptions {
  /**
   * Which session of the file to open. Each session has its own creds and keys, so one file
   * can hold several WhatsApp numbers (one session each) without them seeing each other's
   * data. A non-empty string of at most 256 characters.
   *
   * @defaultValue `'default'`
   */
  sessionId?: string
  /**
   * How hard a write is pushed to disk before its promise resolves. The file is always in WAL
   * mode.
   *
   * - `'normal'` (SQLite `synchronous=NORMAL`): a resolved write survives the process being
   *   killed or crashing; the last writes may be lost if the operating system crashes or the
   *   power fails.
   * - `'full'` (SQLite `synchronous=FULL`): a resolved write also survives an operating
   *   system crash or power loss. Writes are slower.
   *
   * @defaultValue `'normal'`
   */
  durability?: 'normal' | 'full'
  /**
   * How long, in milliseconds, a write waits for another connection (another process, or
   * another `useRustAuthState` on the same file) to release its lock before rejecting with
   * {@link ErrorCode.ERR_BUSY}. A whole number from 0 to 2³¹−1.
   *
   * @defaultValue `5000`
   */
  busyTimeoutMs?: number
  /**
   * PostgreSQL stores (`postgres://` URLs): the schema holding the tables, created and
   * migrated by this library. A lowercase identifier (a-z, 0-9, _).
   *
   * @defaultValue `'baileys_auth'`
   */
  schema?: string
  /**
   * Redis stores (`redis://` URLs): the prefix of every key. 1 to 256 bytes, no braces.
   *
   * @defaultValue `'bra:'`
   */
  prefix?: string
  /**
   * Server stores: the name their connections report (PostgreSQL `application_name`, Redis
   * `CLIENT SETNAME`), for operators to find them. Printable ASCII without spaces.
   *
   * @defaultValue `'baileys-rust-auth'`
   */
  clientName?: string
  /**
   * Redis stores: after each write, wait (`WAIT`) for this many replicas to acknowledge it,
   * for at most `timeoutMs`; fewer rejects with {@link ErrorCode.ERR_NOT_REPLICATED}.
   */
  redisWait?: { replicas: number; timeoutMs: number }
  /**
   * Redis over TLS (`rediss://` URLs): `ca`, the path of a PEM file holding the root
   * certificate(s) to check the server's certificate against, instead of the system's
   * trusted roots. The certificate must also name the URL's host. A `rediss://…#insecure`
   * URL checks no certificate at all. PostgreSQL takes its TLS settings in the URL
   * (`sslmode=verify-full&sslrootcert=/path/ca.pem`), as libpq does.
   */
  tls?: { ca: string }
  /**
   * Hold the session's lease while open: a second open of the same session, from this or any
   * process on this machine or another sharing the store, rejects with
   * {@link ErrorCode.ERR_SESSION_LOCKED} instead of both driving the session (which breaks
   * its Signal ratchets: "Bad MAC"). A crashed holder on this host is detected at once; one on
   * another host frees the session once its lease lapses ({@link leaseTtlMs}). `false` opts
   * out (read-only inspection by your own code, for instance); should the session then be
   * deleted by another process (and maybe made again, or restored from a backup of another
   * making of it), this store's writes reject with {@link ErrorCode.ERR_SESSION_NOT_FOUND}
   * and it never reads or writes another session's keys.
   *
   * @defaultValue `true`
   */
  lease?: boolean
  /**
   * Take the session over even if a live process holds it. That process's next write fails
   * with {@link ErrorCode.ERR_LEASE_LOST}, so the two never both write.
   *
   * @defaultValue `false`
   */
  takeover?: boolean
  /**
   * How long a lease lasts without renewal, in milliseconds (at least 100). The holder renews
   * it every third of this time, so a holder on another host that crashed frees the session
   * after at most this long.
   *
   * @defaultValue `30000`
   */
  leaseTtlMs?: number
  /**
   * Coalesce `saveCreds()` calls made within this many milliseconds into one write of the
   * creds as they are when it fires; every caller's promise settles with that write.
   * `close()` writes what is pending. `0` writes at each call.
   *
   * @defaultValue `0`
   */
  credsDebounceMs?: number
  /**
   * A pino-compatible logger (such as the one given to `makeWASocket`): open and close at
   * `debug`, lease trouble and resets at `warn`.
   */
  logger?: AuthLogger
}

/**
 * The signal key store of a {@link RustAuthState}: Baileys' `SignalKeyStore`, where every
 * method returns a promise, plus streaming listings.
 *
 * Every write is atomic: it is committed whole or not at all. Calls run in the order they
 * are made, and after {@link RustAuthState.close} every call rejects with
 * {@link ErrorCode.ERR_CLOSED}. Failures reject with an {@link AuthStateError}.
 */
export interface RustSignalKeyStore extends SignalKeyStore {
  /**
   * Reads the keys of one type.
   *
   * @param type - The key type, e.g. `'pre-key'` or `'session'`.
   * @param ids - The ids to read.
   * @returns An object of the ids found to their values; ids not stored are absent.
   */
  get<T extends keyof SignalDataTypeMap>(
    type: T,
    ids: readonly string[],
  ): Promise<{ [id: string]: SignalDataTypeMap[T] }>
  /**
   * Writes keys of any number of types, all or nothing: if one value cannot be stored, none
   * of `data` is written. Calls made together in one turn of the event loop (many chats at
   * once) share one commit; each promise resolves once the commit holding its call is done.
   * A call refused for its own values fails alone; a failure of the store (a lost lease, a
   * full disk) fails every call of that commit.
   *
   * @param data - `{ [type]: { [id]: value } }`; a `null` (or `undefined`) value deletes that id.
   */
  set(data: SignalDataSet): Promise<void>
  /** Deletes every key of this session (its creds are kept). */
  clear(): Promise<void>
  /**
   * Streams every stored `[id, value]` of one type, in id order, a page at a time, so a large
   * type is never held in memory whole. Writes made while iterating may or may not be seen.
   *
   * @example
   * ```ts
   * for await (const [id, keyPair] of state.keys.list('pre-key')) console.log(id, keyPair.public)
   * ```
   */
  list<T extends keyof SignalDataTypeMap>(type: T): AsyncIterable<[string, SignalDataTypeMap[T]]>
  /**
   * Streams every stored id of one type, in id order, without reading the values.
   *
   * @example
   * ```ts
   * for await (const id of state.keys.listIds('session')) console.log(id)
   * ```
   */
  listIds(type: keyof SignalDataTypeMap): AsyncIterable<string>
}

/**
 * Baileys' `AuthenticationState` whose `keys` is a {@link RustSignalKeyStore}; pass it as
 * `makeWASocket({ auth: state })`.
 */
export interface RustAuthenticationState extends AuthenticationState {
  /** The signal keys of the session. */
  keys: RustSignalKeyStore
}

/** What {@link useRustAuthState} resolves to. */
export interface RustAuthState {
  /**
   * The session's creds (loaded from the file, or freshly generated and saved on first use)
   * and its key store.
   */
  state: RustAuthenticationState
  /**
   * Saves `state.creds` as they are now. Meant to be registered as
   * `sock.ev.on('creds.update', saveCreds)`: Baileys updates `state.creds` in place before
   * emitting the event, so the event's argument is not needed.
   */
  saveCreds(): Promise<void>
  /**
   * Waits for every call already made to finish, then closes the file. Afterwards every
   * other call rejects with {@link ErrorCode.ERR_CLOSED}. Calling `close` again is harmless:
   * it returns the promise of the first call.
   */
  close(): Promise<void>
  /** The same as {@link close}, for `await using auth = await useRustAuthState(...)`. */
  [Symbol.asyncDispose](): Promise<void>
  /** Counts, sizes, last write, lease and the file's integrity check; see {@link SessionHealth}. */
  health(): Promise<SessionHealth>
  /** Checks the creds and every stored value; see {@link SessionValidation}. */
  validate(): Promise<SessionValidation>
  /** Calls, errors, keys, bytes and latency histograms per operation and type, since open. */
  metrics(): AuthMetrics
  /** {@link metrics} in the Prometheus text exposition format, for a `/metrics` endpoint. */
  metricsText(): string
  /**
   * Starts the session over, as after `DisconnectReason.loggedOut` or `badSession`: the whole
   * file is backed up beside it first (unless `backup: false`), then the session's creds and
   * keys are deleted, and `state.creds` is replaced in place by fresh creds (saved), ready to
   * pair again.
   */
  resetSession(options?: ResetOptions): Promise<{ backup: string | null }>
}

/** Options of {@link RustAuthState.resetSession} and {@link resetSession}. */
export interface ResetOptions extends ServerOptions {
  /**
   * Snapshot the file before deleting anything. A server store has no file: there the
   * default is `false` and `true` is refused with {@link ErrorCode.ERR_INVALID_ARGUMENT}.
   * @defaultValue `true` for files
   */
  backup?: boolean
}

/** Options of a server store, as in {@link RustAuthStateOptions}. */
export interface ServerOptions {
  schema?: string
  prefix?: string
  clientName?: string
  redisWait?: { replicas: number; timeoutMs: number }
  tls?: { ca: string }
}

/** Options naming one session of a store. */
export interface SessionOptions extends ServerOptions {
  /** @defaultValue `'default'` */
  sessionId?: string
}

/** Progress of a backup or restore, in database pages. */
export interface Progress {
  done: number
  total: number
}

/** What {@link health} and {@link RustAuthState.health} report. */
export interface SessionHealth {
  sessionId: string
  /** Whether the session has anything stored. */
  exists: boolean
  hasCreds: boolean
  /** Keys per type, with their encoded size in bytes. */
  counts: { [type: string]: { count: number; bytes: number } }
  keys: number
  /** Encoded size of all the session's values. */
  valueBytes: number
  /** Size of the whole file on disk, with its -wal and -shm files (every session); `null` for a server store. */
  fileBytes: number | null
  createdAt: Date | null
  /** The last creds write, or the last write of this process if later. */
  lastWriteAt: Date | null
  /** Who holds the session's lease, if anyone. */
  holder: LeaseHolder | null
  /** `'ok'`, or the problems SQLite's `integrity_check` found. */
  integrity: 'ok' | string[]
}

/** What {@link validate} and {@link RustAuthState.validate} report. */
export interface SessionValidation {
  /** Registered, sound creds, and every value well-formed: the session can connect. */
  ok: boolean
  /** Paired with a phone (`creds.registered`). */
  registered: boolean
  /** The account's id (`creds.me.id`), once paired. */
  me: string | null
  /** The identity key pair is present and well-formed. */
  identityKey: boolean
  /**
   * The signed pre-key: present and well-formed, its id, and its age in days, counted from when
   * this store first saved it (Baileys keeps no creation time; it is kept as
   * `creds.signedPreKey.timestampS`). A warning is given past 30 days.
   */
  signedPreKey: { present: boolean; keyId: number | null; ageDays: number | null }
  /** Pre-keys stored. */
  preKeys: number
  /** Keys checked. */
  keys: number
  /** What is broken: a value that does not decode or has the wrong shape, missing creds parts. */
  problems: { type?: string; id?: string; problem: string }[]
  /** What deserves attention but does not break the session. */
  warnings: string[]
}

/** One session of a store, as {@link listSessions} reports it. */
export interface SessionInfo {
  sessionId: string
  hasCreds: boolean
  keys: number
  /** Encoded size of the session's values. */
  bytes: number
  createdAt: Date | null
  /** The last creds write. */
  updatedAt: Date | null
  holder: LeaseHolder | null
}

/** One series of {@link AuthMetrics}. */
export interface OperationMetrics {
  /** `'get'`, `'set'`, `'clear'` or `'saveCreds'`. */
  op: string
  /** The key type, for `get`. */
  type?: string
  calls: number
  errors: number
  /** Keys read or written. */
  items: number
  /** Encoded bytes read or written. */
  bytes: number
  /** Time from call to settled promise: the sum, and cumulative buckets by upper bound `le`. */
  seconds: { sum: number; buckets: { le: number; count: number }[] }
}

/** What {@link RustAuthState.metrics} returns. */
export interface AuthMetrics {
  sessionId: string
  /** When counting started (the open), ISO 8601. */
  since: string
  operations: OperationMetrics[]
  /** Failed calls by error code. */
  errors: { [code: string]: number }
}

/** Every session of the store at `path`, in name order. */
export declare function listSessions(path: string, options?: ServerOptions): Promise<SessionInfo[]>

/**
 * Deletes a session: its creds, keys and lease. Refused with
 * {@link ErrorCode.ERR_SESSION_LOCKED} while a process has it open (unless `takeover`). The
 * file is backed up beside it first unless `backup: false`.
 *
 * @returns Whether the session existed, and the backup's path.
 */
export declare function deleteSession(
  path: string,
  sessionId: string,
  options?: ServerOptions & { backup?: boolean; takeover?: boolean },
): Promise<{ deleted: boolean; backup: string | null }>

/**
 * Writes a consistent snapshot of the whole store (every session) to the new file `dest`,
 * while bots keep writing to it. `dest` appears only once complete and synced; an existing
 * `dest` is refused.
 *
 * @example
 * ```ts
 * await backup('./auth.db', `./backups/auth-${Date.now()}.db`, { onProgress: ({ done, total }) => console.log(done, total) })
 * ```
 */
export declare function backup(
  path: string,
  dest: string,
  options?: { onProgress?: (progress: Progress) => void },
): Promise<{ dest: string; bytes: number; ms: number }>

/**
 * Replaces the store at `path` with the backup `src`, in one transaction. Refused with
 * {@link ErrorCode.ERR_SESSION_LOCKED} while a process holds a session of `path`. The current
 * content is first backed up beside it unless `backup: false`.
 */
export declare function restore(
  src: string,
  path: string,
  options?: { onProgress?: (progress: Progress) => void; backup?: boolean },
): Promise<{ path: string; sessions: number; backup: string | null }>

/**
 * One session (creds and every key) as JSON text in Baileys' `BufferJSON` form, portable to
 * any store. It holds private keys: keep it as secret as the store.
 */
export declare function exportJson(path: string, options?: SessionOptions): Promise<string>

/**
 * Imports a session written by {@link exportJson} into `path`, all or nothing. The same device
 * imported again is replaced (idempotent); another device's session is refused with
 * {@link ErrorCode.ERR_SESSION_EXISTS} unless `overwrite`.
 *
 * @param options.sessionId - The session to write; defaults to the exported one.
 */
export declare function importJson(
  json: string | Uint8Array,
  path: string,
  options?: SessionOptions & { overwrite?: boolean },
): Promise<ImportResult>

/** What an import reports. */
export interface ImportResult {
  sessionId: string
  /** Keys written per type. */
  counts: { [type: string]: number }
  keys: number
  creds: true
}

/**
 * Copies one session from the store at `from` to the store at `to` (another file, or the same
 * file under `toSessionId`): read whole, written in one transaction under the target
 * session's lease, then read back and compared value by value (`verified: true`). The target
 * rules of {@link importJson} apply (`ERR_SESSION_EXISTS` unless `overwrite`).
 */
export declare function copySession(
  from: string,
  to: string,
  options?: { sessionId?: string; toSessionId?: string; overwrite?: boolean },
): Promise<ImportResult & { verified: true }>

/** {@link RustAuthState.validate} for a session at rest. */
export declare function validate(path: string, options?: SessionOptions): Promise<SessionValidation>

/** {@link RustAuthState.health} for a session at rest. */
export declare function health(path: string, options?: SessionOptions): Promise<SessionHealth>

/**
 * {@link RustAuthState.resetSession} for a session at rest: refused with
 * {@link ErrorCode.ERR_SESSION_LOCKED} while a process has it open.
 */
export declare function resetSession(
  path: string,
  options?: SessionOptions & ResetOptions,
): Promise<{ backup: string | null }>

/**
 * Opens (creating it and its session if needed) the auth state of one session stored in an
 * SQLite file. A drop-in replacement for Baileys' `useMultiFileAuthState(folder)`.
 *
 * A new session starts with creds made by Baileys' `initAuthCreds()`, saved at once.
 *
 * @param path - The SQLite file, resolved against the current directory. It and its missing
 * parent directories are created if needed. Or a server URL: `postgres://` (over TLS when
 * its `sslmode` parameter is `require`, `verify-ca` or `verify-full`, the last two checking
 * the certificate against `sslrootcert`, a PEM file, or the system's roots; plain text
 * otherwise), `redis://`, or `rediss://` for Redis over TLS (see
 * {@link RustAuthStateOptions.tls}).
 * @param options - See {@link RustAuthStateOptions}.
 * @returns The state to pass to `makeWASocket`, `saveCreds` and `close`.
 * @throws {@link AuthStateError} (as a rejection) when an argument is invalid, the file cannot
 * be opened, or Baileys is not installed.
 *
 * @remarks
 * These types import Baileys' types from the `baileys` package. A project that installs
 * Baileys as `@whiskeysockets/baileys` maps the name in its tsconfig.json:
 * `"paths": { "baileys": ["./node_modules/@whiskeysockets/baileys"] }`.
 *
 * @example
 * ```ts
 * import makeWASocket from 'baileys'
 * import { useRustAuthState } from 'baileys-rust-auth'
 *
 * const { state, saveCreds, close } = await useRustAuthState('./auth.db', { sessionId: 'main' })
 * const sock = makeWASocket({ auth: state })
 * sock.ev.on('creds.update', saveCreds)
 * ```
 */
export declare function useRustAuthState(path: string, options?: RustAuthStateOptions): Promise<RustAuthState>

/** Options of {@link importMultiFile}. */
export interface ImportMultiFileOptions {
  /**
   * The session of the SQLite file to fill (see {@link RustAuthStateOptions.sessionId}).
   *
   * @defaultValue `'default'`
   */
  sessionId?: string
  /**
   * Replace a session paired with another device. Without it such a session is refused
   * with {@link ErrorCode.ERR_SESSION_EXISTS}; a session of the folder's own device, or one
   * never paired, is always replaced (importing twice is harmless).
   *
   * @defaultValue `false`
   */
  overwrite?: boolean
  /** Called as the folder's key files are read, with how many are read of how many. */
  onProgress?: (progress: { done: number; total: number }) => void
}

/** Options of {@link exportMultiFile}. */
export interface ExportMultiFileOptions {
  /**
   * The session of the SQLite file to export.
   *
   * @defaultValue `'default'`
   */
  sessionId?: string
  /**
   * Write into a folder that is not empty, first removing its `.json` files (other files stay).
   * Without it such a folder is refused with {@link ErrorCode.ERR_INVALID_SOURCE}.
   *
   * @defaultValue `false`
   */
  overwrite?: boolean
}

/** What {@link importMultiFile} and {@link exportMultiFile} resolve to. */
export interface MultiFileReport {
  /** The session imported into or exported from. */
  sessionId: string
  /** How many keys of each type were copied, e.g. `{ 'pre-key': 812, session: 40 }`. */
  counts: { [type: string]: number }
  /** How many keys were copied in all. */
  keys: number
  /** The creds were copied (always `true`: without creds nothing is copied). */
  creds: true
}

/**
 * Copies a folder written by Baileys' `useMultiFileAuthState(folder)` into a session of an
 * SQLite file. Afterwards the session holds exactly the folder's creds and keys (keys it held
 * before are removed), and `useRustAuthState(path, { sessionId })` carries on where the folder
 * left off: same login, same Signal sessions.
 *
 * The folder is read whole before anything is written, and the keys are written in one
 * transaction. Keys of types Baileys does not have (yet) are copied too. The folder itself is
 * only read.
 *
 * @param folder - The multi-file auth folder.
 * @param path - The SQLite file (created if needed).
 * @param options - See {@link ImportMultiFileOptions}.
 * @returns What was copied, per type.
 * @throws {@link AuthStateError} (as a rejection): {@link ErrorCode.ERR_INVALID_SOURCE} when
 * creds.json is missing, torn or incomplete, or any key file does not parse (the store is not
 * touched); {@link ErrorCode.ERR_SESSION_EXISTS} when the session is paired with another
 * device and `overwrite` is not set; the errors of {@link useRustAuthState}.
 *
 * @example
 * ```ts
 * import { importMultiFile, useRustAuthState } from 'baileys-rust-auth'
 *
 * const { counts } = await importMultiFile('./auth_info', './auth.db')
 * console.log(counts) // { 'pre-key': 812, session: 40, ... }
 * const { state, saveCreds } = await useRustAuthState('./auth.db')
 * ```
 */
export declare function importMultiFile(folder: string, path: string, options?: ImportMultiFileOptions): Promise<MultiFileReport>

/**
 * Writes a session of an SQLite file as a folder that Baileys' `useMultiFileAuthState(folder)`
 * reads: `creds.json` and one file per key, named and encoded as Baileys names and encodes them.
 * The folder is created if needed; creds.json is written last.
 *
 * The keys exported are those of the types Baileys has (`pre-key`, `session`, `sender-key`,
 * `sender-key-memory`, `app-state-sync-key`, `app-state-sync-version`, `lid-mapping`,
 * `device-list`, `tctoken`, `identity-key`).
 *
 * @param path - The SQLite file.
 * @param folder - The folder to write.
 * @param options - See {@link ExportMultiFileOptions}.
 * @returns What was copied, per type.
 * @throws {@link AuthStateError} (as a rejection): {@link ErrorCode.ERR_SESSION_NOT_FOUND} when
 * the file or the session does not exist (neither is created); {@link ErrorCode.ERR_INVALID_SOURCE}
 * when the folder is not empty and `overwrite` is not set, or cannot be written.
 *
 * @example
 * ```ts
 * import { exportMultiFile } from 'baileys-rust-auth'
 *
 * await exportMultiFile('./auth.db', './auth_info_backup', { sessionId: 'main' })
 * ```
 */
export declare function exportMultiFile(path: string, folder: string, options?: ExportMultiFileOptions): Promise<MultiFileReport>
