//! Object shapes: the key lists of the objects Baileys and libsignal store again and again,
//! by which a value read is handed to JavaScript without its keys.
//!
//! The JavaScript decoder builds an object key by key from a stored value: each key is read,
//! looked up and stored through a generic path, and that was about half of its time on a
//! session. An object whose keys are, in order, exactly those of a shape listed here is
//! presented instead as tag 15 (`codec::tag::SHAPED`): the shape's index, then its values.
//! lib/codec.js builds it with one object literal per shape, made from this table
//! (`valueShapes()` in the binding), so keys cost it nothing and the engine gives every
//! such object the same hidden class.
//!
//! Shapes exist in the presented form only, never in the stored one: this table may change
//! from one release to the next without touching stored data. An object of any other keys
//! is presented as it is stored. A shape never holds `__proto__` or a key that reads as an
//! array index: an object literal would treat either differently from the key-by-key build.

use std::sync::OnceLock;

use crate::codec::{self, tag, Reader, Writer};
use crate::error::Result;

/// The shapes, by index. Appending is free; every index is only meaningful within one build.
pub const SHAPES: &[&[&str]] = &[
    // Baileys' key pairs: pre-keys, and the key pairs of creds.
    &["private", "public"],
    // libsignal's SessionRecord, and each of its sessions (SessionEntry.serialize()).
    &["_sessions", "version"],
    &["registrationId", "currentRatchet", "indexInfo", "_chains"],
    &[
        "registrationId",
        "currentRatchet",
        "indexInfo",
        "_chains",
        "pendingPreKey",
    ],
    &[
        "ephemeralKeyPair",
        "lastRemoteEphemeralKey",
        "previousCounter",
        "rootKey",
    ],
    &["pubKey", "privKey"],
    &[
        "baseKey",
        "baseKeyType",
        "closed",
        "used",
        "created",
        "remoteIdentityKey",
    ],
    &["chainKey", "chainType", "messageKeys"],
    &["counter", "key"],
    &["signedKeyId", "baseKey", "preKeyId"],
    &["signedKeyId", "baseKey"],
    // Creds' signed pre-key.
    &["keyPair", "signature", "keyId"],
    // App-state sync keys and versions, privacy tokens.
    &["keyData", "fingerprint", "timestamp"],
    &["rawId", "currentIndex", "deviceIndexes"],
    &["version", "hash", "indexValueMap"],
    &["valueMac"],
    &["token", "timestamp"],
    &["token", "timestamp", "senderTimestamp"],
];

/// Most keys a shape has.
const MAX_KEYS: usize = 8;

/// Each shape's keys as the stored form writes them, to compare with keys as they are read:
/// one that is canonical base64 text (`ephemeralKeyPair`) is stored as its bytes.
fn stored_keys() -> &'static [Vec<Vec<u8>>] {
    static KEYS: OnceLock<Vec<Vec<Vec<u8>>>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let stored = |k: &&str| {
            let mut w = Writer::new();
            w.stored_key(k.as_bytes()).expect("a shape's keys are text");
            w.into_bytes()
        };
        SHAPES
            .iter()
            .map(|keys| keys.iter().map(stored).collect())
            .collect()
    })
}

/// The index of the shape of `n` keys whose first key is stored as `first`, if any.
fn shape_of(n: usize, first: &[u8]) -> Option<usize> {
    // Objects keyed by ids (a session's chains) are larger than any shape.
    if n > MAX_KEYS {
        return None;
    }
    stored_keys()
        .iter()
        .position(|keys| keys.len() == n && keys[0] == first)
}

/// Appends the stored value `stored` to `out` in the presented form: as stored, but for
/// objects of a known shape. Checks the value as `codec::validate` does; a value refused
/// leaves `out` as it was.
pub fn present(stored: &[u8], out: &mut Vec<u8>) -> Result<()> {
    let start = out.len();
    let mut p = Presenter {
        stored,
        r: Reader::new(stored),
        out,
        from: 0,
    };
    let checked = p.value(0).and_then(|()| p.r.finish());
    if checked.is_err() {
        p.out.truncate(start);
        return checked;
    }
    p.copy_to(stored.len());
    Ok(())
}

/// Walks a stored value, checking it, and copies it to `out` in runs: only the keys of
/// shaped objects are left out, so a value without any is copied in one go.
struct Presenter<'a, 'o> {
    stored: &'a [u8],
    r: Reader<'a>,
    out: &'o mut Vec<u8>,
    /// Where the bytes read but not yet copied start.
    from: usize,
}

impl Presenter<'_, '_> {
    fn copy_to(&mut self, to: usize) {
        self.out.extend_from_slice(&self.stored[self.from..to]);
        self.from = to;
    }

    fn value(&mut self, depth: usize) -> Result<()> {
        let start = self.r.position();
        match self.r.peek() {
            // The stored form writes every object as tag 13; one of tag 9 goes as stored.
            Some(tag::STORED_OBJECT) if depth < codec::MAX_DEPTH => {
                self.r.advance(1);
                let n = self.r.len(2)?;
                self.object(start, n, depth)
            }
            Some(tag::ARRAY) if depth < codec::MAX_DEPTH => {
                self.r.advance(1);
                let n = self.r.len(1)?;
                (0..n).try_for_each(|_| self.value(depth + 1))
            }
            // Everything else (and what is nested too deep, which `skip` refuses) as stored.
            _ => self.r.skip(depth),
        }
    }

    /// The `n` entries of the object at `start`, its header read. Its size and first key say
    /// which shape it may have: its tag and count are then written as tag 15 and the shape's
    /// index, and each key left out as it proves to be the shape's. One that proves not to be
    /// is copied as stored from its start instead, values seen included (they were checked):
    /// each byte is walked once, whatever the data.
    fn object(&mut self, start: usize, n: usize, depth: usize) -> Result<()> {
        let mut shape = None;
        let mut undo = 0;
        for i in 0..n {
            let key_at = self.r.position();
            self.r.checked_key(true)?;
            let key = self.r.since(key_at);
            shape = match shape {
                None if i == 0 => shape_of(n, key).inspect(|&s| {
                    self.copy_to(start);
                    undo = self.out.len();
                    self.out.extend([tag::SHAPED, s as u8]);
                }),
                Some(s) if stored_keys()[s][i] == key => {
                    self.copy_to(key_at);
                    Some(s)
                }
                Some(_) => {
                    self.out.truncate(undo);
                    self.from = start;
                    None
                }
                None => None,
            };
            if shape.is_some() {
                self.from = self.r.position();
            }
            self.value(depth + 1)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{base64, present, to_stored, validate, Value};
    use crate::error::Code;

    fn obj(entries: &[(&str, Value)]) -> Value {
        Value::Object(
            entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        )
    }

    fn text(s: &str) -> Value {
        Value::String(s.to_owned())
    }

    /// The stored form a presented value came from: each shaped object written back as a
    /// stored-form object with its keys (they are text), everything else copied.
    fn unshape(presented: &[u8]) -> Vec<u8> {
        unshaped(presented).0
    }

    /// `unshape`, and how many shaped objects it met.
    fn unshaped(presented: &[u8]) -> (Vec<u8>, usize) {
        fn walk(r: &mut Reader<'_>, out: &mut Vec<u8>, shaped: &mut usize) {
            let start = r.position();
            match r.peek().unwrap() {
                tag::SHAPED => {
                    r.advance(1);
                    *shaped += 1;
                    // Indexes are one byte (see `shapes_are_safe_for_object_literals`).
                    let keys = &stored_keys()[r.peek().unwrap() as usize];
                    r.advance(1);
                    out.extend([tag::STORED_OBJECT, keys.len() as u8]);
                    for k in keys {
                        out.extend_from_slice(k);
                        walk(r, out, shaped);
                    }
                }
                t @ (tag::OBJECT | tag::STORED_OBJECT) => {
                    r.advance(1);
                    let n = r.len(2).unwrap();
                    out.extend_from_slice(r.since(start));
                    for _ in 0..n {
                        let at = r.position();
                        r.checked_key(t == tag::STORED_OBJECT).unwrap();
                        out.extend_from_slice(r.since(at));
                        walk(r, out, shaped);
                    }
                }
                tag::ARRAY => {
                    r.advance(1);
                    let n = r.len(1).unwrap();
                    out.extend_from_slice(r.since(start));
                    (0..n).for_each(|_| walk(r, out, shaped));
                }
                _ => {
                    r.skip(0).unwrap();
                    out.extend_from_slice(r.since(start));
                }
            }
        }
        let mut r = Reader::new(presented);
        let mut out = Vec::new();
        let mut shaped = 0;
        walk(&mut r, &mut out, &mut shaped);
        r.finish().unwrap();
        (out, shaped)
    }

    /// The presented form of `v` (as stored, not as JSON), checked to give the stored form
    /// back.
    fn presented(v: &Value) -> Vec<u8> {
        let stored = to_stored(&v.encode()).unwrap();
        let mut out = Vec::new();
        super::present(&stored, &mut out).unwrap();
        assert_eq!(unshape(&out), stored, "{v:?}");
        out
    }

    fn shaped_count(presented: &[u8]) -> usize {
        unshaped(presented).1
    }

    /// A session as libsignal serializes it: shapes nested in shapes and in objects keyed
    /// by ids, and a closed chain's key left undefined.
    fn session() -> Value {
        let id = |n: u8| base64::encode(&[n; 33]);
        let chain = |key: Value| {
            obj(&[
                (
                    "chainKey",
                    obj(&[("counter", Value::Number(3.0)), ("key", key)]),
                ),
                ("chainType", Value::Number(1.0)),
                (
                    "messageKeys",
                    Value::Object(vec![("4".into(), text(&id(9)))]),
                ),
            ])
        };
        let entry = obj(&[
            ("registrationId", Value::Number(7.0)),
            (
                "currentRatchet",
                obj(&[
                    (
                        "ephemeralKeyPair",
                        obj(&[
                            ("pubKey", text(&id(1))),
                            ("privKey", Value::Bytes(vec![2; 32])),
                        ]),
                    ),
                    ("lastRemoteEphemeralKey", text(&id(3))),
                    ("previousCounter", Value::Number(0.0)),
                    ("rootKey", text(&id(4))),
                ]),
            ),
            (
                "indexInfo",
                obj(&[
                    ("baseKey", text(&id(5))),
                    ("baseKeyType", Value::Number(1.0)),
                    ("closed", Value::Number(-1.0)),
                    ("used", Value::Number(1_700_000_000_000.0)),
                    ("created", Value::Number(1_700_000_000_000.0)),
                    ("remoteIdentityKey", text(&id(6))),
                ]),
            ),
            (
                "_chains",
                Value::Object(vec![
                    (id(7), chain(text(&id(8)))),
                    (id(10), chain(Value::Undefined)),
                ]),
            ),
        ]);
        obj(&[
            ("_sessions", Value::Object(vec![(id(5), entry)])),
            ("version", text("v1")),
        ])
    }

    #[test]
    fn objects_of_known_shapes_go_without_their_keys() {
        let out = presented(&session());
        // The record, its entry, the ratchet, its key pair, the index and two chains with
        // their chain keys.
        assert_eq!(shaped_count(&out), 9);
        assert_eq!(out[0], tag::SHAPED);
        assert_eq!(SHAPES[out[1] as usize], ["_sessions", "version"]);
        let keys = ["private", "public"];
        let pair = presented(&obj(&[
            (keys[0], Value::Bytes(vec![1; 32])),
            (keys[1], Value::Bytes(vec![2; 32])),
        ]));
        assert_eq!(pair.len(), 2 + 2 * 34);
    }

    #[test]
    fn other_objects_go_as_stored() {
        let b = || Value::Bytes(vec![1]);
        for v in [
            // Keys in another order, one more or one fewer, another last key.
            obj(&[("public", b()), ("private", b())]),
            obj(&[("private", b()), ("public", b()), ("extra", b())]),
            obj(&[("private", b())]),
            obj(&[("counter", b()), ("keys", b())]),
            // A first key stored as base64 bytes.
            Value::Object(vec![
                (base64::encode(&[1; 18]), b()),
                ("public".into(), b()),
            ]),
            Value::Object(vec![]),
            // Not a shape after its first key: the shaped object in its first value goes
            // as stored with it.
            obj(&[("private", obj(&[("valueMac", b())])), ("extra", b())]),
        ] {
            let stored = to_stored(&v.encode()).unwrap();
            assert_eq!(presented(&v), stored, "{v:?}");
        }
        // An unshaped object inside a shaped one, and the other way round.
        let inner = obj(&[("private", b()), ("other", b())]);
        let out = presented(&obj(&[("private", inner.clone()), ("public", b())]));
        assert_eq!(shaped_count(&out), 1);
        let out = presented(&obj(&[("a", obj(&[("valueMac", b())])), ("b", inner)]));
        assert_eq!(shaped_count(&out), 1);
    }

    #[test]
    fn damaged_values_are_refused_as_validate_refuses_them() {
        let stored = to_stored(&session().encode()).unwrap();
        for end in 0..stored.len() {
            let cut = &stored[..end];
            let mut out = b"head".to_vec();
            let err = present(cut, &mut out).unwrap_err();
            assert_eq!(err.code, Code::Corrupt);
            assert_eq!(validate(cut).unwrap_err().code, Code::Corrupt);
            assert_eq!(out, b"head", "nothing is left of a value refused");
        }
        // A key that is not UTF-8, inside an object that would be shaped.
        let mut bad =
            to_stored(&obj(&[("private", Value::Null), ("public", Value::Null)]).encode()).unwrap();
        let at = bad.iter().position(|&b| b == b'u').unwrap();
        bad[at] = 0xff;
        assert!(validate(&bad).is_err());
        assert!(present(&bad, &mut Vec::new()).is_err());
    }

    #[test]
    fn nesting_is_bounded_as_validate_bounds_it() {
        for depth in [codec::MAX_DEPTH, codec::MAX_DEPTH + 1] {
            let mut v = obj(&[("valueMac", Value::Null)]);
            for _ in 0..depth {
                v = Value::Array(vec![v]);
            }
            let stored = to_stored(&v.encode());
            let Ok(stored) = stored else { continue };
            let mut out = Vec::new();
            assert_eq!(
                present(&stored, &mut out).is_ok(),
                validate(&stored).is_ok(),
                "depth {depth}"
            );
        }
    }

    #[test]
    fn shapes_are_safe_for_object_literals() {
        assert!(SHAPES.len() < 0x80, "an index is one byte");
        for keys in SHAPES {
            assert!(!keys.is_empty() && keys.len() <= MAX_KEYS);
            for k in *keys {
                assert_ne!(*k, "__proto__");
                assert!(k.parse::<u32>().is_err(), "{k} reads as an array index");
            }
            let distinct: std::collections::HashSet<_> = keys.iter().collect();
            assert_eq!(distinct.len(), keys.len());
        }
        let firsts: std::collections::HashSet<_> = SHAPES.iter().map(|k| (k.len(), k[0])).collect();
        assert_eq!(
            firsts.len(),
            SHAPES.len(),
            "a shape is found by its size and first key"
        );
    }
}
