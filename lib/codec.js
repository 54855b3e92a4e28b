'use strict'
// The value codec on the JavaScript side: values to bytes and back in plain JavaScript, which
// the JIT makes several times faster than walking objects through N-API. The format is
// specified (and implemented again, for validation and tools) in src/codec.rs; the frames that
// carry many keys in one call are specified in src/wire.rs. Both sides are tested against each
// other in __test__/codec.test.mjs.

const { isUint8Array } = require('node:util/types')
const native = require('../binding.js')
const { AuthStateError, ErrorCode } = require('./errors.js')

const UNDEFINED = 0
const NULL = 1
const FALSE = 2
const TRUE = 3
const INT = 4
const FLOAT = 5
const STRING = 6
const BYTES = 7
const ARRAY = 8
const OBJECT = 9
const STRING16 = 10
const DATE = 11
/** Stored form only, read here but never written: a canonical base64 string as its bytes. */
const BASE64 = 12
/** Stored form only: an object whose keys say whether they are text or base64 bytes. */
const STORED_OBJECT = 13
/** Presented form only: an object of a known shape, its values without its keys (see `SHAPES`). */
const SHAPED = 15

const MAX_DEPTH = 256
const CYCLE_CHECK_DEPTH = 64
/** Longest type name or id, in UTF-8 bytes (also checked in src/wire.rs). */
const MAX_NAME = 4096

const fail = (code, message) => new AuthStateError(message, code)
const unsupported = (what) =>
  fail(
    ErrorCode.ERR_UNSUPPORTED_VALUE,
    `cannot store ${what}: values must be JSON-like data, Buffers or Uint8Arrays`,
  )

/** Appends encoded values to a growing buffer. One is reused for every call: encoding is synchronous. */
class Writer {
  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(size)
    this.pos = 0
    /** Levels of nesting into the value being written, and the objects on the way past the first levels (see `enter`). */
    this.depth = 0
    this.path = []
    /** Whether plain objects inherit enumerable properties (see `begin`). */
    this.inherits = false
  }

  /** The bytes written since `reset`, as a view valid until the next write. */
  view() {
    return this.buf.subarray(0, this.pos)
  }

  reset() {
    this.pos = 0
    this.depth = 0
    this.path.length = 0
  }

  ensure(n) {
    if (this.pos + n > this.buf.length) {
      const next = Buffer.allocUnsafeSlow(Math.max(this.buf.length * 2, this.pos + n))
      this.buf.copy(next, 0, 0, this.pos)
      this.buf = next
    }
  }

  u8(b) {
    this.ensure(1)
    this.buf[this.pos++] = b
  }

  /** A non-negative safe integer, 7 bits a byte. */
  varint(n) {
    this.ensure(8)
    const buf = this.buf
    while (n >= 0x80) {
      buf[this.pos++] = (n & 0x7f) | 0x80
      n = Math.floor(n / 0x80)
    }
    buf[this.pos++] = n
  }

  /** Room for a 4-byte length, patched by `endLength`. */
  beginLength() {
    this.ensure(4)
    const at = this.pos
    this.pos += 4
    return at
  }

  endLength(at) {
    this.buf.writeUInt32LE(this.pos - at - 4, at)
  }

  /** Length-prefixed UTF-8; false (nothing written) if `s` holds a lone surrogate. */
  utf8(s) {
    const len = s.length
    if (len < 128) {
      // ASCII fast path: one byte per char, length fits one varint byte.
      this.ensure(len + 1)
      const buf = this.buf
      let p = this.pos + 1
      let i = 0
      for (; i < len; i++) {
        const c = s.charCodeAt(i)
        if (c >= 0x80) break
        buf[p++] = c
      }
      if (i === len) {
        buf[this.pos] = len
        this.pos = p
        return true
      }
    }
    if (!s.isWellFormed()) return false
    const bytes = Buffer.byteLength(s, 'utf8')
    this.varint(bytes)
    this.ensure(bytes)
    this.pos += this.buf.utf8Write(s, this.pos, bytes)
    return true
  }

  string(s) {
    this.u8(STRING)
    if (this.utf8(s)) return
    // Lone surrogates cannot be UTF-8: keep the UTF-16 code units as they are.
    this.buf[this.pos - 1] = STRING16
    this.varint(s.length)
    this.ensure(s.length * 2)
    for (let i = 0; i < s.length; i++) this.pos = this.buf.writeUInt16LE(s.charCodeAt(i), this.pos)
  }

  number(n) {
    if ((n | 0) === n && (n !== 0 || 1 / n > 0)) {
      // An int32 other than -0 (counters, ids, timestamps in seconds): zigzag in bit
      // arithmetic, low 6 bits and sign first, as below.
      const neg = n < 0 ? 1 : 0
      const m = neg ? ~n : n
      this.ensure(2)
      const buf = this.buf
      buf[this.pos++] = INT
      if (m < 64) {
        buf[this.pos++] = (m << 1) | neg
        return
      }
      buf[this.pos++] = ((m & 63) << 1) | neg | 0x80
      this.varint(m >>> 6)
    } else if (Number.isSafeInteger(n) && !Object.is(n, -0)) {
      // Zigzag without forming 2|n| (which may exceed 2^53): low 6 bits and sign first.
      const neg = n < 0 ? 1 : 0
      const m = neg ? -n - 1 : n
      const rest = Math.floor(m / 64)
      this.ensure(10)
      this.buf[this.pos++] = INT
      this.buf[this.pos++] = ((m % 64) << 1) | neg | (rest > 0 ? 0x80 : 0)
      if (rest > 0) this.varint(rest)
    } else {
      this.ensure(9)
      this.buf[this.pos++] = FLOAT
      this.pos = this.buf.writeDoubleLE(n, this.pos)
    }
  }

  bytes(u8) {
    const n = u8.length
    this.u8(BYTES)
    this.varint(n)
    this.ensure(n)
    this.buf.set(u8, this.pos)
    this.pos += n
  }

  /**
   * Counts a level of nesting into `v`. Past `CYCLE_CHECK_DEPTH` levels the objects on the
   * way are kept and `v` looked up among them: a value that refers to itself is caught
   * there, on its way around again, and shallow values cost no bookkeeping.
   */
  enter(v) {
    const depth = ++this.depth
    if (depth <= CYCLE_CHECK_DEPTH) return
    if (this.path.includes(v)) {
      throw fail(ErrorCode.ERR_CIRCULAR_VALUE, 'cannot store a value that refers to itself (circular reference)')
    }
    if (depth > MAX_DEPTH) {
      throw fail(ErrorCode.ERR_VALUE_TOO_DEEP, `cannot store a value nested deeper than ${MAX_DEPTH} levels`)
    }
    this.path.push(v)
  }

  leave() {
    if (this.depth-- > CYCLE_CHECK_DEPTH) this.path.pop()
  }

  value(v) {
    // Tests by frequency in libsignal records; `typeof x === '...'` compiles to a type check.
    if (typeof v === 'object') return v === null ? this.u8(NULL) : this.object(v)
    if (typeof v === 'string') return this.string(v)
    if (typeof v === 'number') return this.number(v)
    if (typeof v === 'boolean') return this.u8(v ? TRUE : FALSE)
    if (v === undefined) return this.u8(UNDEFINED)
    if (typeof v === 'bigint') throw unsupported('a BigInt')
    if (typeof v === 'symbol') throw unsupported('a symbol')
    throw unsupported('a function')
  }

  object(v) {
    const proto = Object.getPrototypeOf(v)
    // Plain objects (most values) are none of the special kinds below.
    if (proto !== Object.prototype && proto !== null) {
      if (ArrayBuffer.isView(v)) {
        if (isUint8Array(v)) return this.bytes(v)
        throw unsupported('a typed array other than Uint8Array or Buffer, or a DataView')
      }
      if (Array.isArray(v)) {
        this.enter(v)
        this.u8(ARRAY)
        this.varint(v.length)
        for (let i = 0; i < v.length; i++) this.value(v[i])
        this.leave()
        return
      }
      if (v instanceof Date) {
        this.ensure(9)
        this.buf[this.pos++] = DATE
        this.pos = this.buf.writeDoubleLE(v.getTime(), this.pos)
        return
      }
      if (v instanceof ArrayBuffer || v instanceof SharedArrayBuffer) {
        throw unsupported('an ArrayBuffer (wrap it in a Buffer or Uint8Array)')
      }
      if (v instanceof Map || v instanceof Set) throw unsupported('a Map or Set')
    }
    this.enter(v)
    this.u8(OBJECT)
    if (proto === null || (proto === Object.prototype && !this.inherits)) {
      // for-in lists what Object.keys does when nothing is inherited, and the engine then
      // reads each property at the place its list gives, not by looking its name up.
      const countAt = this.pos
      this.u8(0)
      let n = 0
      for (const k in v) {
        if (!this.utf8(k)) throw unsupported('an object key with a lone surrogate')
        this.value(v[k])
        n++
      }
      if (n < 0x80) this.buf[countAt] = n
      else this.widenCount(countAt, n)
    } else {
      const keys = Object.keys(v)
      this.varint(keys.length)
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]
        if (!this.utf8(k)) throw unsupported('an object key with a lone surrogate')
        this.value(v[k])
      }
    }
    this.leave()
  }

  /** Writes count `n` at `at`, where one byte was left for it, moving what follows. */
  widenCount(at, n) {
    let size = 1
    for (let m = n; m >= 0x80; m = Math.floor(m / 0x80)) size++
    const end = this.pos
    this.ensure(size - 1)
    this.buf.copyWithin(at + size, at + 1, end)
    this.pos = at
    this.varint(n)
    this.pos = end + size - 1
  }

  /**
   * Starts a value. A plain object's enumerable properties inherited from Object.prototype
   * (there are none unless a library added some) would be listed by for-in: then keys are
   * listed as Object.keys lists them.
   */
  begin() {
    this.depth = 0
    this.path.length = 0
    this.inherits = false
    for (const _ in Object.prototype) this.inherits = true
  }

  /** A type name or id of a frame. */
  name(s, what) {
    if (typeof s !== 'string') throw fail(ErrorCode.ERR_INVALID_ARGUMENT, `${what} must be a string`)
    const start = this.pos
    if (!this.utf8(s)) throw fail(ErrorCode.ERR_INVALID_ARGUMENT, `${what} must be valid Unicode (no lone surrogates)`)
    if (this.pos - start > MAX_NAME + 2) {
      throw fail(ErrorCode.ERR_VALUE_TOO_LARGE, `${what} is longer than ${MAX_NAME} bytes`)
    }
  }
}

/** The writer calls encode into; a call paused in the middle of a frame takes it along. */
let writer = new Writer()

/** Encodes one value (the creds object); the result is a view, valid until the next encode. */
function encodeValue(v) {
  writer.reset()
  writer.begin()
  writer.value(v)
  return writer.view()
}

function isRecord(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v)
}

/** Work done on the event loop in one go, at most (W7 of the benchmark watches this). */
const SLICE_MS = 1
const nextTurn = () => new Promise(setImmediate)

/**
 * When this turn of the event loop has had its slice; null while no coding ran in it. Shared
 * by every call: the parts of a large read, or a read and a write made together, each
 * decoded right after the other in one turn, must not get a slice each. An immediate resets
 * it once the turn is over.
 */
let turnEnds = null
const endTurn = () => (turnEnds = null)
function sliceEnds() {
  if (turnEnds === null) {
    turnEnds = performance.now() + SLICE_MS
    setImmediate(endTurn)
  }
  return turnEnds
}

/**
 * Runs `steps` (a generator) to its end, synchronously while this turn's slice of time
 * lasts; a longer run continues in slices with the event loop free in between, and the
 * result comes as a promise. `onPause` runs before each pause.
 */
function drive(steps, onPause) {
  const deadline = sliceEnds()
  let n = 0
  for (;;) {
    const r = steps.next()
    if (r.done) return r.value
    if ((++n & 7) === 0 && performance.now() > deadline) {
      onPause?.()
      return slices(steps, onPause)
    }
  }
}

async function slices(steps, onPause) {
  for (;;) {
    await nextTurn()
    const deadline = sliceEnds()
    let n = 0
    for (;;) {
      const r = steps.next()
      if (r.done) return r.value
      if ((++n & 7) === 0 && performance.now() > deadline) {
        onPause?.()
        break
      }
    }
  }
}

/**
 * Where the writing of a set frame is: the type being written, where its header and its
 * entries start in the writer, how many of its entries were written since, and how many
 * are left. Enough to cut what is written into a frame of its own at any pause.
 */
class SetProgress {
  constructor() {
    this.type = ''
    this.typeAt = 0
    this.entriesAt = 0
    this.written = 0
    this.left = 0
    /** Entries written in all, of every type. */
    this.entries = 0
  }
}
/**
 * One kept for the life of the process: the encoder's compiled code checks the hidden class
 * a SetProgress ends its constructor with, which the engine holds weakly. With none alive,
 * every full collection dropped that class, and the encoder was compiled again after it
 * (see `native.keptFrame` in lib/open.js for the same with frames).
 */
SetProgress.kept = new SetProgress()

/** The ids of `data[type]`, checked to be an object of ids to values under a sound type. */
function idsOf(type, byId) {
  if (type === '') throw fail(ErrorCode.ERR_INVALID_ARGUMENT, 'type must be a non-empty string')
  if (!isRecord(byId)) {
    throw fail(ErrorCode.ERR_INVALID_ARGUMENT, `keys.set: data[${JSON.stringify(type)}] must be an object of ids to values`)
  }
  return Object.keys(byId)
}

/** Writes a type's header: its name and how many entries follow. */
function typeHeader(w, type, count) {
  w.name(type, 'type')
  w.varint(count)
}

/** Writes the entry of one id: `[name][0]` for a delete, else `[name][1][u32 length][value]`. */
function entry(w, type, id, v) {
  w.name(id, 'each id')
  if (v === null || v === undefined) return w.u8(0)
  w.u8(1)
  const lengthAt = w.beginLength()
  try {
    w.begin()
    w.value(v)
  } catch (err) {
    if (err instanceof AuthStateError) err.message = `${type} ${JSON.stringify(id)}: ${err.message}`
    throw err
  }
  w.endLength(lengthAt)
}

/** Writes a set frame into `w`, yielding after each value; `at` follows the progress. */
function* setFrame(data, w, at, parts) {
  // Entries rather than keys: a load from `data` would tie the compiled encoder to the
  // hidden class of one call's argument, dropped (and the encoder with it) once unused.
  for (const [type, byId] of Object.entries(data)) {
    if (byId === null || byId === undefined) continue
    const ids = idsOf(type, byId)
    at.type = type
    at.typeAt = w.pos
    typeHeader(w, type, ids.length)
    at.entriesAt = w.pos
    at.written = 0
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]
      at.written++
      at.entries++
      at.left = ids.length - i - 1
      entry(w, type, id, byId[id])
      if (parts !== null && w.pos >= parts.at) parts.take()
      yield
    }
  }
  return w.view()
}

/**
 * The frame of a set of one id of one type (most calls: a ratchet step, a pre-key), or
 * null for other data: written straight, as one value leaves nothing to slice or to cut
 * into parts.
 */
function oneEntryFrame(data, w) {
  let type = null
  for (const t in data) {
    if (type !== null || !Object.hasOwn(data, t)) return null
    type = t
  }
  if (type === null) return null
  const byId = data[type]
  if (byId === null || byId === undefined) return null
  const ids = idsOf(type, byId)
  if (ids.length !== 1) return null
  typeHeader(w, type, 1)
  entry(w, type, ids[0], byId[ids[0]])
  return w.view()
}

/** Writes a type's header (name and count) in a small writer of its own. */
const header = new Writer(256)

/**
 * Cuts what `w` holds into a frame of its own, the current type's count cut to the entries
 * written, and starts `w` again with the header of that type's remaining entries.
 */
function takePart(w, at) {
  header.reset()
  header.name(at.type, 'type')
  header.varint(at.written)
  const part = Buffer.allocUnsafe(at.typeAt + header.pos + (w.pos - at.entriesAt))
  w.buf.copy(part, 0, 0, at.typeAt)
  header.buf.copy(part, at.typeAt, 0, header.pos)
  w.buf.copy(part, at.typeAt + header.pos, at.entriesAt, w.pos)
  w.reset()
  at.typeAt = 0
  w.name(at.type, 'type')
  w.varint(at.left)
  at.entriesAt = w.pos
  at.written = 0
  return part
}

/**
 * A large set goes to the native side in parts while it is encoded, so that each part is
 * written there (in a transaction the last part commits) while the next is encoded: the
 * first once the frame is past what a write done at once on this thread takes (32 kB,
 * src/binding/store.rs), then every 16 kB. Measured on 812 pre-keys in one call: see the
 * commit that made parts eager. A server store takes parts of 64 kB: each part wakes its
 * I/O task, and it sends parts to Redis in batches of that size anyway (src/redis/parts.rs);
 * 500 sessions in one set took 8.1–8.3 ms with them against 8.8–9.3 ms with parts of 16 kB.
 */
const FIRST_PART = 32 * 1024
const NEXT_PART = 16 * 1024
/**
 * Where a set's size is first guessed, from the entries written so far and the keys it
 * holds: one bound to pass FIRST_PART goes to the storage thread whatever happens, so its
 * first part goes at once and the writing starts while the rest is encoded.
 */
const GUESS_AT = 4 * 1024
const SERVER_PART = 64 * 1024
/**
 * A file holds its write lock from the first part written until the last: a call of more
 * keys than this (an import, not anything Baileys makes) goes whole at its end instead, so
 * that the writes of the file's other sessions never wait for its encoding.
 */
const MAX_PART_KEYS = 4096

/** How many keys `keys.set` data holds; with `limit`, counted until there are more. */
function keysOf(data, limit = Infinity) {
  let n = 0
  for (const byId of Object.values(data)) {
    if (isRecord(byId)) n += Object.keys(byId).length
    if (n > limit) break
  }
  return n
}

/**
 * Encodes `keys.set` data, `{ [type]: { [id]: value | null } }`, as one frame:
 * per type `[name][count]`, per id `[name][0 = delete | 1 + u32 length + value]`.
 * Returns the frame, or a promise of it when the data is large enough to be encoded in
 * slices (the values must then stay unchanged until the call resolves, as Baileys does).
 * Given `stage`, a large frame (of at most MAX_PART_KEYS keys) is handed to it in parts as
 * it is encoded (past FIRST_PART, and at each pause), each a frame of its own; the frame
 * returned holds the rest. If the encoding fails after that, `stage(null)` drops the parts.
 */
function encodeSet(data, stage = null, nextPart = NEXT_PART) {
  if (!isRecord(data)) {
    throw fail(ErrorCode.ERR_INVALID_ARGUMENT, 'keys.set takes an object of the form { [type]: { [id]: value | null } }')
  }
  const w = writer
  w.reset()
  const one = oneEntryFrame(data, w)
  if (one !== null) return one
  w.reset()
  const at = new SetProgress()
  let staged = false
  let keys = -1 // counted once a part may first be due, not for every small set
  const parts =
    stage === null
      ? null
      : {
          at: GUESS_AT,
          take() {
            // Nothing of this type since the last part, or a call sent whole (below).
            if (at.written === 0 || this.at === Infinity) return
            if (!staged) {
              if (keys < 0) keys = keysOf(data, MAX_PART_KEYS)
              if (keys > MAX_PART_KEYS) {
                this.at = Infinity
                return
              }
              if (this.at === GUESS_AT && (w.pos / at.entries) * keys <= FIRST_PART) {
                this.at = FIRST_PART
                return
              }
            }
            stage(takePart(w, at))
            staged = true
            this.at = nextPart
          },
        }
  let out
  try {
    out = drive(setFrame(data, w, at, parts), () => {
      // Calls made while this one pauses must not write into its frame: they get a new writer.
      if (writer === w) writer = new Writer()
      parts?.take()
    })
  } catch (err) {
    if (staged) stage(null)
    throw err
  }
  if (stage === null || !(out instanceof Promise)) return out
  return out.catch((err) => {
    if (staged) stage(null)
    throw err
  })
}

/** Encodes the ids of `keys.get`: `[count][name]*`. */
function encodeIds(ids) {
  if (!Array.isArray(ids)) throw fail(ErrorCode.ERR_INVALID_ARGUMENT, 'ids must be an array of strings')
  const w = writer
  w.reset()
  w.varint(ids.length)
  for (let i = 0; i < ids.length; i++) w.name(ids[i], 'each id')
  return w.view()
}

function checkType(type) {
  if (typeof type !== 'string' || type === '') {
    throw fail(ErrorCode.ERR_INVALID_ARGUMENT, 'type must be a non-empty string')
  }
}

/**
 * Object keys repeat across values ("private", "chainKey", ...): a small cache hands back the
 * same string for the same bytes, sparing a string allocation (and the engine a rehash) each time.
 * Keys up to 64 bytes: libsignal keys a session's chains by base64 ids (33 bytes stored), read
 * again with the session on every message. `base64`: 1 for a key stored as the bytes of its
 * base64 text, else 0 (UTF-8).
 */
const KEY_CACHE_SIZE = 4096
const MAX_CACHED_KEY = 64
const keyCacheBytes = new Array(KEY_CACHE_SIZE)
const keyCacheStrings = new Array(KEY_CACHE_SIZE)
const keyCacheBase64 = new Uint8Array(KEY_CACHE_SIZE)

const keyText = (buf, start, end, base64) => (base64 ? buf.base64Slice(start, end) : buf.utf8Slice(start, end))

function cachedKey(buf, start, len, base64) {
  const slot = (len * 31 + buf[start] * 7 + buf[start + len - 1] * 13 + buf[start + (len >> 1)] + base64) & (KEY_CACHE_SIZE - 1)
  const known = keyCacheBytes[slot]
  if (known !== undefined && known.length === len && keyCacheBase64[slot] === base64) {
    let i = 0
    while (i < len && known[i] === buf[start + i]) i++
    if (i === len) return keyCacheStrings[slot]
  }
  const s = keyText(buf, start, start + len, base64)
  keyCacheBytes[slot] = Uint8Array.prototype.slice.call(buf, start, start + len)
  keyCacheStrings[slot] = s
  keyCacheBase64[slot] = base64
  return s
}

/**
 * The objects the decoder builds key by key. Each is a plain object (its prototype is
 * Object.prototype, `constructor` is Object), but its hidden classes grow from a root of this
 * library's own instead of the one every `{}` and `JSON.parse` of the process shares: once
 * other code has given that shared root its fill of first keys (Baileys and a bot make
 * objects keyed by JIDs and message ids), the engine stops recording new classes there, and
 * every object started from it costs microseconds more. Measured: decoding 500 sessions,
 * 7.3 -> 17.8 ms after 5,000 objects with distinct first keys were made elsewhere.
 */
function Plain() {}
Plain.prototype = Object.prototype

/**
 * First keys of the objects built from Plain's root so far, up to a budget below the
 * engine's limit of classes per root: an object with a new first key past it (a map keyed by
 * JIDs, say) is built as a dictionary, so that the root keeps room for the shapes of libsignal
 * records.
 */
const shapedFirsts = new Set()
const SHAPED_FIRSTS = 1024
function shapedFirst(k) {
  if (shapedFirsts.has(k)) return true
  if (shapedFirsts.size >= SHAPED_FIRSTS) return false
  shapedFirsts.add(k)
  return true
}

/**
 * Builders of the objects of known shapes (src/shapes.rs), by index: each an object literal
 * whose values are read in its keys' order. A literal gives every object it makes the same
 * hidden class, made once, and its stores need no key. Two builds alternated in the
 * benchmark's process (21 rounds, medians of per-round ratios, plain / AsyncLocalStorage):
 * 2,000 single-session gets 0.82 / 0.80 of the time they took with objects built key by key,
 * a get of 500 sessions 0.56 / 0.66. Where code cannot be made from text
 * (`--disallow-code-generation-from-strings`), each is built key by key instead.
 */
const SHAPES = native.valueShapes().map((keys) => {
  try {
    // The keys come from the native table, each quoted as JSON (a valid property name).
    return new Function('r', `return { ${keys.map((k) => `${JSON.stringify(k)}: r.value()`).join(', ')} }`)
  } catch {
    return (r) => {
      const obj = new Plain()
      for (const k of keys) obj[k] = r.value()
      return obj
    }
  }
})

/**
 * Reads values the native side has already checked (src/wire.rs validates every stored value).
 * `shared`: `buf` is a frame of this read's own, never written again, so the bytes values
 * it holds can be handed out as views of it (a view costs a third of a copy; a value kept
 * keeps its frame's memory). A buffer reused afterwards is read with copies.
 */
class Reader {
  constructor(buf, shared) {
    this.buf = buf
    this.pos = 0
    this.shared = shared
  }

  varint() {
    const buf = this.buf
    let b = buf[this.pos++]
    if (b < 0x80) return b
    let n = b & 0x7f
    let scale = 0x80
    do {
      b = buf[this.pos++]
      n += (b & 0x7f) * scale
      scale *= 0x80
    } while (b >= 0x80)
    return n
  }

  utf8() {
    const len = this.varint()
    const start = this.pos
    this.pos += len
    return this.buf.utf8Slice(start, this.pos)
  }

  /** A key of `len` bytes at `pos`, UTF-8 or (`base64` = 1) the bytes of base64 text. */
  keyOf(len, base64) {
    const start = this.pos
    this.pos += len
    if (len === 0 || len > MAX_CACHED_KEY) return keyText(this.buf, start, this.pos, base64)
    return cachedKey(this.buf, start, len, base64)
  }

  /** A stored-form key whose head `h` (its length times two, plus one if base64) was read. */
  storedKey(h) {
    return this.keyOf((h - (h & 1)) / 2, h & 1)
  }

  /** Sets `obj[k]` to the next value; `__proto__` as an own property, as JSON.parse makes it. */
  entry(obj, k) {
    if (k === '__proto__') {
      // Assignment would set the prototype instead.
      Object.defineProperty(obj, k, { value: this.value(), writable: true, enumerable: true, configurable: true })
    } else {
      obj[k] = this.value()
    }
  }

  /**
   * A stored-form object. One whose first key is an id (base64: libsignal's chains, its
   * sessions by base key) is built as a dictionary: made key by key, each would need hidden
   * classes of its own (see Plain). Measured in the benchmark's process: 2,000 single-session
   * gets 121 -> 71 ms, a get of 500 sessions 20.1 -> 11.0 ms.
   */
  storedObject(n) {
    if (n === 0) return new Plain()
    const head = this.varint()
    return this.objectFrom(n, this.storedKey(head), (head & 1) === 1, true)
  }

  /** The next key of an object: a stored-form key (`stored`), or UTF-8 text. */
  nextKey(stored) {
    return stored ? this.storedKey(this.varint()) : this.keyOf(this.varint(), 0)
  }

  /**
   * An object of `n` (> 0) entries whose first key, `first`, was read: from Plain's root, or
   * as a dictionary when its first key is an id (`byId`) or past Plain's budget. One made
   * without a prototype is a dictionary from the start; it gets the usual prototype once
   * filled.
   */
  objectFrom(n, first, byId, stored) {
    if (!byId && shapedFirst(first)) {
      const obj = new Plain()
      this.entry(obj, first)
      for (let i = 1; i < n; i++) this.entry(obj, this.nextKey(stored))
      return obj
    }
    // Without a prototype, '__proto__' is an own property, as JSON.parse makes it.
    const obj = idMap()
    obj[first] = this.value()
    for (let i = 1; i < n; i++) obj[this.nextKey(stored)] = this.value()
    return idsFilled(obj)
  }

  value() {
    const buf = this.buf
    switch (buf[this.pos++]) {
      case UNDEFINED:
        return undefined
      case NULL:
        return null
      case FALSE:
        return false
      case TRUE:
        return true
      case INT: {
        // Zigzag: the low bit is the sign; halve before the value can pass 2^53.
        const first = buf[this.pos++]
        let m = (first & 0x7f) >>> 1
        if (first >= 0x80) m += this.varint() * 64
        return first & 1 ? -m - 1 : m
      }
      case FLOAT: {
        const n = buf.readDoubleLE(this.pos)
        this.pos += 8
        return n
      }
      case STRING:
        return this.utf8()
      case BYTES: {
        const len = this.varint()
        const start = this.pos
        this.pos += len
        if (this.shared) return buf.subarray(start, this.pos)
        const out = Buffer.allocUnsafe(len)
        buf.copy(out, 0, start, this.pos)
        return out
      }
      case ARRAY: {
        const n = this.varint()
        const arr = new Array(n)
        for (let i = 0; i < n; i++) arr[i] = this.value()
        return arr
      }
      case OBJECT: {
        const n = this.varint()
        return n === 0 ? new Plain() : this.objectFrom(n, this.keyOf(this.varint(), 0), false, false)
      }
      case SHAPED:
        return SHAPES[buf[this.pos++]](this)
      case STORED_OBJECT:
        return this.storedObject(this.varint())
      case BASE64: {
        const len = this.varint()
        const start = this.pos
        this.pos += len
        return buf.base64Slice(start, this.pos)
      }
      case STRING16: {
        const n = this.varint()
        let s = ''
        for (let i = 0; i < n; i++, this.pos += 2) s += String.fromCharCode(buf.readUInt16LE(this.pos))
        return s
      }
      case DATE: {
        const d = new Date(buf.readDoubleLE(this.pos))
        this.pos += 8
        return d
      }
      default:
        throw fail(ErrorCode.ERR_CORRUPT, `stored value has unknown tag ${buf[this.pos - 1]}`)
    }
  }
}

/**
 * A reader kept for the life of the process. V8 holds the hidden class of an object weakly,
 * and compiled code depends on the classes it ran on: with no reader alive, a full garbage
 * collection would drop the reader's class and the compiled decoder with it (lib/open.js
 * keeps a native frame for the same reason).
 */
Reader.kept = new Reader(Buffer.alloc(0), false)

/**
 * A presented value (src/wire.rs) at `r.pos`, `len` bytes: JSON text (flag 1) when JSON says
 * it exactly, so the engine's own parser builds it; else the stored form (flag 0).
 */
function presented(r, len) {
  const start = r.pos
  if (r.buf[start] === 1) {
    r.pos = start + len
    return JSON.parse(r.buf.utf8Slice(start + 1, start + len))
  }
  r.pos = start + 1
  return r.value()
}

/** Stored creds, as the native side presents them. */
function decodeValue(buf) {
  return presented(new Reader(buf, true), buf.length)
}

/**
 * Reads one `[id][u32 length][value]` entry of an entries frame into `out`, an `idMap`:
 * without a prototype yet, so an id `__proto__` is an own property, as JSON.parse makes it.
 */
function mapEntry(r, out) {
  const id = r.utf8()
  const len = r.buf.readUInt32LE(r.pos)
  r.pos += 4
  out[id] = presented(r, len)
}

function* mapEntries(buf, out) {
  const r = new Reader(buf, true)
  const n = r.varint()
  for (let i = 0; i < n; i++) {
    mapEntry(r, out)
    yield
  }
  return out
}

function* listEntries(buf, withValues) {
  const r = new Reader(buf, true)
  const n = r.varint()
  const out = new Array(n)
  for (let i = 0; i < n; i++) {
    const id = r.utf8()
    const len = buf.readUInt32LE(r.pos)
    r.pos += 4
    if (withValues) {
      out[i] = [id, presented(r, len)]
      yield
    } else {
      r.pos += len
      out[i] = id
    }
  }
  return out
}

/**
 * The object a read fills, keyed by ids: a dictionary from the start, as objects keyed by
 * ids are decoded (see Reader.objectFrom). Made as `{}`, each new id would give it a hidden
 * class of its own: 0.57 µs for one key where this costs 0.27 µs with `idsFilled`, and
 * 18 µs for twenty against 1.4 µs, in a process whose shared root was filled.
 */
const idMap = () => Object.create(null)
/** An `idMap` once filled, given the usual prototype. */
const idsFilled = (out) => Object.setPrototypeOf(out, Object.prototype)

/**
 * An entries frame (`[count]` then `[id][u32 length][value]`) as `{ [id]: value }`, added to
 * `out` (an `idMap`) when given; a large one is decoded in slices and comes as a promise.
 */
function decodeMap(buf, out) {
  if (out !== undefined) return drive(mapEntries(buf, out))
  const found = drive(mapEntries(buf, idMap()))
  return found instanceof Promise ? found.then(idsFilled) : idsFilled(found)
}

/**
 * `decodeMap`, always at once: for a frame at the start of `buf`, a buffer reused right after
 * (the frame says where it ends).
 */
function decodeMapNow(buf) {
  const r = new Reader(buf, false)
  const n = r.varint()
  const out = idMap()
  for (let i = 0; i < n; i++) mapEntry(r, out)
  return idsFilled(out)
}

/** An entries frame as `[[id, value], ...]`, or just the ids (maybe as a promise, as above). */
const decodeList = (buf, withValues) => drive(listEntries(buf, withValues))

module.exports = { SERVER_PART, encodeValue, encodeSet, encodeIds, checkType, keysOf, decodeValue, decodeMap, decodeMapNow, decodeList, idMap, idsFilled }
