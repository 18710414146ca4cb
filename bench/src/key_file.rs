//! Scenario K's key: fresh and random for each run of the bench, written
//! with mode 0600 where the keyed relay reads it.

use super::server;
use anyhow::{Context, Result, ensure};
use fernchat_core::fernet::{KEY_LEN, Key};
use rustix::rand::{GetRandomFlags, getrandom};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

/// target/relay-bench/relay.key.
pub fn path() -> PathBuf {
    server::output_dir().join("relay.key")
}

/// Draws a new key and writes it (44 characters and a line feed) to
/// [`path`], replacing the last run's.
pub fn write_fresh() -> Result<Key> {
    let mut bytes = [0u8; KEY_LEN];
    let drawn = getrandom(&mut bytes, GetRandomFlags::empty()).context("getrandom")?;
    ensure!(drawn == KEY_LEN, "getrandom gave {drawn} bytes");
    let key = Key::from_bytes(bytes);
    let path = path();
    std::fs::create_dir_all(server::output_dir())?;
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
        _ => {}
    }
    let mut file = File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(&key.encode())?;
    file.write_all(b"\n")?;
    Ok(key)
}
