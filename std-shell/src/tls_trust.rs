//! What a TLS client of ours trusts (the chat client's `--ca`, the NATS
//! bridge's `--nats-tls-ca`): the public roots, or exactly the
//! certificates of a PEM file, which is checked when it is named.

use crate::error::Error;
use rustls::RootCertStore;
use std::path::Path;
use std::sync::Arc;

/// What a TLS client trusts: the public roots, or exactly the
/// certificates in `ca` (PEM).
pub fn client_config(ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, Error> {
    let mut roots = RootCertStore::empty();
    match ca {
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        Some(path) => {
            let tls_file = |why: String| Error::TlsFile {
                path: path.to_owned(),
                why,
            };
            let certs = crate::pem_text::certificates(path).map_err(tls_file)?;
            let (added, _) = roots.add_parsable_certificates(certs);
            if added == 0 {
                return Err(tls_file("no usable certificate in it".to_owned()));
            }
        }
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
