//! The value codec: how a JavaScript value is laid out as bytes in a BLOB.
//!
//! A stored value is one tagged tree, written depth first:
//!
//! | tag | meaning   | payload                                            |
//! |-----|-----------|----------------------------------------------------|
//! | 0   | undefined |                                                    |
//! | 1   | null      |                                                    |
//! | 2/3 | false/true|                                                    |
//! | 4   | integer   | zigzag varint (only for |n| <= 2^53, never -0)     |
//! | 5   | number    | f64, little endian                                 |
//! | 6   | string    | varint byte length, UTF-8                          |
//! | 7   | bytes     | varint length, raw bytes (Buffer / Uint8Array)     |
//! | 8   | array     | varint count, then each item                       |
//! | 9   | object    | varint count, then (varint length, UTF-8 key, value)* |
//! | 10  | string16  | varint unit count, UTF-16LE (strings with lone surrogates) |
//! | 11  | date      | f64 milliseconds, little endian                    |
//! | 12  | base64    | varint length, the decoded bytes of a canonical base64 string (stored form only) |
//! | 13  | object    | as 9, but each key is `varint (length << 1 \| b)` then UTF-8 (b = 0) or the bytes of a canonical base64 key (b = 1) (stored form only) |
//! | 14  | (retired) | was an object keyed by ids, in a presented form no longer made; never reused |
//! | 15  | shaped object | one byte, the index of a shape (src/shapes.rs), then a value per key of the shape, in order (presented form only) |
//!
//! Bytes stay bytes (no base64, no `{type:'Buffer'}`), so a pre-key costs ~80 bytes.
//! New tags may be added; existing ones never change meaning.
//!
//! Two forms exist. The *wire* form (tags 0-11) is what lib/codec.js writes. The *stored*
//! form may also use tags 12 and 13: libsignal keeps its session records as JSON full of
//! base64 strings, and storing those as their bytes saves a quarter of their size. Strings
//! are only compacted when decoding and re-encoding gives the same text back, so the round
//! trip stays exact. On the way out a stored value is checked, then handed to JavaScript
//! either as JSON text (when it holds nothing JSON cannot say exactly, so JavaScript can use
//! `JSON.parse`) or as it is stored, which lib/codec.js reads too: turning base64 bytes back
//! into text costs it what reading the text would. In that form an object whose keys are
//! those of a shape listed in src/shapes.rs goes without them (tag 15, presented form only).
//! libsignal's sessions go the stored way: they hold `undefined` (the key of a closed chain)
//! and objects keyed by ids (chains, sessions by base key). lib/codec.js builds an object
//! whose first key was stored as base64 as a dictionary: an engine gives each object made key
//! by key a hidden class per new key, and once a process has made many (Baileys loaded, other
//! stores run), each such object costs microseconds; `JSON.parse` pays the same.

use crate::error::{Code, Error, Result};

pub mod tag {
    pub const UNDEFINED: u8 = 0;
    pub const NULL: u8 = 1;
    pub const FALSE: u8 = 2;
    pub const TRUE: u8 = 3;
    pub const INT: u8 = 4;
    pub const FLOAT: u8 = 5;
    pub const STRING: u8 = 6;
    pub const BYTES: u8 = 7;
    pub const ARRAY: u8 = 8;
    pub const OBJECT: u8 = 9;
    pub const STRING16: u8 = 10;
    pub const DATE: u8 = 11;
    pub const BASE64: u8 = 12;
    pub const STORED_OBJECT: u8 = 13;
    pub const SHAPED: u8 = 15;
}

/// Deepest nesting accepted. Baileys' values nest about six levels.
pub const MAX_DEPTH: usize = 256;

/// Largest integer that survives a round trip through f64 unchanged.
const MAX_SAFE_INT: f64 = 9_007_199_254_740_992.0;

/// Appends encoded values to a byte buffer.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Self {
        Writer::default()
    }

    pub fn with_capacity(capacity: usize) -> Self {
        Writer {
            buf: Vec::with_capacity(capacity),
        }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn varint(&mut self, mut n: u64) {
        while n >= 0x80 {
            self.buf.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.buf.push(n as u8);
    }

    pub fn undefined(&mut self) {
        self.buf.push(tag::UNDEFINED);
    }

    pub fn null(&mut self) {
        self.buf.push(tag::NULL);
    }

    pub fn bool(&mut self, b: bool) {
        self.buf.push(if b { tag::TRUE } else { tag::FALSE });
    }

    pub fn number(&mut self, n: f64) {
        // -0 has no integer form; NaN and infinities fail the range test.
        if n.fract() == 0.0 && n.abs() <= MAX_SAFE_INT && !(n == 0.0 && n.is_sign_negative()) {
            let i = n as i64;
            self.buf.push(tag::INT);
            self.varint(((i << 1) ^ (i >> 63)) as u64);
        } else {
            self.buf.push(tag::FLOAT);
            self.buf.extend_from_slice(&n.to_le_bytes());
        }
    }

    pub fn string(&mut self, s: &str) {
        self.utf8_string(s.as_bytes());
    }

    /// `string` of bytes already known to be UTF-8.
    fn utf8_string(&mut self, s: &[u8]) {
        self.buf.push(tag::STRING);
        self.varint(s.len() as u64);
        self.buf.extend_from_slice(s);
    }

    /// A string that is not valid Unicode (it holds a lone surrogate), kept unit for unit.
    pub fn string16(&mut self, units: &[u16]) {
        self.buf.push(tag::STRING16);
        self.varint(units.len() as u64);
        for u in units {
            self.buf.extend_from_slice(&u.to_le_bytes());
        }
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.push(tag::BYTES);
        self.varint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    pub fn date(&mut self, ms: f64) {
        self.buf.push(tag::DATE);
        self.buf.extend_from_slice(&ms.to_le_bytes());
    }

    /// Starts an array of `len` items; the caller writes them next.
    pub fn array(&mut self, len: usize) {
        self.buf.push(tag::ARRAY);
        self.varint(len as u64);
    }

    /// Starts an object of `len` entries; the caller writes `key` then a value, `len` times.
    pub fn object(&mut self, len: usize) {
        self.buf.push(tag::OBJECT);
        self.varint(len as u64);
    }

    pub fn key(&mut self, k: &str) {
        self.varint(k.len() as u64);
        self.buf.extend_from_slice(k.as_bytes());
    }

    /// Appends the `BASE64` form of `text` (with `head` written before the bytes) if it is
    /// canonical base64 long enough to be worth it, decoding in place: most libsignal strings
    /// are base64, and a buffer of their own for each would cost an allocation.
    fn try_base64(&mut self, text: &[u8], head: impl FnOnce(&mut Self, usize)) -> bool {
        if text.len() < MIN_BASE64 {
            return false;
        }
        let Some(n) = base64::decoded_len(text) else {
            return false;
        };
        let mark = self.buf.len();
        head(self, n);
        if base64::decode_canonical_into(text, &mut self.buf) {
            return true;
        }
        self.buf.truncate(mark);
        false
    }

    /// A key of a stored-form object, compacted when it is canonical base64; `k` is checked
    /// to be UTF-8 only when it is not (base64 is ASCII).
    pub(crate) fn stored_key(&mut self, k: &[u8]) -> Result<()> {
        if !self.try_base64(k, |w, n| w.varint(((n as u64) << 1) | 1)) {
            check_utf8(k)?;
            self.varint((k.len() as u64) << 1);
            self.buf.extend_from_slice(k);
        }
        Ok(())
    }

    /// A string, compacted when it is canonical base64 (stored form); checked as `stored_key`.
    fn stored_string(&mut self, s: &[u8]) -> Result<()> {
        if !self.try_base64(s, |w, n| {
            w.buf.push(tag::BASE64);
            w.varint(n as u64);
        }) {
            check_utf8(s)?;
            self.utf8_string(s);
        }
        Ok(())
    }
}

fn utf8(b: &[u8]) -> Result<&str> {
    std::str::from_utf8(b).map_err(|_| Error::corrupt("stored string is not UTF-8"))
}

fn not_utf8_key() -> Error {
    Error::corrupt("stored key is not UTF-8")
}

/// Checks `b` is UTF-8 where the bytes are all that is needed: most strings and keys are
/// ASCII, which `is_ascii` checks inline, a word at a time.
fn check_utf8(b: &[u8]) -> Result<()> {
    if b.is_ascii() {
        return Ok(());
    }
    utf8(b).map(|_| ())
}

/// The integer a zigzag varint holds: n >= 0 is stored as 2n, n < 0 as -2n - 1.
fn unzigzag(z: u64) -> i64 {
    ((z >> 1) as i64) ^ -((z & 1) as i64)
}

/// One step of a decoded value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Token<'a> {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    Str(&'a str),
    /// UTF-16LE code units, two bytes each.
    Str16(&'a [u8]),
    /// A string stored as the bytes its canonical base64 text decodes to.
    Base64(&'a [u8]),
    Bytes(&'a [u8]),
    Date(f64),
    /// An array; its `usize` items follow.
    Array(usize),
    /// An object; `usize` (key, value) entries follow, each key read with [`Reader::key`].
    Object(usize),
    /// An object of the stored form; keys are read with [`Reader::stored_key`].
    StoredObject(usize),
}

/// A key of a stored-form object.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Key<'a> {
    Text(&'a str),
    /// The bytes of a canonical base64 key.
    Base64(&'a [u8]),
}

impl Key<'_> {
    pub fn to_text(self) -> String {
        match self {
            Key::Text(s) => s.to_owned(),
            Key::Base64(b) => base64::encode(b),
        }
    }
}

/// Reads encoded values back, token by token, checking every length against the input.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Fails unless every byte was consumed.
    pub fn finish(&self) -> Result<()> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(Error::corrupt("stored value has trailing bytes"))
        }
    }

    fn truncated() -> Error {
        Error::corrupt("stored value is truncated")
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self.buf.get(self.pos).ok_or_else(Self::truncated)?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.remaining() {
            return Err(Self::truncated());
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn varint(&mut self) -> Result<u64> {
        // Most lengths and counts take one byte.
        if let Some(&b) = self.buf.get(self.pos).filter(|&&b| b < 0x80) {
            self.pos += 1;
            return Ok(u64::from(b));
        }
        self.long_varint()
    }

    #[inline(never)]
    fn long_varint(&mut self) -> Result<u64> {
        let mut n: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = self.byte()?;
            if shift == 63 && b > 1 {
                break;
            }
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(Error::corrupt("stored value has a malformed length"))
    }

    /// A length that must fit in what is left, `unit` bytes per element at least.
    pub(crate) fn len(&mut self, unit: usize) -> Result<usize> {
        let n = self.varint()?;
        if n > (self.remaining() / unit) as u64 {
            return Err(Self::truncated());
        }
        Ok(n as usize)
    }

    fn f64(&mut self) -> Result<f64> {
        let b = self.take(8)?;
        Ok(f64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    fn str(&mut self) -> Result<&'a str> {
        utf8(self.raw_str()?)
    }

    /// The bytes of a string (or key), not yet checked to be UTF-8.
    fn raw_str(&mut self) -> Result<&'a [u8]> {
        let n = self.len(1)?;
        self.take(n)
    }

    pub fn token(&mut self) -> Result<Token<'a>> {
        Ok(match self.byte()? {
            tag::UNDEFINED => Token::Undefined,
            tag::NULL => Token::Null,
            tag::FALSE => Token::Bool(false),
            tag::TRUE => Token::Bool(true),
            tag::INT => {
                let z = self.varint()?;
                Token::Number(unzigzag(z) as f64)
            }
            tag::FLOAT => Token::Number(self.f64()?),
            tag::STRING => Token::Str(self.str()?),
            tag::STRING16 => {
                let n = self.len(2)?;
                Token::Str16(self.take(n * 2)?)
            }
            tag::BYTES => {
                let n = self.len(1)?;
                Token::Bytes(self.take(n)?)
            }
            tag::DATE => Token::Date(self.f64()?),
            tag::BASE64 => {
                let n = self.len(1)?;
                Token::Base64(self.take(n)?)
            }
            // Each item or entry takes at least one byte: a count beyond that is corrupt,
            // which also bounds any allocation made from it.
            tag::ARRAY => Token::Array(self.len(1)?),
            tag::OBJECT => Token::Object(self.len(2)?),
            tag::STORED_OBJECT => Token::StoredObject(self.len(2)?),
            t => return Err(Error::corrupt(format!("stored value has unknown tag {t}"))),
        })
    }

    pub fn key(&mut self) -> Result<&'a str> {
        self.str()
    }

    pub fn stored_key(&mut self) -> Result<Key<'a>> {
        match self.raw_stored_key()? {
            (true, bytes) => Ok(Key::Base64(bytes)),
            (false, text) => std::str::from_utf8(text)
                .map(Key::Text)
                .map_err(|_| not_utf8_key()),
        }
    }

    /// A stored-form key as stored: whether it is the bytes of base64 text, and its bytes.
    fn raw_stored_key(&mut self) -> Result<(bool, &'a [u8])> {
        let n = self.varint()?;
        let len = usize::try_from(n >> 1).map_err(|_| Self::truncated())?;
        Ok((n & 1 == 1, self.take(len)?))
    }

    /// Reads the key of an entry of `object` (a wire or a stored-form object).
    pub fn entry_key(&mut self, stored: bool) -> Result<Key<'a>> {
        if stored {
            self.stored_key()
        } else {
            self.key().map(Key::Text)
        }
    }

    /// Reads the key of an entry of an object (`stored`: of the stored form) as `skip`
    /// checks it: whether it is the bytes of base64 text, and its bytes.
    pub(crate) fn checked_key(&mut self, stored: bool) -> Result<(bool, &'a [u8])> {
        if !stored {
            let key = self.raw_str()?;
            return check_utf8(key).map(|_| (false, key));
        }
        let (base64, key) = self.raw_stored_key()?;
        if !base64 {
            check_utf8(key).map_err(|_| not_utf8_key())?;
        }
        Ok((base64, key))
    }

    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.pos += n;
    }

    /// The bytes read since `start`.
    pub(crate) fn since(&self, start: usize) -> &'a [u8] {
        &self.buf[start..self.pos]
    }

    /// The tag of the next value, without reading it.
    pub fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Walks one whole value without building it: the structural check of stored data.
    pub fn skip(&mut self, depth: usize) -> Result<()> {
        if depth > MAX_DEPTH {
            return Err(Error::corrupt("stored value is nested too deep"));
        }
        // Strings and keys, most of a stored value, are checked without being read as `str`;
        // integers and base64 strings are passed over without being made into tokens.
        match self.peek() {
            Some(tag::STRING) => {
                self.pos += 1;
                return check_utf8(self.raw_str()?);
            }
            Some(tag::INT) => {
                self.pos += 1;
                return self.varint().map(|_| ());
            }
            Some(tag::BASE64) => {
                self.pos += 1;
                return self.raw_str().map(|_| ());
            }
            Some(tag::STORED_OBJECT) => {
                self.pos += 1;
                let n = self.len(2)?;
                return self.skip_entries(n, true, depth);
            }
            _ => {}
        }
        match self.token()? {
            Token::Array(n) => {
                for _ in 0..n {
                    self.skip(depth + 1)?;
                }
            }
            Token::Object(n) => self.skip_entries(n, false, depth)?,
            Token::StoredObject(n) => self.skip_entries(n, true, depth)?,
            _ => {}
        }
        Ok(())
    }

    /// Walks the `n` entries of an object (`stored`: of the stored form), as `skip` does.
    fn skip_entries(&mut self, n: usize, stored: bool, depth: usize) -> Result<()> {
        for _ in 0..n {
            self.checked_key(stored)?;
            self.skip(depth + 1)?;
        }
        Ok(())
    }
}

/// Checks that `bytes` hold exactly one well-formed value.
pub fn validate(bytes: &[u8]) -> Result<()> {
    let mut r = Reader::new(bytes);
    r.skip(0)?;
    r.finish()
}

/// Strings shorter than this stay text: compacting them saves too little.
const MIN_BASE64: usize = 16;

/// Wire form to stored form: checks the value and compacts canonical base64 strings.
pub fn to_stored(wire: &[u8]) -> Result<Vec<u8>> {
    let mut r = Reader::new(wire);
    let mut w = Writer::with_capacity(wire.len());
    copy(&mut r, &mut w, 0)?;
    r.finish()?;
    Ok(w.into_bytes())
}

/// Appends a stored value to `out` as JavaScript receives it, checked, and returns whether
/// it went as JSON text: text that `JSON.parse` turns into exactly that value, when it holds
/// nothing JSON cannot carry exactly (bytes, `undefined`, -0, NaN...) and no object keyed by
/// ids; else the stored form with its objects of known shapes rewritten (`shapes::present`).
/// Written in place, with no buffer of its own: a read of many keys presents each.
pub fn present(stored: &[u8], out: &mut Vec<u8>) -> Result<bool> {
    let start = out.len();
    let mut r = Reader::new(stored);
    match json_value(&mut r, out, 0).map(|json| json && r.finish().is_ok()) {
        Ok(true) => Ok(true),
        // Not JSON, or damaged: whatever was written goes, and the whole value is checked.
        _ => {
            out.truncate(start);
            crate::shapes::present(stored, out)?;
            Ok(false)
        }
    }
}

/// Copies one value token by token into the stored form: base64 strings and keys as bytes.
fn copy(r: &mut Reader<'_>, w: &mut Writer, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(Error::corrupt("stored value is nested too deep"));
    }
    match r.peek() {
        Some(tag::STRING) => {
            r.pos += 1;
            return w.stored_string(r.raw_str()?);
        }
        // An integer stays the integer it is, without going through f64 (as `token` reads
        // it); one out of the exact range becomes the number `token` would make of it.
        Some(tag::INT) => {
            r.pos += 1;
            let z = r.varint()?;
            // |the integer| is (z >> 1) + (z & 1) (see `unzigzag`).
            if (z >> 1) + (z & 1) <= MAX_SAFE_INT as u64 {
                w.buf.push(tag::INT);
                w.varint(z);
            } else {
                w.number(unzigzag(z) as f64);
            }
            return Ok(());
        }
        _ => {}
    }
    match r.token()? {
        Token::Undefined => w.undefined(),
        Token::Null => w.null(),
        Token::Bool(b) => w.bool(b),
        Token::Number(n) => w.number(n),
        Token::Str(s) => w.string(s),
        Token::Base64(b) => {
            w.buf.push(tag::BASE64);
            w.varint(b.len() as u64);
            w.buf.extend_from_slice(b);
        }
        Token::Str16(b) => w.string16(&utf16_units(b)),
        Token::Bytes(b) => w.bytes(b),
        Token::Date(d) => w.date(d),
        Token::Array(n) => {
            w.array(n);
            for _ in 0..n {
                copy(r, w, depth + 1)?;
            }
        }
        t @ (Token::Object(n) | Token::StoredObject(n)) => {
            w.buf.push(tag::STORED_OBJECT);
            w.varint(n as u64);
            for _ in 0..n {
                if matches!(t, Token::Object(_)) {
                    w.stored_key(r.raw_str()?)?;
                } else {
                    match r.stored_key()? {
                        Key::Text(k) => w.stored_key(k.as_bytes())?,
                        Key::Base64(b) => {
                            w.varint(((b.len() as u64) << 1) | 1);
                            w.buf.extend_from_slice(b);
                        }
                    }
                }
                copy(r, w, depth + 1)?;
            }
        }
    }
    Ok(())
}

fn json_string(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let mut start = 0;
    for (i, &b) in s.as_bytes().iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[start..i]);
        if esc.is_empty() {
            out.extend_from_slice(format!("\\u{b:04x}").as_bytes());
        } else {
            out.extend_from_slice(esc);
        }
        start = i + 1;
    }
    out.extend_from_slice(&s.as_bytes()[start..]);
    out.push(b'"');
}

/// Writes the value as JSON; `false` (output unusable) at the first thing JSON cannot say
/// exactly.
fn json_value(r: &mut Reader<'_>, out: &mut Vec<u8>, depth: usize) -> Result<bool> {
    if depth > MAX_DEPTH {
        return Err(Error::corrupt("stored value is nested too deep"));
    }
    match r.token()? {
        Token::Null => out.extend_from_slice(b"null"),
        Token::Bool(true) => out.extend_from_slice(b"true"),
        Token::Bool(false) => out.extend_from_slice(b"false"),
        Token::Number(n) => {
            if !n.is_finite() || (n == 0.0 && n.is_sign_negative()) {
                return Ok(false);
            }
            use std::io::Write;
            if n.fract() == 0.0 && n.abs() < MAX_SAFE_INT {
                let _ = write!(out, "{}", n as i64);
            } else {
                // Rust prints the shortest digits that read back as the same f64.
                let _ = write!(out, "{n:?}");
            }
        }
        Token::Str(s) => json_string(out, s),
        Token::Base64(b) => {
            out.push(b'"');
            base64::encode_into(b, out);
            out.push(b'"');
        }
        Token::Array(n) => {
            out.push(b'[');
            for i in 0..n {
                if i > 0 {
                    out.push(b',');
                }
                if !json_value(r, out, depth + 1)? {
                    return Ok(false);
                }
            }
            out.push(b']');
        }
        t @ (Token::Object(n) | Token::StoredObject(n)) => {
            let stored = matches!(t, Token::StoredObject(_));
            out.push(b'{');
            for i in 0..n {
                if i > 0 {
                    out.push(b',');
                }
                match r.entry_key(stored)? {
                    Key::Text(k) => json_string(out, k),
                    // Keyed by ids (libsignal's chains and sessions): JavaScript builds those
                    // faster from the stored form, as dictionaries, than JSON.parse does.
                    Key::Base64(_) => return Ok(false),
                }
                out.push(b':');
                if !json_value(r, out, depth + 1)? {
                    return Ok(false);
                }
            }
            out.push(b'}');
        }
        Token::Undefined | Token::Str16(_) | Token::Bytes(_) | Token::Date(_) => return Ok(false),
    }
    Ok(true)
}

/// Standard base64 (RFC 4648, padded), as libsignal and Buffer write it.
pub mod base64 {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
        encode_into(bytes, &mut out);
        String::from_utf8(out).expect("base64 is ASCII")
    }

    pub fn encode_into(bytes: &[u8], out: &mut Vec<u8>) {
        out.reserve(bytes.len().div_ceil(3) * 4);
        let sym = |n: u32, shift: u32| ALPHABET[((n >> shift) & 63) as usize];
        let mut chunks = bytes.chunks_exact(3);
        for c in &mut chunks {
            let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
            out.extend_from_slice(&[sym(n, 18), sym(n, 12), sym(n, 6), sym(n, 0)]);
        }
        match *chunks.remainder() {
            [a] => {
                let n = u32::from(a) << 16;
                out.extend_from_slice(&[sym(n, 18), sym(n, 12), b'=', b'=']);
            }
            [a, b] => {
                let n = (u32::from(a) << 16) | (u32::from(b) << 8);
                out.extend_from_slice(&[sym(n, 18), sym(n, 12), sym(n, 6), b'=']);
            }
            _ => {}
        }
    }

    /// Each byte's 6-bit value, or `INVALID` for bytes outside the alphabet: a table, as
    /// every string JavaScript writes is tried (most libsignal strings are base64).
    const INVALID: u8 = 0xff;
    const SEXTETS: [u8; 256] = {
        let mut t = [INVALID; 256];
        let mut i = 0;
        while i < 64 {
            t[ALPHABET[i] as usize] = i as u8;
            i += 1;
        }
        t
    };

    /// The 24 bits of four symbols; `None` if one is not in the alphabet.
    fn quad(q: &[u8]) -> Option<u32> {
        let [a, b, c, d] = [q[0], q[1], q[2], q[3]].map(|c| SEXTETS[c as usize]);
        if (a | b | c | d) & 0xc0 != 0 {
            return None;
        }
        Some((u32::from(a) << 18) | (u32::from(b) << 12) | (u32::from(c) << 6) | u32::from(d))
    }

    /// How many bytes `s` decodes to if it can be padded base64 (a multiple of four
    /// symbols, at most two of them trailing `=`); whether it is, decoding tells.
    pub fn decoded_len(s: &[u8]) -> Option<usize> {
        if s.is_empty() || !s.len().is_multiple_of(4) {
            return None;
        }
        let pad = s.iter().rev().take(2).take_while(|&&c| c == b'=').count();
        Some(s.len() / 4 * 3 - pad)
    }

    /// The bytes of `s` if it is base64 that encodes back to exactly `s` (padding and unused
    /// bits included); `None` for anything else.
    pub fn decode_canonical(s: &str) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(s.len() / 4 * 3);
        decode_canonical_into(s.as_bytes(), &mut out).then_some(out)
    }

    /// Appends what `decode_canonical` returns to `out`; false, leaving `out` as it was
    /// given, when `s` is not canonical base64.
    pub fn decode_canonical_into(s: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(n) = decoded_len(s) else {
            return false;
        };
        let start = out.len();
        out.resize(start + s.len() / 4 * 3, 0);
        if fill(s, &mut out[start..]) {
            out.truncate(start + n);
            true
        } else {
            out.truncate(start);
            false
        }
    }

    /// Decodes `s` (a non-empty multiple of four symbols) into `dst`, three bytes a group.
    fn fill(s: &[u8], dst: &mut [u8]) -> bool {
        let (body, last) = s.split_at(s.len() - 4);
        let (dst_body, dst_last) = dst.split_at_mut(dst.len() - 3);
        // Symbols outside the alphabet are noted, not branched on: the bytes written then
        // are discarded.
        let mut outside = 0;
        for (q, d) in body.chunks_exact(4).zip(dst_body.chunks_exact_mut(3)) {
            let [a, b, c, e] = [q[0], q[1], q[2], q[3]].map(|c| SEXTETS[c as usize]);
            outside |= a | b | c | e;
            let n =
                (u32::from(a) << 18) | (u32::from(b) << 12) | (u32::from(c) << 6) | u32::from(e);
            d.copy_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
        }
        if outside & 0xc0 != 0 {
            return false;
        }
        // The last group may be padded: `x===` is never canonical, and the bits past the
        // last byte must be zero, or encoding the bytes again would give another string.
        let (n, keep) = match *last {
            [_, _, b'=', b'='] => match quad(&[last[0], last[1], b'A', b'A']) {
                Some(n) => (n, 1),
                None => return false,
            },
            [_, _, _, b'='] => match quad(&[last[0], last[1], last[2], b'A']) {
                Some(n) => (n, 2),
                None => return false,
            },
            _ => match quad(last) {
                Some(n) => (n, 3),
                None => return false,
            },
        };
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        if bytes[keep..].iter().any(|&b| b != 0) {
            return false;
        }
        dst_last.copy_from_slice(&bytes);
        true
    }
}

/// A decoded value as a Rust tree: for tests, tools and anything that inspects data
/// without a JavaScript engine.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Undefined,
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    String16(Vec<u16>),
    Bytes(Vec<u8>),
    Date(f64),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
}

impl Value {
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write(&mut w);
        w.into_bytes()
    }

    pub fn write(&self, w: &mut Writer) {
        match self {
            Value::Undefined => w.undefined(),
            Value::Null => w.null(),
            Value::Bool(b) => w.bool(*b),
            Value::Number(n) => w.number(*n),
            Value::String(s) => w.string(s),
            Value::String16(u) => w.string16(u),
            Value::Bytes(b) => w.bytes(b),
            Value::Date(d) => w.date(*d),
            Value::Array(items) => {
                w.array(items.len());
                items.iter().for_each(|v| v.write(w));
            }
            Value::Object(entries) => {
                w.object(entries.len());
                for (k, v) in entries {
                    w.key(k);
                    v.write(w);
                }
            }
        }
    }

    pub fn decode(bytes: &[u8]) -> Result<Value> {
        let mut r = Reader::new(bytes);
        let v = Value::read(&mut r, 0)?;
        r.finish()?;
        Ok(v)
    }

    fn read(r: &mut Reader<'_>, depth: usize) -> Result<Value> {
        if depth > MAX_DEPTH {
            return Err(Error::new(Code::Corrupt, "stored value is nested too deep"));
        }
        Ok(match r.token()? {
            Token::Undefined => Value::Undefined,
            Token::Null => Value::Null,
            Token::Bool(b) => Value::Bool(b),
            Token::Number(n) => Value::Number(n),
            Token::Str(s) => Value::String(s.to_owned()),
            Token::Str16(b) => Value::String16(utf16_units(b)),
            Token::Base64(b) => Value::String(base64::encode(b)),
            Token::Bytes(b) => Value::Bytes(b.to_vec()),
            Token::Date(d) => Value::Date(d),
            Token::Array(n) => Value::Array(
                (0..n)
                    .map(|_| Value::read(r, depth + 1))
                    .collect::<Result<_>>()?,
            ),
            t @ (Token::Object(n) | Token::StoredObject(n)) => {
                let stored = matches!(t, Token::StoredObject(_));
                Value::Object(
                    (0..n)
                        .map(|_| {
                            let k = r.entry_key(stored)?.to_text();
                            Ok((k, Value::read(r, depth + 1)?))
                        })
                        .collect::<Result<_>>()?,
                )
            }
        })
    }

    /// Looks up `key` in an object value.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
}

/// UTF-16LE bytes to code units.
pub fn utf16_units(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `present` appends after bytes already in the buffer (which it must keep): the
    /// JSON text, or `None` for a value handed over in the stored form.
    fn json_of(stored: &[u8]) -> Result<Option<String>> {
        let mut out = b"head".to_vec();
        let json = present(stored, &mut out)?;
        assert_eq!(&out[..4], b"head");
        Ok(json.then(|| String::from_utf8(out[4..].to_vec()).unwrap()))
    }

    fn round_trip(v: Value) {
        let bytes = v.encode();
        validate(&bytes).unwrap();
        let back = Value::decode(&bytes).unwrap();
        // NaN != NaN: compare encodings instead of values.
        assert_eq!(back.encode(), bytes, "{v:?}");
    }

    #[test]
    fn scalars_round_trip() {
        for v in [
            Value::Undefined,
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::Number(0.0),
            Value::Number(-0.0),
            Value::Number(1.5),
            Value::Number(-42.0),
            Value::Number(9_007_199_254_740_992.0),
            Value::Number(9_007_199_254_740_994.0),
            Value::Number(f64::NAN),
            Value::Number(f64::INFINITY),
            Value::Number(f64::NEG_INFINITY),
            Value::String(String::new()),
            Value::String("héllo ✓ 🎉".into()),
            Value::String16(vec![0xd800, 0x41]),
            Value::Bytes(vec![]),
            Value::Bytes((0..=255).collect()),
            Value::Date(1_700_000_000_000.0),
        ] {
            round_trip(v);
        }
    }

    #[test]
    fn negative_zero_keeps_its_sign() {
        let back = Value::decode(&Value::Number(-0.0).encode()).unwrap();
        match back {
            Value::Number(n) => assert!(n == 0.0 && n.is_sign_negative()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn nested_values_round_trip() {
        let pre_key = Value::Object(vec![
            ("private".into(), Value::Bytes(vec![1; 32])),
            ("public".into(), Value::Bytes(vec![2; 32])),
        ]);
        assert!(pre_key.encode().len() < 90);
        round_trip(Value::Array(vec![
            pre_key,
            Value::Object(vec![]),
            Value::Array(vec![]),
            Value::Object(vec![("a\0b".into(), Value::Undefined)]),
        ]));
    }

    #[test]
    fn damaged_bytes_are_refused_not_trusted() {
        let good = Value::Object(vec![("k".into(), Value::String("v".into()))]).encode();
        for cut in 0..good.len() {
            assert_eq!(
                Value::decode(&good[..cut]).unwrap_err().code,
                Code::Corrupt,
                "cut at {cut}"
            );
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(Value::decode(&trailing).unwrap_err().code, Code::Corrupt);
        assert_eq!(Value::decode(&[200]).unwrap_err().code, Code::Corrupt);
        // A huge claimed count must fail fast, not allocate.
        assert_eq!(
            Value::decode(&[tag::ARRAY, 0xff, 0xff, 0xff, 0xff, 0x0f])
                .unwrap_err()
                .code,
            Code::Corrupt
        );
        assert_eq!(
            Value::decode(&[tag::STRING, 1, 0xff]).unwrap_err().code,
            Code::Corrupt
        );
    }

    #[test]
    fn base64_is_recognised_only_when_canonical() {
        for bytes in [
            vec![],
            vec![0],
            vec![1, 2],
            vec![1, 2, 3],
            (0..=255).collect(),
        ] {
            let text = base64::encode(&bytes);
            let back = base64::decode_canonical(&text);
            assert_eq!(back.as_deref(), (!bytes.is_empty()).then_some(&bytes[..]));
        }
        assert_eq!(base64::encode(b"hello"), "aGVsbG8=");
        // Same bytes as "aGVsbG8=" but with unused bits set: not canonical, must stay text.
        for s in [
            "aGVsbG9=",
            "aGVsbG8",
            "aGVs bG8=",
            "aGVsbG8==",
            "====",
            "aG=sbG8=",
        ] {
            assert_eq!(base64::decode_canonical(s), None, "{s}");
        }
    }

    #[test]
    fn stored_form_compacts_base64_keys_and_presents_exactly() {
        let key = base64::encode(&[7u8; 33]);
        let session = Value::Object(vec![
            ("version".into(), Value::String("v1".into())),
            ("rootKey".into(), Value::String(key.clone())),
            (
                "list".into(),
                Value::Array(vec![Value::Number(-3.0), Value::Number(0.5)]),
            ),
            (
                "text".into(),
                Value::String("quote \" slash \\ nl \n é".into()),
            ),
        ]);
        let wire = session.encode();
        let stored = to_stored(&wire).unwrap();
        assert!(
            stored.len() < wire.len() - 10,
            "{} vs {}",
            stored.len(),
            wire.len()
        );
        assert_eq!(
            json_of(&stored).unwrap().expect("JSON"),
            format!(
                r#"{{"version":"v1","rootKey":"{key}","list":[-3,0.5],"text":"quote \" slash \\ nl \u000a é"}}"#
            )
        );
        // A key that is an id is kept as bytes, and the value handed over as stored.
        let keyed = Value::Object(vec![
            ("version".into(), Value::String("v1".into())),
            (key.clone(), Value::Null),
        ]);
        let wire = keyed.encode();
        let stored = to_stored(&wire).unwrap();
        assert!(stored.len() < wire.len() - 10);
        assert_eq!(json_of(&stored).unwrap(), None);
        assert_eq!(Value::decode(&stored).unwrap(), keyed);
        // Anything JSON cannot carry exactly is handed over as stored.
        for special in [
            Value::Bytes(vec![1]),
            Value::Undefined,
            Value::Number(-0.0),
            Value::Number(f64::NAN),
            Value::Date(1.0),
            Value::String16(vec![0xd800]),
        ] {
            let v = Value::Array(vec![Value::String(key.clone()), special]);
            let stored = to_stored(&v.encode()).unwrap();
            assert_eq!(json_of(&stored).unwrap(), None);
            // Compared as encoded: NaN equals nothing.
            assert_eq!(Value::decode(&stored).unwrap().encode(), v.encode());
        }
    }

    #[test]
    fn a_property_holding_undefined_sends_the_value_as_stored() {
        let v = Value::Object(vec![
            ("b".into(), Value::Array(vec![Value::Null])),
            ("a".into(), Value::Undefined),
        ]);
        let stored = to_stored(&v.encode()).unwrap();
        assert_eq!(json_of(&stored).unwrap(), None);
        assert_eq!(Value::decode(&stored).unwrap(), v);
    }

    #[test]
    fn objects_keyed_by_ids_are_handed_over_as_stored_and_checked() {
        let id = "BYK3jL+rpNuFJVSfWzPY1CiOeLT0GDTVNVw7Bm6ZJ4VA";
        let chains = Value::Object(vec![(id.into(), Value::Number(1.0))]);
        let v = Value::Object(vec![("_chains".into(), chains)]);
        let stored = to_stored(&v.encode()).unwrap();
        assert_eq!(json_of(&stored).unwrap(), None);
        assert_eq!(Value::decode(&stored).unwrap(), v);
        // JSON gives up at the id, but the rest is still checked.
        let mut cut = stored.clone();
        cut.pop();
        assert_eq!(json_of(&cut).unwrap_err().code, Code::Corrupt);
    }

    #[test]
    fn json_numbers_read_back_identically() {
        for n in [
            0.1,
            1e21,
            1.5e-7,
            123456.789,
            f64::MAX,
            f64::MIN_POSITIVE,
            2f64.powi(53),
        ] {
            let stored = to_stored(&Value::Number(n).encode()).unwrap();
            let text = json_of(&stored)
                .unwrap()
                .unwrap_or_else(|| panic!("{n} should be JSON"));
            assert_eq!(text.parse::<f64>().unwrap(), n, "{text}");
        }
    }

    #[test]
    fn overly_deep_stored_values_are_refused() {
        let mut bytes = [tag::ARRAY, 1].repeat(MAX_DEPTH + 2);
        bytes.push(tag::NULL);
        assert_eq!(validate(&bytes).unwrap_err().code, Code::Corrupt);
    }

    #[test]
    fn integers_are_stored_as_the_numbers_they_read_as() {
        // A wire integer is kept as it is when JavaScript reads it exactly, and otherwise
        // becomes the nearest number, as reading it as a number and writing that gives.
        let limit = 1u64 << 53;
        let zigzag = |i: i64| ((i << 1) ^ (i >> 63)) as u64;
        for z in [
            0,
            1,
            127,
            128,
            zigzag(limit as i64),
            zigzag(-(limit as i64)),
            zigzag(limit as i64 + 1),
            zigzag(-(limit as i64) - 1),
            u64::MAX >> 1,
            u64::MAX,
        ] {
            let mut wire = Writer::new();
            wire.buf.push(tag::INT);
            wire.varint(z);
            let mut expected = Writer::new();
            expected.number(unzigzag(z) as f64);
            assert_eq!(
                to_stored(wire.as_bytes()).unwrap(),
                expected.into_bytes(),
                "zigzag {z}"
            );
        }
        // An overlong length is read for what it says and stored in its shortest form.
        assert_eq!(to_stored(&[tag::INT, 0x82, 0x00]).unwrap(), [tag::INT, 2]);
    }
}
