//! `fernchat encrypt` and `fernchat decrypt`: one token from stdin to stdout.

use crate::exit::Exit;
use crate::{clock, keyfile};
use fernchat_core::fernet::{DECODE_BUF_LEN, MAX_PLAINTEXT, MAX_TOKEN_CHARS};
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
pub fn encrypt(args: &EncryptArgs) -> Result<(), Exit> {
    let keys = keyfile::load(&args.key_file)?;
    let plaintext = read_stdin(MAX_PLAINTEXT)?;
    if plaintext.len() > MAX_PLAINTEXT {
        return Err(Exit::usage(format!(
            "the plaintext is over {MAX_PLAINTEXT} bytes, the most one frame carries"
        )));
    }
    let key = keys
        .encrypting_key()
        .ok_or_else(|| Exit::usage("the key file holds no key"))?;
    let mut out = vec![0u8; MAX_TOKEN_CHARS + 1];
    let now = args.now.unwrap_or_else(clock::now);
    let token = key
        .encrypt(&plaintext, now, clock::random_iv(), &mut out)
        .map_err(|e| Exit::failure(format!("cannot encrypt: {e}")))?;
    let mut line = token.to_vec();
    line.push(b'\n');
    write_stdout(&line)
}

/// Reads one token from stdin (surrounding whitespace ignored) and writes
/// its plaintext; a token that fails exits 1 with one line.
pub fn decrypt(args: &DecryptArgs) -> Result<(), Exit> {
    let keys = keyfile::load(&args.key_file)?;
    let input = read_stdin(1 << 20)?;
    let token = input.trim_ascii();
    let mut buf = vec![0u8; DECODE_BUF_LEN];
    let now = args.now.unwrap_or_else(clock::now);
    let opened = keys
        .decrypt(token, now, args.ttl, &mut buf)
        .map_err(|e| Exit::failure(format!("invalid token: {e}")))?;
    write_stdout(opened.plaintext)
}

/// Reads stdin up to one byte past `limit`, so that callers can tell "too long".
fn read_stdin(limit: usize) -> Result<Vec<u8>, Exit> {
    let mut input = Vec::new();
    std::io::stdin()
        .lock()
        .take(limit as u64 + 1)
        .read_to_end(&mut input)
        .map_err(|e| Exit::failure(format!("cannot read stdin: {e}")))?;
    Ok(input)
}

fn write_stdout(bytes: &[u8]) -> Result<(), Exit> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(|e| Exit::failure(format!("cannot write stdout: {e}")))
}
