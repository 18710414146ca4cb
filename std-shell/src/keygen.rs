//! `fernchat keygen`: a new random key.

use crate::exit::Exit;
use crate::keyfile;
use fernchat_core::fernet::{KEY_LEN, Key};
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
pub fn run(args: &KeygenArgs) -> Result<(), Exit> {
    let mut bytes = [0u8; KEY_LEN];
    getrandom::fill(&mut bytes)
        .map_err(|e| Exit::failure(format!("no random bytes from the OS: {e}")))?;
    let mut line = Key::from_bytes(bytes).encode().to_vec();
    line.push(b'\n');
    if args.output.as_os_str() == "-" {
        return std::io::stdout()
            .write_all(&line)
            .map_err(|e| Exit::failure(format!("cannot write the key: {e}")));
    }
    keyfile::create(&args.output, &line, args.force)?;
    eprintln!(
        "fernchat: wrote a new key to {}; share it only over a channel you trust",
        args.output.display()
    );
    Ok(())
}
