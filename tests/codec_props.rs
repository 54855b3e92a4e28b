//! Property tests of the value codec, through its public API only.
//!
//! Arbitrary value trees (every tag, NaN, -0, lone surrogates, base64-looking text, deep and
//! wide nesting) must survive every path a value takes: wire form -> stored form -> presented
//! form (JSON text, or the stored form with objects of known shapes written without their
//! keys). Damaged input (truncated, bit-flipped, random) must never
//! panic and must be refused as `Corrupt`.
//!
//! 256 cases per property by default; `BRA_HEAVY=1 cargo test --test codec_props` runs 20,000.
//! A failure prints the smallest input that still fails.

use baileys_rust_auth::codec::{
    self, base64, to_stored, validate, Reader, Token, Value, Writer, MAX_DEPTH,
};
use baileys_rust_auth::error::{Code, Result};
use baileys_rust_auth::shapes::SHAPES;
use baileys_rust_auth::wire;
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::test_runner::Config;

fn config() -> Config {
    let heavy = std::env::var("BRA_HEAVY").is_ok_and(|v| v == "1");
    Config {
        cases: if heavy { 20_000 } else { 256 },
        failure_persistence: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------------------
// Strategies

fn number() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        (-(1i64 << 53)..=(1i64 << 53)).prop_map(|i| i as f64),
        any::<i32>().prop_map(f64::from),
        prop_oneof![
            Just(0.0),
            Just(-0.0),
            Just(f64::NAN),
            Just(f64::INFINITY),
            Just(f64::NEG_INFINITY),
            Just(9_007_199_254_740_992.0),
            Just(-9_007_199_254_740_992.0),
            Just(9_007_199_254_740_994.0),
            Just(1e21),
            Just(1.5e-7),
            Just(0.1),
            Just(f64::MAX),
            Just(f64::MIN),
            Just(f64::MIN_POSITIVE),
            Just(5e-324),
        ],
    ]
}

/// Text that is canonical base64, almost canonical, or anything else.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ -~]{0,24}",
        "[\\x00-\\x1f\"\\\\/\u{7f}\u{2028}\u{2029}é日🎉]{0,12}",
        vec(any::<u8>(), 0..48).prop_map(|b| base64::encode(&b)),
        // Canonical base64 with one character replaced: mostly not canonical any more.
        (
            vec(any::<u8>(), 1..48),
            any::<prop::sample::Index>(),
            "[A-Za-z0-9+/=]"
        )
            .prop_map(|(b, at, c)| {
                let mut s = base64::encode(&b).into_bytes();
                let i = at.index(s.len());
                s[i] = c.as_bytes()[0];
                String::from_utf8(s).expect("ascii")
            }),
        "[A-Za-z0-9+/=]{0,24}",
        Just("__proto__".to_string()),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Undefined),
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number().prop_map(Value::Number),
        text().prop_map(Value::String),
        vec(any::<u16>(), 0..12).prop_map(Value::String16),
        // Lone surrogates, as JavaScript strings may hold them.
        (any::<String>(), 0xd800u16..0xe000).prop_map(|(s, lone)| {
            let mut units: Vec<u16> = s.encode_utf16().collect();
            units.push(lone);
            Value::String16(units)
        }),
        vec(any::<u8>(), 0..80).prop_map(Value::Bytes),
        number().prop_map(Value::Date),
    ]
}

/// An object as JavaScript has them: each key once.
fn object(entries: Vec<(String, Value)>) -> Value {
    let mut seen = std::collections::HashSet::new();
    Value::Object(
        entries
            .into_iter()
            .filter(|(k, _)| seen.insert(k.clone()))
            .collect(),
    )
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(8, 128, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..8).prop_map(Value::Array),
            vec((text(), inner.clone()), 0..8).prop_map(object),
            // The keys of a known shape, or the first of them.
            (prop::sample::select(SHAPES), 1..9usize, vec(inner, 8)).prop_map(
                |(keys, take, values)| {
                    object(
                        keys.iter()
                            .take(take)
                            .map(|k| k.to_string())
                            .zip(values)
                            .collect(),
                    )
                }
            ),
        ]
    })
}

/// Objects anywhere in `v` whose keys are, in order, those of a known shape.
fn shaped(v: &Value) -> usize {
    match v {
        Value::Array(items) => items.iter().map(shaped).sum(),
        Value::Object(entries) => {
            let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
            usize::from(SHAPES.contains(&keys.as_slice()))
                + entries.iter().map(|(_, v)| shaped(v)).sum::<usize>()
        }
        _ => 0,
    }
}

/// A value as JSON holds it: no bytes, undefined, dates, lone surrogates, NaN, infinities, -0.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number()
            .prop_filter("JSON number", |n| n.is_finite() && !is_neg_zero(*n))
            .prop_map(Value::Number),
        text().prop_map(Value::String),
    ];
    leaf.prop_recursive(8, 128, 8, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..8).prop_map(Value::Array),
            vec(
                (
                    text().prop_filter("not an id", |k| !is_base64_text(k)),
                    inner
                ),
                0..8
            )
            .prop_map(object),
        ]
    })
}

/// Bytes that look like encoded values more often than uniform noise would.
fn garbage() -> impl Strategy<Value = Vec<u8>> {
    vec(
        prop_oneof![3 => 0u8..=13, 1 => any::<u8>(), 1 => Just(0x80u8), 1 => Just(0xffu8)],
        0..64,
    )
}

// ---------------------------------------------------------------------------------------
// Helpers

fn is_neg_zero(n: f64) -> bool {
    n == 0.0 && n.is_sign_negative()
}

/// How the codec must present a value, by its documented rules.
#[derive(Debug, PartialEq)]
enum Form {
    /// Nothing JSON cannot say.
    Json,
    /// Bytes, dates, lone surrogates, NaN, infinities, -0, `undefined` anywhere, or an
    /// object key that is an id (canonical base64, kept as bytes): handed over as stored.
    Stored,
}

fn form(v: &Value) -> Form {
    fn not_json(v: &Value) -> bool {
        match v {
            Value::Null | Value::Bool(_) | Value::String(_) => false,
            Value::Number(n) => !n.is_finite() || is_neg_zero(*n),
            Value::Undefined | Value::String16(_) | Value::Bytes(_) | Value::Date(_) => true,
            Value::Array(items) => items.iter().any(not_json),
            Value::Object(entries) => entries
                .iter()
                .any(|(k, v)| is_base64_text(k) || not_json(v)),
        }
    }
    if not_json(v) {
        Form::Stored
    } else {
        Form::Json
    }
}

/// Object keys of 64 bytes or more, anywhere in `v`.
fn long_keys(v: &Value) -> usize {
    match v {
        Value::Array(items) => items.iter().map(long_keys).sum(),
        Value::Object(entries) => entries
            .iter()
            .map(|(k, v)| usize::from(k.len() >= 64) + long_keys(v))
            .sum(),
        _ => 0,
    }
}

/// Text the stored form keeps as bytes: canonical base64 of 16 characters or more.
fn is_base64_text(s: &str) -> bool {
    s.len() >= 16 && base64::decode_canonical(s).is_some()
}

/// Whether `v` holds such text, as a string or as an object key.
fn contains_base64_text(v: &Value) -> bool {
    match v {
        Value::String(s) => is_base64_text(s),
        Value::Array(items) => items.iter().any(contains_base64_text),
        Value::Object(entries) => entries
            .iter()
            .any(|(k, v)| is_base64_text(k) || contains_base64_text(v)),
        _ => false,
    }
}

/// Values are equal when their encodings are: the encoding is canonical (one form per
/// value) and keeps every bit of a float, so NaN and -0 compare as they should.
fn same(a: &Value, b: &Value) -> bool {
    a.encode() == b.encode()
}

/// What `codec::present` appends after what a buffer already holds: JSON text, or the
/// stored form with objects of known shapes rewritten; either way the buffer's earlier bytes
/// stay, and a value refused leaves nothing behind.
fn present(stored: &[u8]) -> Result<Presented> {
    let head = b"earlier entries";
    let mut out = head.to_vec();
    let json = codec::present(stored, &mut out);
    assert_eq!(&out[..head.len()], head);
    if json.is_err() {
        assert_eq!(out.len(), head.len(), "nothing left behind");
    }
    let bytes = out[head.len()..].to_vec();
    Ok(if json? {
        Presented::Json(bytes)
    } else {
        Presented::Stored(bytes)
    })
}

#[derive(Debug)]
enum Presented {
    Json(Vec<u8>),
    Stored(Vec<u8>),
}

fn assert_corrupt<T: std::fmt::Debug>(r: baileys_rust_auth::error::Result<T>, what: &str) {
    match r {
        Err(e) => assert_eq!(e.code, Code::Corrupt, "{what}: {}", e.message),
        Ok(v) => panic!("{what}: accepted damaged input as {v:?}"),
    }
}

/// A strict JSON (RFC 8259) reader, enough to check the presented text: it refuses raw
/// control characters, bad escapes, lone surrogate escapes and numbers JSON does not allow.
struct Json<'a> {
    s: &'a [u8],
    i: usize,
}

impl Json<'_> {
    fn parse(text: &[u8]) -> Option<Value> {
        let mut p = Json { s: text, i: 0 };
        let v = p.value(0)?;
        p.ws();
        (p.i == p.s.len()).then_some(v)
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn eat(&mut self, lit: &[u8]) -> Option<()> {
        self.s[self.i..]
            .starts_with(lit)
            .then(|| self.i += lit.len())
    }

    fn value(&mut self, depth: usize) -> Option<Value> {
        if depth > 1000 {
            return None;
        }
        self.ws();
        Some(match self.peek()? {
            b'n' => self.eat(b"null").map(|()| Value::Null)?,
            b't' => self.eat(b"true").map(|()| Value::Bool(true))?,
            b'f' => self.eat(b"false").map(|()| Value::Bool(false))?,
            b'"' => Value::String(self.string()?),
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek()? == b']' {
                    self.i += 1;
                } else {
                    loop {
                        items.push(self.value(depth + 1)?);
                        self.ws();
                        match self.peek()? {
                            b',' => self.i += 1,
                            b']' => {
                                self.i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                Value::Array(items)
            }
            b'{' => {
                self.i += 1;
                let mut entries = Vec::new();
                self.ws();
                if self.peek()? == b'}' {
                    self.i += 1;
                } else {
                    loop {
                        self.ws();
                        let k = self.string()?;
                        self.ws();
                        self.eat(b":")?;
                        entries.push((k, self.value(depth + 1)?));
                        self.ws();
                        match self.peek()? {
                            b',' => self.i += 1,
                            b'}' => {
                                self.i += 1;
                                break;
                            }
                            _ => return None,
                        }
                    }
                }
                Value::Object(entries)
            }
            _ => Value::Number(self.number()?),
        })
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    fn number(&mut self) -> Option<f64> {
        let start = self.i;
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        let int_start = self.i;
        let n = self.digits();
        if n == 0 || (n > 1 && self.s[int_start] == b'0') {
            return None;
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return None;
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return None;
            }
        }
        std::str::from_utf8(&self.s[start..self.i])
            .ok()?
            .parse()
            .ok()
    }

    fn hex4(&mut self) -> Option<u32> {
        let h = self.s.get(self.i..self.i + 4)?;
        self.i += 4;
        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    }

    fn string(&mut self) -> Option<String> {
        self.eat(b"\"")?;
        let mut out = Vec::new();
        loop {
            let b = self.peek()?;
            self.i += 1;
            match b {
                b'"' => return String::from_utf8(out).ok(),
                0..=0x1f => return None,
                b'\\' => {
                    let e = self.peek()?;
                    self.i += 1;
                    let c = match e {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let hi = self.hex4()?;
                            let cp = if (0xd800..0xdc00).contains(&hi) {
                                self.eat(b"\\u")?;
                                let lo = self.hex4()?;
                                if !(0xdc00..0xe000).contains(&lo) {
                                    return None;
                                }
                                0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00)
                            } else {
                                hi
                            };
                            char::from_u32(cp)?
                        }
                        _ => return None,
                    };
                    let mut buf = [0; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
                _ => out.push(b),
            }
        }
    }
}

/// A chain of `depth` nested arrays around a null.
fn nested(depth: usize) -> Vec<u8> {
    let mut w = Writer::new();
    for _ in 0..depth {
        w.array(1);
    }
    w.null();
    w.into_bytes()
}

// ---------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(config())]

    /// Wire form: encode, validate, decode gives the same value back.
    #[test]
    fn wire_form_round_trips(v in value()) {
        let bytes = v.encode();
        prop_assert!(validate(&bytes).is_ok());
        let back = Value::decode(&bytes).expect("decodes");
        prop_assert!(same(&back, &v), "{v:?} came back as {back:?}");
    }

    /// The token reader walks exactly the bytes of one value, and `skip` agrees with it.
    #[test]
    fn reader_consumes_exactly_one_value(v in value(), tail in vec(any::<u8>(), 0..8)) {
        let mut bytes = v.encode();
        let len = bytes.len();
        bytes.extend_from_slice(&tail);
        let mut r = Reader::new(&bytes);
        r.skip(0).expect("skips one value");
        prop_assert_eq!(r.remaining(), tail.len());
        prop_assert_eq!(r.finish().is_ok(), tail.is_empty());
        if !tail.is_empty() {
            assert_corrupt(Value::decode(&bytes), "trailing bytes");
            assert_corrupt(validate(&bytes), "trailing bytes");
        }
        prop_assert!(Value::decode(&bytes[..len]).is_ok());
    }

    /// Stored form: checked, no larger (but for a byte per object key of 64 bytes or more,
    /// whose length carries a flag), smaller when base64 text was compacted, and decoding to
    /// the very same value (base64 text comes back as the same text).
    #[test]
    fn stored_form_round_trips(v in value()) {
        let wire = v.encode();
        let stored = to_stored(&wire).expect("a valid wire value is accepted");
        prop_assert!(validate(&stored).is_ok());
        let slack = long_keys(&v);
        prop_assert!(stored.len() <= wire.len() + slack, "stored {} > wire {} + {slack}", stored.len(), wire.len());
        if contains_base64_text(&v) && slack == 0 {
            prop_assert!(stored.len() < wire.len(), "base64 text was not compacted");
        }
        let back = Value::decode(&stored).expect("stored form decodes");
        prop_assert!(same(&back, &v), "{v:?} came back as {back:?}");
    }

    /// Presented form: JSON exactly when JSON can say the value, and then the text parses
    /// (strictly) to the same value; otherwise the stored form, which decodes to it, written
    /// as it is but for objects of known shapes (src/shapes.rs tests their rewriting).
    #[test]
    fn presented_form_is_exact(v in value()) {
        let wire = v.encode();
        let stored = to_stored(&wire).expect("accepted");
        let presented = present(&stored).expect("presents");
        let want = form(&v);
        match presented {
            Presented::Json(text) => {
                prop_assert_eq!(want, Form::Json, "JSON for {:?}", v);
                let parsed = Json::parse(&text);
                prop_assert!(parsed.is_some(), "not strict JSON: {}", String::from_utf8_lossy(&text));
                let parsed = parsed.expect("checked");
                prop_assert!(same(&parsed, &v), "JSON {} reads as {parsed:?}, not {v:?}", String::from_utf8_lossy(&text));
            }
            Presented::Stored(bytes) => {
                prop_assert_eq!(want, Form::Stored, "stored form for {:?}", v);
                let back = Value::decode(&stored).expect("stored form decodes");
                prop_assert_eq!(back.encode(), wire);
                if shaped(&v) == 0 {
                    prop_assert_eq!(bytes, stored);
                } else {
                    prop_assert!(bytes.len() < stored.len(), "shapes written with their keys");
                }
            }
        }
    }

    /// Every JSON-shaped value is presented as plain JSON (the fast path is really taken).
    #[test]
    fn json_values_present_as_json(v in json_value()) {
        let stored = to_stored(&v.encode()).expect("accepted");
        match present(&stored).expect("presents") {
            Presented::Json(text) => {
                let parsed = Json::parse(&text).expect("strict JSON");
                prop_assert!(same(&parsed, &v));
            }
            Presented::Stored(_) => prop_assert!(false, "stored form for {v:?}"),
        }
    }

    /// Canonical base64 is recognised, and only text that re-encodes to itself is.
    #[test]
    fn base64_detection_is_exact(bytes in vec(any::<u8>(), 0..96), s in text()) {
        let encoded = base64::encode(&bytes);
        prop_assert_eq!(encoded.len(), bytes.len().div_ceil(3) * 4);
        let back = base64::decode_canonical(&encoded);
        if bytes.is_empty() {
            prop_assert_eq!(back, None);
        } else {
            prop_assert_eq!(back.as_deref(), Some(&bytes[..]));
        }
        if let Some(decoded) = base64::decode_canonical(&s) {
            prop_assert_eq!(base64::encode(&decoded), s);
        }
    }

    /// Random bytes never panic any reader: they are refused as Corrupt, or accepted
    /// consistently by all of them.
    #[test]
    fn garbage_is_refused_not_trusted(bytes in garbage()) {
        let decoded = Value::decode(&bytes);
        match &decoded {
            Ok(v) => {
                prop_assert!(validate(&bytes).is_ok());
                // A non-canonical but well-formed encoding re-encodes canonically.
                let stored = to_stored(&bytes).expect("valid value is accepted");
                prop_assert!(same(&Value::decode(&stored).expect("decodes"), v));
                prop_assert!(present(&bytes).is_ok());
            }
            Err(e) => {
                prop_assert_eq!(e.code, Code::Corrupt);
                assert_corrupt(validate(&bytes), "validate");
                assert_corrupt(to_stored(&bytes), "to_stored");
                assert_corrupt(present(&bytes), "present");
            }
        }
    }

    /// Every strict prefix of a value, wire or stored, is Corrupt.
    #[test]
    fn truncation_is_corrupt(v in value(), cut in any::<prop::sample::Index>()) {
        let wire = v.encode();
        let stored = to_stored(&wire).expect("accepted");
        for bytes in [&wire, &stored] {
            let at = cut.index(bytes.len());
            let prefix = &bytes[..at];
            assert_corrupt(Value::decode(prefix), "decode of a prefix");
            assert_corrupt(validate(prefix), "validate of a prefix");
            assert_corrupt(to_stored(prefix), "to_stored of a prefix");
            assert_corrupt(present(prefix), "present of a prefix");
        }
    }

    /// One damaged byte never panics: the value is refused as Corrupt or read as some
    /// well-formed value.
    #[test]
    fn damaged_bytes_never_panic(v in value(), at in any::<prop::sample::Index>(), flip in 1u8..=255) {
        let stored = to_stored(&v.encode()).expect("accepted");
        let mut bytes = stored.clone();
        let i = at.index(bytes.len());
        bytes[i] ^= flip;
        match Value::decode(&bytes) {
            Ok(_) => {
                prop_assert!(validate(&bytes).is_ok());
                prop_assert!(present(&bytes).is_ok());
            }
            Err(e) => {
                prop_assert_eq!(e.code, Code::Corrupt);
                assert_corrupt(present(&bytes), "present of damaged bytes");
            }
        }
    }

    /// Nesting is accepted up to MAX_DEPTH and refused (not overflowed) beyond.
    #[test]
    fn depth_limit_holds(depth in 0usize..MAX_DEPTH + 64) {
        let bytes = nested(depth);
        let ok = depth <= MAX_DEPTH;
        prop_assert_eq!(Value::decode(&bytes).is_ok(), ok);
        prop_assert_eq!(validate(&bytes).is_ok(), ok);
        prop_assert_eq!(to_stored(&bytes).is_ok(), ok);
        prop_assert_eq!(present(&bytes).is_ok(), ok);
        if !ok {
            assert_corrupt(Value::decode(&bytes), "too deep");
            assert_corrupt(present(&bytes), "too deep");
        }
    }

    /// Set frames carry any ids and values to their stored form; damaged frames are
    /// refused without panicking.
    #[test]
    fn set_frames_round_trip(
        puts in vec(("[a-z-]{1,12}", "\\PC{0,16}", proptest::option::of(value())), 0..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut frame = Vec::new();
        let name = |out: &mut Vec<u8>, s: &str| {
            let mut w = Writer::new();
            w.key(s);
            out.extend_from_slice(w.as_bytes());
        };
        for (kind, id, v) in &puts {
            name(&mut frame, kind);
            frame.push(1); // one id
            name(&mut frame, id);
            match v {
                None => frame.push(0),
                Some(v) => {
                    let bytes = v.encode();
                    frame.push(1);
                    frame.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                    frame.extend_from_slice(&bytes);
                }
            }
        }
        let writes = wire::parse_set(&frame).expect("a well-formed frame parses");
        prop_assert_eq!(writes.len(), puts.len());
        for (w, (kind, id, v)) in writes.iter().zip(&puts) {
            prop_assert_eq!(&w.kind, kind);
            prop_assert_eq!(&w.id, id);
            let want = v.as_ref().map(|v| to_stored(&v.encode()).expect("accepted"));
            prop_assert_eq!(&w.value, &want);
        }
        if !frame.is_empty() {
            let at = cut.index(frame.len());
            if at > 0 {
                // A cut inside a name, count or value is refused; a cut between whole
                // types may parse, but only as the types before it.
                if let Ok(prefix) = wire::parse_set(&frame[..at]) {
                    prop_assert!(prefix.len() < puts.len());
                }
            }
        }
    }

    /// Id frames carry any Unicode ids exactly.
    #[test]
    fn ids_frames_round_trip(ids in vec("\\PC{0,24}", 0..16)) {
        let frame = wire::ids_frame(&ids);
        prop_assert_eq!(wire::parse_ids(&frame).expect("parses"), ids);
    }

    /// Random frames never panic the frame parsers.
    #[test]
    fn garbage_frames_never_panic(bytes in garbage()) {
        let _ = wire::parse_set(&bytes);
        let _ = wire::parse_ids(&bytes);
    }
}

/// Tokens of one object, read one by one, match what was written.
#[test]
fn tokens_follow_the_writer() {
    let mut w = Writer::new();
    w.object(2);
    w.key("a");
    w.bytes(&[1, 2, 3]);
    w.key("b");
    w.string16(&[0xd800]);
    let bytes = w.into_bytes();
    let mut r = Reader::new(&bytes);
    assert_eq!(r.token().unwrap(), Token::Object(2));
    assert_eq!(r.key().unwrap(), "a");
    assert_eq!(r.token().unwrap(), Token::Bytes(&[1, 2, 3]));
    assert_eq!(r.key().unwrap(), "b");
    assert_eq!(r.token().unwrap(), Token::Str16(&[0x00, 0xd8]));
    r.finish().unwrap();
}
