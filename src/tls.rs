//! TLS for the server backends: rustls with the ring provider, the roots a store trusts, the
//! weaker certificate checks libpq's sslmodes ask for, and what a failed handshake reports.

use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};

use crate::error::{Code, Error, Result};

/// How much of the server's certificate is checked.
#[derive(Debug, Clone)]
pub enum Check {
    /// None: the connection is encrypted, but anyone on the path could pose as the server.
    Nothing,
    /// The chain up to one of these roots, not the host name.
    Chain(Arc<RootCertStore>),
    /// The chain and the host name.
    Full(Arc<RootCertStore>),
}

/// The certificates of the PEM file at `path` (a root CA, or a self-signed server
/// certificate), checked here so that a wrong file is reported at open, not as a failed
/// handshake. Returns the file's bytes too, for clients that parse it themselves.
pub fn read_roots(path: &str, what: &str) -> Result<(Vec<u8>, RootCertStore)> {
    let pem = std::fs::read(path)
        .map_err(|e| Error::invalid(format!("cannot read {what} '{path}': {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| Error::invalid(format!("{what} '{path}' is not a PEM file: {e}")))?;
    let mut roots = RootCertStore::empty();
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(Error::invalid(format!(
            "{what} '{path}' holds no usable certificate"
        )));
    }
    Ok((pem, roots))
}

/// The roots the system trusts (`SSL_CERT_FILE`, `SSL_CERT_DIR`, else the platform's store),
/// read once per process: the redis crate trusts the same.
pub fn system_roots() -> Result<Arc<RootCertStore>> {
    static ROOTS: OnceLock<std::result::Result<Arc<RootCertStore>, String>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(found.certs);
            if roots.is_empty() {
                let why = found.errors.first().map(|e| format!(": {e}"));
                return Err(format!(
                    "the system holds no trusted root certificate{}",
                    why.unwrap_or_default()
                ));
            }
            Ok(Arc::new(roots))
        })
        .clone()
        .map_err(Error::invalid)
}

/// A client configuration that checks the server's certificate as `check` says.
pub fn client_config(check: Check) -> Result<ClientConfig> {
    let provider = Arc::new(ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::new(Code::Internal, format!("TLS: {e}")))?;
    let verifier = |roots: Arc<RootCertStore>| {
        WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
            .build()
            .map_err(|e| Error::new(Code::Internal, format!("TLS: {e}")))
    };
    let chain = match check {
        Check::Full(roots) => {
            return Ok(builder
                .with_webpki_verifier(verifier(roots)?)
                .with_no_client_auth())
        }
        Check::Chain(roots) => Some(verifier(roots)?),
        Check::Nothing => None,
    };
    let config = builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Lenient { chain, provider }));
    Ok(config.with_no_client_auth())
}

/// The weaker checks: the full one less the host name (`chain`), or none. Either way the
/// handshake's signatures are checked, proving that the server holds its certificate's key:
/// SCRAM channel binding relies on it. webpki checks the chain before the name, so a name
/// mismatch is only ever reported for a chain it trusted.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, name, ocsp, now) {
            Err(e) if wrong_name(&e) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.provider.signature_verification_algorithms;
        rustls::crypto::verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Whether a certificate was refused for its names only.
fn wrong_name(err: &rustls::Error) -> bool {
    matches!(
        err,
        rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. }
        )
    )
}

/// The TLS failure behind `err`, if a handshake is what failed. Clients wrap rustls' error in
/// an `io::Error` (whose `source` skips it), which they may wrap again in an `Arc`.
fn rustls_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(err);
    while let Some(mut e) = next {
        if let Some(shared) = e.downcast_ref::<Arc<dyn std::error::Error + Send + Sync>>() {
            e = &**shared;
        }
        let wrapped = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref());
        if let Some(found) = wrapped.and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
            return Some(found);
        }
        if let Some(found) = e.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        next = e.source();
    }
    None
}

/// `Unavailable` saying why the handshake with `server` failed, when `err` is such a failure;
/// `ca` tells where this server's store takes the root certificate from.
pub fn handshake_failed(
    server: &str,
    err: &(dyn std::error::Error + 'static),
    ca: &str,
) -> Option<Error> {
    let why = rustls_error(err)?;
    let hint = match why {
        e if wrong_name(e) => ": its certificate does not name the URL's host".to_owned(),
        rustls::Error::InvalidCertificate(_) => {
            format!(": its certificate is not trusted, check {ca}")
        }
        _ => String::new(),
    };
    Some(Error::new(
        Code::Unavailable,
        format!("the TLS handshake with {server} failed{hint} ({why}); nothing of the failed call was written"),
    ))
}
