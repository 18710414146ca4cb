//! `fernchat keygen`: a new random key.

use crate::error::Error;
use crate::keyfile;
use fernchat_core::fernet::{KEY_LEN, Key};
use rand_core::{OsRng, TryRngCore};
use std::io::Write;
use std::path::PathBuf;

/// Options of `fernchat keygen`.
#[derive(clap::Args)]
pub struct KeygenArgs {
    /// Where to write the key (mode 0600); `-` prints it to stdout.
    #[arg(short, long, default_value = keyfile::DEFAULT_KEY_FILE)]
    output: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
}

/// Writes a new key as 44 characters and a line feed.
pub fn run(args: &KeygenArgs) -> Result<(), Error> {
    let mut bytes = [0u8; KEY_LEN];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| Error::NoRandomness(e.to_string()))?;
    let mut line = Key::from_bytes(bytes).encode().to_vec();
    line.push(b'\n');
    if args.output.as_os_str() == "-" {
        return std::io::stdout().write_all(&line).map_err(Error::Stdout);
    }
    keyfile::create(&args.output, &line, args.force)?;
    eprintln!(
        "fernchat: wrote a new key to {}; share it only over a channel you trust",
        args.output.display()
    );
    Ok(())
}
