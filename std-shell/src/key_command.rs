//! `fernchat key`: moving a key between fernchat's key file and the
//! original Python chat's `chave.key`, a pickled `Fernet`
//! (`docs/PROTOCOL.md` section 4, Pickled keys).

use crate::error::Error;
use crate::keyfile;
use crate::pickle::{self, MAX_PICKLE};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// Where the Python chat keeps its key.
const PICKLE_FILE: &str = "chave.key";

/// Options of `fernchat key`.
#[derive(clap::Args)]
pub struct KeyArgs {
    #[command(subcommand)]
    command: KeyCommand,
}

#[derive(clap::Subcommand)]
enum KeyCommand {
    /// Read the Python chat's chave.key (a pickled Fernet) into a key file.
    /// Nothing in the pickle is run: anything but a pickled Fernet is refused.
    Import(ImportArgs),
    /// Write the key file's first key as a chave.key the Python chat loads.
    Export(ExportArgs),
}

/// Options of `fernchat key import`.
#[derive(clap::Args)]
struct ImportArgs {
    /// The pickled Fernet to read.
    #[arg(default_value = PICKLE_FILE)]
    pickle: PathBuf,
    /// Where to write the key file (mode 0600); `-` prints it to stdout.
    #[arg(short, long, default_value = keyfile::DEFAULT_KEY_FILE)]
    output: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
}

/// Options of `fernchat key export`.
#[derive(clap::Args)]
struct ExportArgs {
    /// Write a pickled cryptography.fernet.Fernet (protocol 4), as the
    /// Python chat's `pickle.load` reads it (the only format for now).
    #[arg(long, required = true)]
    pickle: bool,
    /// The key file whose first key is written.
    #[arg(long, default_value = keyfile::DEFAULT_KEY_FILE)]
    key_file: PathBuf,
    /// Where to write the pickle (mode 0600); `-` writes it to stdout.
    #[arg(short, long, default_value = PICKLE_FILE)]
    output: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
}

/// Runs `fernchat key import` or `export`.
pub fn run(args: &KeyArgs) -> Result<(), Error> {
    match &args.command {
        KeyCommand::Import(args) => import(args),
        KeyCommand::Export(args) => export(args),
    }
}

fn import(args: &ImportArgs) -> Result<(), Error> {
    let bytes = read_pickle(&args.pickle)?;
    let key = pickle::read_fernet(&bytes).map_err(|source| Error::BadPickle {
        path: args.pickle.clone(),
        source,
    })?;
    let mut line = key.encode().to_vec();
    line.push(b'\n');
    write(&args.output, &line, args.force)?;
    if args.output.as_os_str() != "-" {
        eprintln!(
            "fernchat: wrote the key of {} to {}",
            args.pickle.display(),
            args.output.display()
        );
    }
    Ok(())
}

fn export(args: &ExportArgs) -> Result<(), Error> {
    let keys = keyfile::load(&args.key_file)?;
    let pickled = pickle::write_fernet(keys.encrypting_key());
    write(&args.output, &pickled, args.force)?;
    if args.output.as_os_str() != "-" {
        eprintln!(
            "fernchat: wrote the first key of {} to {} as a pickled Fernet",
            args.key_file.display(),
            args.output.display()
        );
    }
    Ok(())
}

/// Reads at most one byte more than [`MAX_PICKLE`].
fn read_pickle(path: &Path) -> Result<Vec<u8>, Error> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|file| file.take(MAX_PICKLE + 1).read_to_end(&mut bytes))
        .map_err(|source| Error::ReadPickle {
            path: path.to_owned(),
            source,
        })?;
    Ok(bytes)
}

/// Writes `bytes` to stdout for `-`, else to a new file of mode 0600.
fn write(path: &Path, bytes: &[u8], force: bool) -> Result<(), Error> {
    if path.as_os_str() == "-" {
        return std::io::stdout().write_all(bytes).map_err(Error::Stdout);
    }
    keyfile::create(path, bytes, force)
}
