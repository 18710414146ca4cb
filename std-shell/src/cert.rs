//! `fernchat cert`: a self-signed certificate and its key, to try TLS
//! (`fernchat server --tls-cert`) without a certificate authority.

use crate::error::Error;
use crate::keyfile;
use std::path::PathBuf;

/// Options of `fernchat cert`.
#[derive(clap::Args)]
pub struct CertArgs {
    /// Where to write the certificate (PEM). Clients trust it with
    /// `fernchat client --tls --ca FILE`, Python with `cafile=FILE`.
    #[arg(long, value_name = "FILE", default_value = "fernchat-cert.pem")]
    out_cert: PathBuf,
    /// Where to write the private key (PEM, mode 0600); keep it to the relay.
    #[arg(long, value_name = "FILE", default_value = "fernchat-key.pem")]
    out_key: PathBuf,
    /// A host name or IP address the certificate is for; repeat for more.
    #[arg(long = "name", value_name = "NAME", default_values = ["localhost", "127.0.0.1"])]
    names: Vec<String>,
    /// Replace existing files.
    #[arg(long)]
    force: bool,
}

/// Writes a new self-signed certificate and its private key.
pub fn run(args: &CertArgs) -> Result<(), Error> {
    if !args.force {
        for path in [&args.out_cert, &args.out_key] {
            if path.exists() {
                return Err(Error::KeyFileExists(path.clone()));
            }
        }
    }
    let pair = rcgen::generate_simple_self_signed(args.names.clone())
        .map_err(|e| Error::Certificate(e.to_string()))?;
    keyfile::create(
        &args.out_key,
        pair.signing_key.serialize_pem().as_bytes(),
        args.force,
    )?;
    keyfile::create(&args.out_cert, pair.cert.pem().as_bytes(), args.force)?;
    eprintln!(
        "fernchat: wrote a self-signed certificate for {} to {} and its key to {}",
        args.names.join(", "),
        args.out_cert.display(),
        args.out_key.display()
    );
    Ok(())
}
