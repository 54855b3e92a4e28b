//! JavaScript values to codec bytes and back, straight through N-API (no JSON text, no
//! reviver): the only place that knows both the codec and the JS object model.

use std::ptr;

use napi::sys;

use crate::codec::{Reader, Token, Writer, MAX_DEPTH};
use crate::error::{Code, Error, Result};

/// Past this depth a value is checked for cycles (a cycle always gets this deep).
const CYCLE_CHECK_DEPTH: usize = 64;

type Env = sys::napi_env;
type Val = sys::napi_value;

/// Turns a failed N-API status into an error, taking (and clearing) any pending JS
/// exception so it cannot leak out of the call that caused it.
pub unsafe fn check(env: Env, status: sys::napi_status, what: &str) -> Result<()> {
    if status == sys::Status::napi_ok {
        return Ok(());
    }
    let mut pending = false;
    sys::napi_is_exception_pending(env, &mut pending);
    if pending {
        let mut exc = ptr::null_mut();
        sys::napi_get_and_clear_last_exception(env, &mut exc);
        let msg = string_of(env, exc).unwrap_or_else(|| "an exception".into());
        return Err(Error::new(
            Code::UnsupportedValue,
            format!("{what} threw: {msg}"),
        ));
    }
    Err(Error::new(
        Code::Internal,
        format!("{what} failed (N-API status {status})"),
    ))
}

macro_rules! napi_call {
    ($env:expr, $what:expr, $f:ident ( $($arg:expr),* )) => {
        check($env, sys::$f($($arg),*), $what)?
    };
}

pub unsafe fn type_of(env: Env, v: Val) -> Result<sys::napi_valuetype> {
    let mut t = 0;
    napi_call!(env, "typeof", napi_typeof(env, v, &mut t));
    Ok(t)
}

/// `String(value)` of an exception or any value, for messages only.
unsafe fn string_of(env: Env, v: Val) -> Option<String> {
    let mut s = ptr::null_mut();
    if sys::napi_coerce_to_string(env, v, &mut s) != sys::Status::napi_ok {
        let mut exc = ptr::null_mut();
        sys::napi_get_and_clear_last_exception(env, &mut exc);
        return None;
    }
    read_utf8(env, s).ok()
}

/// Reads a JS string as UTF-8. Lone surrogates come out as U+FFFD: see [`read_string`].
pub unsafe fn read_utf8(env: Env, v: Val) -> Result<String> {
    let mut len = 0usize;
    napi_call!(
        env,
        "reading a string",
        napi_get_value_string_utf8(env, v, ptr::null_mut(), 0, &mut len)
    );
    let mut buf = vec![0u8; len + 1];
    let mut written = 0usize;
    napi_call!(
        env,
        "reading a string",
        napi_get_value_string_utf8(env, v, buf.as_mut_ptr().cast(), len + 1, &mut written)
    );
    buf.truncate(written);
    // N-API wrote valid UTF-8 (it replaces lone surrogates).
    Ok(String::from_utf8(buf)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

unsafe fn read_utf16(env: Env, v: Val) -> Result<Vec<u16>> {
    let mut len = 0usize;
    napi_call!(
        env,
        "reading a string",
        napi_get_value_string_utf16(env, v, ptr::null_mut(), 0, &mut len)
    );
    let mut buf = vec![0u16; len + 1];
    let mut written = 0usize;
    napi_call!(
        env,
        "reading a string",
        napi_get_value_string_utf16(env, v, buf.as_mut_ptr(), len + 1, &mut written)
    );
    buf.truncate(written);
    Ok(buf)
}

/// A JS string exactly: `Err(units)` when it holds a lone surrogate, which UTF-8 cannot
/// carry. U+FFFD in the UTF-8 form is the only sign of one, so the rare check is cheap.
unsafe fn read_string(env: Env, v: Val) -> Result<std::result::Result<String, Vec<u16>>> {
    let s = read_utf8(env, v)?;
    if s.contains('\u{FFFD}') {
        let units = read_utf16(env, v)?;
        if char::decode_utf16(units.iter().copied()).any(|c| c.is_err()) {
            return Ok(Err(units));
        }
    }
    Ok(Ok(s))
}

/// A string argument, or `None` if the value is not a string.
pub unsafe fn string_arg(env: Env, v: Val) -> Result<Option<String>> {
    if type_of(env, v)? != sys::ValueType::napi_string {
        return Ok(None);
    }
    match read_string(env, v)? {
        Ok(s) => Ok(Some(s)),
        Err(_) => Err(Error::invalid(
            "strings used as types or ids must be valid Unicode (no lone surrogates)",
        )),
    }
}

/// The own enumerable string keys of an object, numbers as strings (like `Object.keys`).
pub unsafe fn own_keys(env: Env, obj: Val) -> Result<(Val, u32)> {
    let mut keys = ptr::null_mut();
    napi_call!(
        env,
        "listing keys",
        napi_get_all_property_names(
            env,
            obj,
            sys::KeyCollectionMode::own_only,
            sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
            sys::KeyConversion::numbers_to_strings,
            &mut keys
        )
    );
    Ok((keys, array_len(env, keys)?))
}

pub unsafe fn array_len(env: Env, arr: Val) -> Result<u32> {
    let mut n = 0u32;
    napi_call!(
        env,
        "reading an array length",
        napi_get_array_length(env, arr, &mut n)
    );
    Ok(n)
}

pub unsafe fn element(env: Env, arr: Val, i: u32) -> Result<Val> {
    let mut v = ptr::null_mut();
    napi_call!(
        env,
        "reading an array item",
        napi_get_element(env, arr, i, &mut v)
    );
    Ok(v)
}

pub unsafe fn property(env: Env, obj: Val, key: Val) -> Result<Val> {
    let mut v = ptr::null_mut();
    napi_call!(
        env,
        "reading a property",
        napi_get_property(env, obj, key, &mut v)
    );
    Ok(v)
}

pub unsafe fn is_array(env: Env, v: Val) -> Result<bool> {
    let mut b = false;
    napi_call!(env, "checking for an array", napi_is_array(env, v, &mut b));
    Ok(b)
}

/// Encodes JavaScript values; reuse one for many values to keep its buffer.
pub struct Encoder {
    env: Env,
    w: Writer,
    /// The objects being walked, outermost first, for cycle detection.
    path: Vec<Val>,
}

impl Encoder {
    pub fn new(env: Env) -> Self {
        Encoder {
            env,
            w: Writer::with_capacity(256),
            path: Vec::new(),
        }
    }

    /// Encodes one value and returns its bytes.
    pub unsafe fn encode(&mut self, v: Val) -> Result<Vec<u8>> {
        self.path.clear();
        let r = self.value(v);
        let bytes = self.w.take();
        r.map(|()| bytes)
    }

    unsafe fn value(&mut self, v: Val) -> Result<()> {
        let env = self.env;
        match type_of(env, v)? {
            sys::ValueType::napi_undefined => self.w.undefined(),
            sys::ValueType::napi_null => self.w.null(),
            sys::ValueType::napi_boolean => {
                let mut b = false;
                napi_call!(
                    env,
                    "reading a boolean",
                    napi_get_value_bool(env, v, &mut b)
                );
                self.w.bool(b);
            }
            sys::ValueType::napi_number => {
                let mut n = 0f64;
                napi_call!(
                    env,
                    "reading a number",
                    napi_get_value_double(env, v, &mut n)
                );
                self.w.number(n);
            }
            sys::ValueType::napi_string => match read_string(env, v)? {
                Ok(s) => self.w.string(&s),
                Err(units) => self.w.string16(&units),
            },
            sys::ValueType::napi_object => self.object(v)?,
            t => {
                let what = match t {
                    sys::ValueType::napi_function => "a function",
                    sys::ValueType::napi_symbol => "a symbol",
                    sys::ValueType::napi_bigint => "a BigInt",
                    _ => "a native external",
                };
                return Err(Error::new(
                    Code::UnsupportedValue,
                    format!("cannot store {what}: values must be JSON-like data, Buffers or Uint8Arrays"),
                ));
            }
        }
        Ok(())
    }

    unsafe fn enter(&mut self, v: Val) -> Result<()> {
        let depth = self.path.len();
        if depth >= CYCLE_CHECK_DEPTH {
            for &ancestor in &self.path {
                let mut same = false;
                sys::napi_strict_equals(self.env, ancestor, v, &mut same);
                if same {
                    return Err(Error::new(
                        Code::CircularValue,
                        "cannot store a value that refers to itself (circular reference)",
                    ));
                }
            }
        }
        if depth >= MAX_DEPTH {
            return Err(Error::new(
                Code::ValueTooDeep,
                format!("cannot store a value nested deeper than {MAX_DEPTH} levels"),
            ));
        }
        self.path.push(v);
        Ok(())
    }

    unsafe fn object(&mut self, v: Val) -> Result<()> {
        let env = self.env;
        let mut flag = false;
        napi_call!(
            env,
            "checking for a typed array",
            napi_is_typedarray(env, v, &mut flag)
        );
        if flag {
            let (mut kind, mut len, mut data) = (0, 0usize, ptr::null_mut());
            napi_call!(
                env,
                "reading a typed array",
                napi_get_typedarray_info(
                    env,
                    v,
                    &mut kind,
                    &mut len,
                    &mut data,
                    ptr::null_mut(),
                    ptr::null_mut()
                )
            );
            if kind != sys::TypedarrayType::uint8_array {
                return Err(Error::new(
                    Code::UnsupportedValue,
                    "cannot store a typed array other than Uint8Array or Buffer",
                ));
            }
            let bytes = if len == 0 {
                &[][..]
            } else {
                std::slice::from_raw_parts(data as *const u8, len)
            };
            self.w.bytes(bytes);
            return Ok(());
        }
        napi_call!(env, "checking for a date", napi_is_date(env, v, &mut flag));
        if flag {
            let mut ms = 0f64;
            napi_call!(env, "reading a date", napi_get_date_value(env, v, &mut ms));
            self.w.date(ms);
            return Ok(());
        }
        napi_call!(
            env,
            "checking for an ArrayBuffer",
            napi_is_arraybuffer(env, v, &mut flag)
        );
        let mut view = false;
        napi_call!(
            env,
            "checking for a DataView",
            napi_is_dataview(env, v, &mut view)
        );
        if flag || view {
            return Err(Error::new(
                Code::UnsupportedValue,
                "cannot store an ArrayBuffer or DataView: wrap it in a Buffer or Uint8Array",
            ));
        }
        self.enter(v)?;
        if is_array(env, v)? {
            let n = array_len(env, v)?;
            self.w.array(n as usize);
            for i in 0..n {
                self.value(element(env, v, i)?)?;
            }
        } else {
            let (keys, n) = own_keys(env, v)?;
            self.w.object(n as usize);
            for i in 0..n {
                let key = element(env, keys, i)?;
                match read_string(env, key)? {
                    Ok(k) => self.w.key(&k),
                    Err(_) => {
                        return Err(Error::new(
                            Code::UnsupportedValue,
                            "cannot store an object key that is not valid Unicode",
                        ))
                    }
                }
                self.value(property(env, v, key)?)?;
            }
        }
        self.path.pop();
        Ok(())
    }
}

/// Builds the JavaScript value stored in `bytes`; bytes come back as Buffers.
pub unsafe fn decode(env: Env, bytes: &[u8]) -> Result<Val> {
    let mut r = Reader::new(bytes);
    let v = build(env, &mut r, 0)?;
    r.finish()?;
    Ok(v)
}

pub unsafe fn js_string(env: Env, s: &str) -> Result<Val> {
    let mut v = ptr::null_mut();
    napi_call!(
        env,
        "creating a string",
        napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut v)
    );
    Ok(v)
}

pub unsafe fn js_buffer(env: Env, b: &[u8]) -> Result<Val> {
    let (mut v, mut data) = (ptr::null_mut(), ptr::null_mut());
    napi_call!(
        env,
        "creating a Buffer",
        napi_create_buffer_copy(env, b.len(), b.as_ptr().cast(), &mut data, &mut v)
    );
    Ok(v)
}

pub unsafe fn set_property(env: Env, obj: Val, key: Val, v: Val) -> Result<()> {
    napi_call!(
        env,
        "setting a property",
        napi_set_property(env, obj, key, v)
    );
    Ok(())
}

/// Defines an own data property: unlike assignment, `__proto__` does not set the prototype.
unsafe fn define_own(env: Env, obj: Val, key: Val, v: Val) -> Result<()> {
    let desc = sys::napi_property_descriptor {
        utf8name: ptr::null(),
        name: key,
        method: None,
        getter: None,
        setter: None,
        value: v,
        attributes: sys::PropertyAttributes::writable
            | sys::PropertyAttributes::enumerable
            | sys::PropertyAttributes::configurable,
        data: ptr::null_mut(),
    };
    napi_call!(
        env,
        "defining a property",
        napi_define_properties(env, obj, 1, &desc)
    );
    Ok(())
}

pub unsafe fn new_object(env: Env) -> Result<Val> {
    let mut v = ptr::null_mut();
    napi_call!(env, "creating an object", napi_create_object(env, &mut v));
    Ok(v)
}

pub unsafe fn new_array(env: Env, n: usize) -> Result<Val> {
    let mut v = ptr::null_mut();
    napi_call!(
        env,
        "creating an array",
        napi_create_array_with_length(env, n, &mut v)
    );
    Ok(v)
}

pub unsafe fn set_element(env: Env, arr: Val, i: u32, v: Val) -> Result<()> {
    napi_call!(
        env,
        "setting an array item",
        napi_set_element(env, arr, i, v)
    );
    Ok(())
}

pub unsafe fn undefined(env: Env) -> Val {
    let mut v = ptr::null_mut();
    sys::napi_get_undefined(env, &mut v);
    v
}

pub unsafe fn null(env: Env) -> Val {
    let mut v = ptr::null_mut();
    sys::napi_get_null(env, &mut v);
    v
}

unsafe fn build(env: Env, r: &mut Reader<'_>, depth: usize) -> Result<Val> {
    if depth > MAX_DEPTH {
        return Err(Error::corrupt("stored value is nested too deep"));
    }
    let mut v = ptr::null_mut();
    match r.token()? {
        Token::Undefined => return Ok(undefined(env)),
        Token::Null => return Ok(null(env)),
        Token::Bool(b) => napi_call!(env, "creating a boolean", napi_get_boolean(env, b, &mut v)),
        Token::Number(n) => {
            napi_call!(env, "creating a number", napi_create_double(env, n, &mut v))
        }
        Token::Str(s) => return js_string(env, s),
        Token::Str16(b) => {
            let units = crate::codec::utf16_units(b);
            napi_call!(
                env,
                "creating a string",
                napi_create_string_utf16(env, units.as_ptr(), units.len() as isize, &mut v)
            );
        }
        Token::Bytes(b) => return js_buffer(env, b),
        Token::Date(ms) => napi_call!(env, "creating a date", napi_create_date(env, ms, &mut v)),
        Token::Array(n) => {
            v = new_array(env, n)?;
            for i in 0..n {
                let item = build(env, r, depth + 1)?;
                set_element(env, v, i as u32, item)?;
            }
        }
        Token::Object(n) => {
            v = new_object(env)?;
            for _ in 0..n {
                let name = r.key()?;
                let key = js_string(env, name)?;
                let item = build(env, r, depth + 1)?;
                if name == "__proto__" {
                    define_own(env, v, key, item)?;
                } else {
                    set_property(env, v, key, item)?;
                }
            }
        }
    }
    Ok(v)
}
