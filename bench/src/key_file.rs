//! Scenario K's key: fresh and random for each run of the bench, made by
//! `fernchat keygen` (mode 0600) where the keyed relay reads it, and read
//! back as the relay reads a key file.

use super::server;
use anyhow::{Context, Result, ensure};
use fernchat_core::fernet::{Key, KeySet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// target/relay-bench/relay.key.
pub fn path() -> PathBuf {
    server::output_dir().join("relay.key")
}

/// Makes a new key with `fernchat` at [`path`], replacing the last run's,
/// and gives it.
pub fn write_fresh(fernchat: &Path) -> Result<Key> {
    let path = path();
    std::fs::create_dir_all(server::output_dir())?;
    // Its note on sharing the key is for people, not for the bench's log.
    let made = Command::new(fernchat)
        .args(["keygen", "--force", "--output"])
        .arg(&path)
        .output()
        .context("cannot run fernchat keygen")?;
    ensure!(
        made.status.success(),
        "fernchat keygen failed: {}",
        String::from_utf8_lossy(&made.stderr).trim()
    );
    let text = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let keys = KeySet::<1>::parse_file(&text)
        .with_context(|| format!("fernchat keygen wrote {}", path.display()))?;
    Ok(keys.encrypting_key().clone())
}
