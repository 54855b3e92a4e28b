//! The frames index.js and the binding exchange: many keys in one byte buffer, so that a
//! call crosses N-API once instead of once per key or property.
//!
//! - set frame: repeated `[type: name][count: varint]` then `count` times
//!   `[id: name][0]` (delete) or `[id: name][1][len: u32 LE][value]` (put);
//! - ids frame: `[count: varint][id: name]*`;
//! - entries frame (replies): `[count: varint]` then `[id: name][len: u32 LE][value]*`, where
//!   a value is a presented value: `[1][JSON text]` or `[0][stored-form codec value, objects
//!   of known shapes without their keys]` (see `codec::present`), or empty when only ids were
//!   asked for.
//!
//! A name is a varint byte length and UTF-8. Incoming values are checked and put in stored
//! form here, outgoing ones checked and presented (src/codec.rs), so malformed bytes never
//! reach the database nor JavaScript.

use crate::backend::{Entry, KeyWrite};
use crate::codec;
use crate::error::{Code, Error, Result};

/// Longest type name or id, in bytes (also enforced by lib/codec.js).
pub const MAX_NAME: usize = 4096;

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn malformed() -> Error {
    Error::new(Code::Internal, "malformed request frame")
}

impl<'a> Cursor<'a> {
    fn done(&self) -> bool {
        self.pos == self.buf.len()
    }

    fn byte(&mut self) -> Result<u8> {
        let b = *self.buf.get(self.pos).ok_or_else(malformed)?;
        self.pos += 1;
        Ok(b)
    }

    fn varint(&mut self) -> Result<usize> {
        let mut n: u64 = 0;
        for shift in (0..63).step_by(7) {
            let b = self.byte()?;
            n |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return usize::try_from(n).map_err(|_| malformed());
            }
        }
        Err(malformed())
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(malformed)?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn name(&mut self, what: &str) -> Result<String> {
        let n = self.varint()?;
        if n > MAX_NAME {
            return Err(Error::new(
                Code::ValueTooLarge,
                format!("{what} is longer than {MAX_NAME} bytes"),
            ));
        }
        let s = std::str::from_utf8(self.take(n)?).map_err(|_| malformed())?;
        Ok(s.to_owned())
    }

    fn u32(&mut self) -> Result<usize> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
    }
}

/// The writes of one `keys.set` call. Every value is checked to be one well-formed codec value.
pub fn parse_set(frame: &[u8]) -> Result<Vec<KeyWrite>> {
    let mut c = Cursor { buf: frame, pos: 0 };
    let mut writes = Vec::new();
    while !c.done() {
        let kind = c.name("type")?;
        if kind.is_empty() {
            return Err(Error::invalid("type must be a non-empty string"));
        }
        let count = c.varint()?;
        for _ in 0..count {
            let id = c.name("id")?;
            let value = match c.byte()? {
                0 => None,
                1 => {
                    let len = c.u32()?;
                    Some(codec::to_stored(c.take(len)?).map_err(|e| {
                        Error::new(Code::Internal, format!("{kind} {id:?}: {}", e.message))
                    })?)
                }
                _ => return Err(malformed()),
            };
            writes.push(KeyWrite {
                kind: kind.clone(),
                id,
                value,
            });
        }
    }
    Ok(writes)
}

/// How many ids an ids frame says it holds, read from its head alone.
pub fn ids_count(frame: &[u8]) -> Result<usize> {
    Cursor { buf: frame, pos: 0 }.varint()
}

/// The ids of one `keys.get` call.
pub fn parse_ids(frame: &[u8]) -> Result<Vec<String>> {
    let mut c = Cursor { buf: frame, pos: 0 };
    let n = c.varint()?;
    if n > frame.len() {
        return Err(malformed());
    }
    let ids = (0..n).map(|_| c.name("id")).collect::<Result<Vec<_>>>()?;
    if !c.done() {
        return Err(malformed());
    }
    Ok(ids)
}

fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// An ids frame, as lib/codec.js writes it (for Rust callers and tests).
pub fn ids_frame<S: AsRef<str>>(ids: &[S]) -> Vec<u8> {
    let mut out = Vec::new();
    put_varint(&mut out, ids.len());
    for id in ids {
        put_varint(&mut out, id.as_ref().len());
        out.extend_from_slice(id.as_ref().as_bytes());
    }
    out
}

/// A stored value as JavaScript receives it: `[1][JSON]` or `[0][presented form]` (see
/// `codec::present`).
pub fn present(kind: &str, id: &str, stored: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let flag = out.len();
    out.push(1);
    let json = codec::present(stored, out).map_err(|e| {
        Error::corrupt(format!(
            "stored {kind} {id:?} does not decode ({}); the file was damaged or written by something else",
            e.message
        ))
    })?;
    if !json {
        out[flag] = 0;
    }
    Ok(())
}

/// An entries frame built entry by entry, each value checked and presented as it comes: a
/// backend can hand over the values of its rows without a copy of its own of each.
pub struct EntriesFrame<'k> {
    kind: &'k str,
    count: usize,
    /// Bytes kept at the start for the count: as many as the largest count expected takes,
    /// so that the entries need not move once it is known (unless it is far smaller).
    head: usize,
    out: Vec<u8>,
}

impl<'k> EntriesFrame<'k> {
    /// A frame of at most about `entries` `kind` values, with room for about `bytes` of
    /// stored values.
    pub fn new(kind: &'k str, entries: usize, bytes: usize) -> Self {
        let mut out = Vec::with_capacity(bytes * 4 / 3 + 16);
        put_varint(&mut out, entries);
        EntriesFrame {
            kind,
            count: 0,
            head: out.len(),
            out,
        }
    }

    /// Adds `id` and its stored value (empty when only ids were asked for).
    pub fn push(&mut self, id: &str, stored: &[u8]) -> Result<()> {
        let out = &mut self.out;
        put_varint(out, id.len());
        out.extend_from_slice(id.as_bytes());
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        if !stored.is_empty() {
            present(self.kind, id, stored, out)?;
        }
        let len = (out.len() - at - 4) as u32;
        out[at..at + 4].copy_from_slice(&len.to_le_bytes());
        self.count += 1;
        Ok(())
    }

    /// The frame: its count, then the entries.
    pub fn finish(self) -> Vec<u8> {
        let mut count = Vec::with_capacity(10);
        put_varint(&mut count, self.count);
        let mut out = self.out;
        if count.len() == self.head {
            out[..self.head].copy_from_slice(&count);
        } else {
            out.splice(..self.head, count);
        }
        out
    }
}

/// Entries as a reply frame, each value checked and presented.
pub fn entries_frame(kind: &str, entries: &[Entry]) -> Result<Vec<u8>> {
    let bytes = entries.iter().map(|(id, v)| id.len() + v.len() + 6).sum();
    let mut frame = EntriesFrame::new(kind, entries.len(), bytes);
    for (id, value) in entries {
        frame.push(id, value)?;
    }
    Ok(frame.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Value;

    fn name(out: &mut Vec<u8>, s: &str) {
        put_varint(out, s.len());
        out.extend_from_slice(s.as_bytes());
    }

    #[test]
    fn set_frames_parse() {
        let v = Value::Bytes(vec![1, 2, 3]).encode();
        let mut f = Vec::new();
        name(&mut f, "pre-key");
        put_varint(&mut f, 2);
        name(&mut f, "1");
        f.push(1);
        f.extend_from_slice(&(v.len() as u32).to_le_bytes());
        f.extend_from_slice(&v);
        name(&mut f, "2");
        f.push(0);
        let writes = parse_set(&f).unwrap();
        assert_eq!(writes.len(), 2);
        assert_eq!(writes[0].value.as_deref(), Some(&v[..]));
        assert_eq!(writes[1].value, None);
        // Any truncation is refused, never read past the end.
        for cut in 1..f.len() {
            assert!(parse_set(&f[..cut]).is_err(), "cut at {cut}");
        }
    }

    #[test]
    fn invalid_values_are_refused() {
        let mut f = Vec::new();
        name(&mut f, "t");
        put_varint(&mut f, 1);
        name(&mut f, "x");
        f.push(1);
        f.extend_from_slice(&2u32.to_le_bytes());
        f.extend_from_slice(&[codec::tag::ARRAY, 5]);
        assert!(parse_set(&f).is_err());
    }

    #[test]
    fn ids_and_entries_frames() {
        let f = ids_frame(&["a", "é/..:\0"]);
        assert_eq!(parse_ids(&f).unwrap(), ["a", "é/..:\0"]);
        assert!(parse_ids(&[5]).is_err());

        let entries = vec![("a".to_string(), Value::Null.encode())];
        let frame = entries_frame("t", &entries).unwrap();
        assert_eq!(frame, [1, 1, b'a', 5, 0, 0, 0, 1, b'n', b'u', b'l', b'l']);
        let entries = vec![("b".to_string(), Value::Undefined.encode())];
        let frame = entries_frame("t", &entries).unwrap();
        assert_eq!(frame, [1, 1, b'b', 2, 0, 0, 0, 0, codec::tag::UNDEFINED]);
        let bad = vec![("a".to_string(), vec![200])];
        assert_eq!(entries_frame("t", &bad).unwrap_err().code, Code::Corrupt);
    }

    #[test]
    fn an_entries_frame_holds_its_count_however_many_were_expected() {
        let entries: Vec<_> = (0..200)
            .map(|i| (i.to_string(), Value::Number(i as f64).encode()))
            .collect();
        for (expected, found) in [(200, 1), (1, 200), (200, 200), (0, 0)] {
            let mut frame = EntriesFrame::new("t", expected, 0);
            for (id, v) in &entries[..found] {
                frame.push(id, v).unwrap();
            }
            assert_eq!(
                frame.finish(),
                entries_frame("t", &entries[..found]).unwrap()
            );
        }
    }
}
