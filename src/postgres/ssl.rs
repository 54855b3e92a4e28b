//! libpq's `sslmode` and `sslrootcert` URL parameters. tokio-postgres knows only `disable`,
//! `prefer` and `require`, and no root certificate: both are taken off the URL here and
//! turned into the TLS connector that does what they ask.

use std::sync::Arc;

use percent_encoding::percent_decode_str;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{Error, Result};
use crate::tls::{self, Check};

/// What `sslmode` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Disable,
    /// libpq's default, which tries TLS and falls back to plain text after a failed
    /// handshake. tokio-postgres cannot fall back, so trying TLS could refuse a server that
    /// psql reaches with the same URL: here it connects without TLS, as before TLS existed.
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(value: &str) -> Result<Mode> {
        Ok(match value {
            "disable" => Mode::Disable,
            "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            other => {
                return Err(Error::invalid(format!(
                    "sslmode '{other}' is not supported: use disable, prefer (the default, without TLS), require, verify-ca or verify-full"
                )))
            }
        })
    }
}

/// A URL's TLS parameters, and the rest of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ssl {
    /// The URL without `sslmode` and `sslrootcert`, for tokio-postgres.
    pub url: String,
    pub mode: Mode,
    /// `sslrootcert`: a PEM file, or `system` for the system's roots.
    pub root_cert: Option<String>,
}

impl Ssl {
    /// Takes the TLS parameters off `url`, from where tokio-postgres reads parameters: after
    /// the first `?` past the credentials. The last of a repeated parameter counts, as in libpq.
    pub fn split(url: &str) -> Result<Ssl> {
        let after_credentials = url.find('@').map_or(0, |at| at + 1);
        let (base, query) = match url[after_credentials..].find('?') {
            Some(at) => (
                &url[..after_credentials + at],
                &url[after_credentials + at + 1..],
            ),
            None => (url, ""),
        };
        let mut ssl = Ssl {
            url: String::new(),
            mode: Mode::Prefer,
            root_cert: None,
        };
        let mut kept = Vec::new();
        for param in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            let value = || {
                percent_decode_str(value)
                    .decode_utf8()
                    .map(|v| v.into_owned())
                    .map_err(|_| {
                        Error::invalid(format!("{key} in the PostgreSQL URL is not UTF-8"))
                    })
            };
            match &*percent_decode_str(key).decode_utf8_lossy() {
                "sslmode" => ssl.mode = Mode::parse(&value()?)?,
                "sslrootcert" => ssl.root_cert = Some(value()?),
                _ => kept.push(param),
            }
        }
        ssl.url = if kept.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        Ok(ssl)
    }

    /// What tokio-postgres is told: TLS, or none.
    pub fn ssl_mode(&self) -> SslMode {
        match self.mode {
            Mode::Disable | Mode::Prefer => SslMode::Disable,
            _ => SslMode::Require,
        }
    }

    /// The connector checking the server's certificate as asked; `None` without TLS.
    pub fn connector(&self) -> Result<Option<MakeRustlsConnect>> {
        let roots = || match self.root_cert.as_deref() {
            None | Some("system") => tls::system_roots(),
            Some(path) => Ok(Arc::new(tls::read_roots(path, "sslrootcert")?.1)),
        };
        let check = match (self.mode, &self.root_cert) {
            (Mode::Disable | Mode::Prefer, _) => return Ok(None),
            (Mode::Require, None) => Check::Nothing,
            // As in libpq, a root certificate given makes `require` check the chain.
            (Mode::Require | Mode::VerifyCa, _) => Check::Chain(roots()?),
            (Mode::VerifyFull, _) => Check::Full(roots()?),
        };
        Ok(Some(MakeRustlsConnect::new(tls::client_config(check)?)))
    }
}
