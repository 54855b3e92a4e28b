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
  /** Neither `baileys` nor `@whiskeysockets/baileys` could be imported. */
  ERR_BAILEYS_NOT_FOUND: 'ERR_BAILEYS_NOT_FOUND'
  /**
   * A multi-file auth folder cannot be used: its creds.json is missing, torn or incomplete, a key
   * file does not parse, or (when writing one) the folder is not empty. The message names the
   * file; nothing was written.
   */
  ERR_INVALID_FOLDER: 'ERR_INVALID_FOLDER'
  /** The target session already holds other creds; pass `overwrite: true` to replace it. Nothing was written. */
  ERR_SESSION_EXISTS: 'ERR_SESSION_EXISTS'
  /** The session (or the file) to read does not exist. */
  ERR_SESSION_NOT_FOUND: 'ERR_SESSION_NOT_FOUND'
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
   * of `data` is written.
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
}

/**
 * Opens (creating it and its session if needed) the auth state of one session stored in an
 * SQLite file. A drop-in replacement for Baileys' `useMultiFileAuthState(folder)`.
 *
 * A new session starts with creds made by Baileys' `initAuthCreds()`, saved at once.
 *
 * @param path - The SQLite file, resolved against the current directory. It and its missing
 * parent directories are created if needed.
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
   * Replace a session that already holds other creds. Without it such a session is refused
   * with {@link ErrorCode.ERR_SESSION_EXISTS}; a session holding the folder's own creds is
   * always replaced (importing twice is harmless).
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
   * Without it such a folder is refused with {@link ErrorCode.ERR_INVALID_FOLDER}.
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
 * @throws {@link AuthStateError} (as a rejection): {@link ErrorCode.ERR_INVALID_FOLDER} when
 * creds.json is missing, torn or incomplete, or any key file does not parse (the store is not
 * touched); {@link ErrorCode.ERR_SESSION_EXISTS} when the session holds other creds and
 * `overwrite` is not set; the errors of {@link useRustAuthState}.
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
 * the file or the session does not exist (neither is created); {@link ErrorCode.ERR_INVALID_FOLDER}
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
