//! `fernchat encrypt` and `fernchat decrypt`: one token from stdin to stdout.

use crate::error::Error;
use crate::{clock, keyfile};
use fernchat_core::fernet::decode_buf_len;
use fernchat_core::frame::{MAX_PLAINTEXT, MAX_TOKEN_CHARS};
use rand_core::{OsRng, UnwrapErr};
use std::io::{Read, Write};
use std::path::PathBuf;

/// Options of `fernchat encrypt`.
#[derive(clap::Args)]
pub struct EncryptArgs {
    /// Key file; its first key encrypts.
    #[arg(short, long, default_value = keyfile::DEFAULT_KEY_FILE)]
    key_file: PathBuf,
    /// Unix time to write in the token instead of the clock's.
    #[arg(long, value_name = "UNIX")]
    now: Option<u64>,
}

/// Options of `fernchat decrypt`.
#[derive(clap::Args)]
pub struct DecryptArgs {
    /// Key file; every key in it is tried.
    #[arg(short, long, default_value = keyfile::DEFAULT_KEY_FILE)]
    key_file: PathBuf,
    /// Refuse tokens older than this many seconds.
    #[arg(long, value_name = "SECONDS")]
    ttl: Option<u64>,
    /// Unix time to check the token against instead of the clock's
    /// (like Python's decrypt_at_time).
    #[arg(long, value_name = "UNIX")]
    now: Option<u64>,
}

/// Reads all of stdin as one plaintext and prints its token and a line feed.
pub fn encrypt(args: &EncryptArgs) -> Result<(), Error> {
    let keys = keyfile::load(&args.key_file)?;
    let plaintext = read_stdin(MAX_PLAINTEXT)?;
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(Error::PlaintextTooLong);
    }
    let mut line = vec![0u8; MAX_TOKEN_CHARS + 1];
    let now = args.now.unwrap_or_else(clock::now);
    let token_len = keys
        .encrypting_key()
        .encrypt(&plaintext, now, &mut UnwrapErr(OsRng), &mut line)
        .map_err(Error::Encrypt)?
        .len();
    line.truncate(token_len);
    line.push(b'\n');
    write_stdout(&line)
}

/// Reads one token from stdin (surrounding whitespace ignored) and writes
/// its plaintext; a token that fails exits 1 with one line.
pub fn decrypt(args: &DecryptArgs) -> Result<(), Error> {
    let keys = keyfile::load(&args.key_file)?;
    let input = read_stdin(1 << 20)?;
    let token = input.trim_ascii();
    let mut buf = vec![0u8; decode_buf_len(token.len())];
    let now = args.now.unwrap_or_else(clock::now);
    let opened = keys
        .decrypt(token, now, args.ttl, &mut buf)
        .map_err(Error::InvalidToken)?;
    write_stdout(opened.plaintext)
}

/// Reads stdin up to one byte past `limit`, so that callers can tell "too long".
fn read_stdin(limit: usize) -> Result<Vec<u8>, Error> {
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .take(limit as u64 + 1)
        .read_to_end(&mut input)
        .map_err(Error::Stdin)?;
    Ok(input)
}

fn write_stdout(bytes: &[u8]) -> Result<(), Error> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(Error::Stdout)
}
