//! TLS for the REST API and MQTT, with certificates from PEM files (rustls, aws-lc-rs).
//!
//! TLS is optional: without it, tokens and passwords cross the network in clear (docs/security.md).
//! The Orchestrator serves both ports with one certificate; Hosts and the CLI trust the CA that
//! signed it (for a self-signed certificate: the certificate itself), which enrolment hands to
//! Hosts inside their credentials, so a Host needs no file of its own.

use anyhow::Context;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// The one crypto provider silverline uses, named explicitly so that the choice does not depend
/// on which rustls features other crates enable.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Every certificate in a PEM text.
pub fn certificates(pem: &[u8]) -> anyhow::Result<Vec<CertificateDer<'static>>> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut &pem[..]).collect::<Result<_, _>>().context("reading PEM certificates")?;
    anyhow::ensure!(!certs.is_empty(), "no certificate (`-----BEGIN CERTIFICATE-----`) in the PEM text");
    Ok(certs)
}

/// A server configuration from a certificate chain and its private key (PEM files).
pub fn server_config(cert: &Path, key: &Path) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let chain = certificates(&std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?).with_context(|| cert.display().to_string())?;
    let key_pem = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
    let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut &key_pem[..])
        .with_context(|| format!("reading {}", key.display()))?
        .with_context(|| format!("{}: no private key in it", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .context("the certificate and the key do not belong together")?;
    Ok(Arc::new(config))
}

/// A client configuration that trusts exactly the CA certificates in `ca_pem`.
pub fn client_config(ca_pem: &[u8]) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(ca_pem)? {
        roots.add(cert).context("a CA certificate rustls cannot use")?;
    }
    let config = rustls::ClientConfig::builder_with_provider(provider()).with_safe_default_protocol_versions()?.with_root_certificates(roots).with_no_client_auth();
    Ok(Arc::new(config))
}

/// An HTTP client that trusts exactly `ca_pem` for `https://` URLs (nothing without it) and
/// speaks plain `http://` too.
pub fn http_agent(ca_pem: Option<&[u8]>) -> anyhow::Result<ureq::Agent> {
    let roots = match ca_pem {
        Some(pem) => certificates(pem)?.into_iter().map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()).collect(),
        None => Vec::new(),
    };
    let tls = ureq::tls::TlsConfig::builder().root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots))).unversioned_rustls_crypto_provider(provider()).build();
    Ok(ureq::Agent::config_builder().http_status_as_error(false).tls_config(tls).build().into())
}

/// The certificate and key files of a TLS listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: std::path::PathBuf,
    /// PEM private key.
    pub key: std::path::PathBuf,
    /// PEM of the CA that clients should trust; the certificate itself when absent (self-signed).
    pub ca: Option<std::path::PathBuf>,
}

impl TlsFiles {
    /// The CA's PEM text, as handed to Hosts at enrolment.
    pub fn ca_pem(&self) -> anyhow::Result<String> {
        let path = self.ca.as_ref().unwrap_or(&self.cert);
        let pem = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        certificates(pem.as_bytes()).with_context(|| path.display().to_string())?;
        Ok(pem)
    }
}
