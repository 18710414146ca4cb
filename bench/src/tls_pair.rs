//! Scenario T's certificate: a self-signed pair made by `fernchat cert`
//! for the relay, and the client settings that trust exactly it.

use super::server::output_dir;
use anyhow::{Context, Result, ensure};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;

/// target/relay-bench/tls-cert.pem.
pub fn cert_path() -> PathBuf {
    output_dir().join("tls-cert.pem")
}

/// target/relay-bench/tls-key.pem.
pub fn key_path() -> PathBuf {
    output_dir().join("tls-key.pem")
}

/// Makes a fresh pair with `fernchat` and gives what clients trust.
pub fn make(fernchat: &std::path::Path) -> Result<Arc<rustls::ClientConfig>> {
    std::fs::create_dir_all(output_dir())?;
    let status = Command::new(fernchat)
        .args(["cert", "--force", "--out-cert"])
        .arg(cert_path())
        .arg("--out-key")
        .arg(key_path())
        .status()
        .context("cannot run fernchat cert")?;
    ensure!(status.success(), "fernchat cert failed");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cert_path())? {
        roots.add(cert?)?;
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
