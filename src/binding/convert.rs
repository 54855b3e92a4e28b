//! The few N-API value helpers the binding needs. Values themselves cross as bytes (see
//! lib/codec.js and src/wire.rs): one Buffer per call, never one N-API call per property.

use std::ptr;

use napi::sys;

use crate::error::{Code, Error, Result};

type Env = sys::napi_env;
type Val = sys::napi_value;

/// Turns a failed N-API status into an error, clearing any pending exception.
pub unsafe fn check(env: Env, status: sys::napi_status, what: &str) -> Result<()> {
    if status == sys::Status::napi_ok {
        return Ok(());
    }
    let mut exc = ptr::null_mut();
    sys::napi_get_and_clear_last_exception(env, &mut exc);
    Err(Error::new(
        Code::Internal,
        format!("{what} failed (N-API status {status})"),
    ))
}

pub unsafe fn js_string(env: Env, s: &str) -> Result<Val> {
    let mut v = ptr::null_mut();
    let status = sys::napi_create_string_utf8(env, s.as_ptr().cast(), s.len() as isize, &mut v);
    check(env, status, "creating a string")?;
    Ok(v)
}

/// A Buffer holding `bytes`: small ones are copied into a Buffer the engine allocates (an
/// external Buffer costs a finalizer and more GC work than a copy), large ones handed over.
pub unsafe fn js_buffer(env: Env, bytes: Vec<u8>) -> Result<Val> {
    if bytes.len() > 64 * 1024 {
        return napi::bindgen_prelude::ToNapiValue::to_napi_value(
            env,
            napi::bindgen_prelude::Buffer::from(bytes),
        )
        .map_err(|e| Error::new(Code::Internal, format!("creating a Buffer: {e}")));
    }
    let (mut v, mut data) = (ptr::null_mut(), ptr::null_mut());
    let status =
        sys::napi_create_buffer_copy(env, bytes.len(), bytes.as_ptr().cast(), &mut data, &mut v);
    check(env, status, "creating a Buffer")?;
    Ok(v)
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

pub unsafe fn boolean(env: Env, b: bool) -> Val {
    let mut v = ptr::null_mut();
    sys::napi_get_boolean(env, b, &mut v);
    v
}
