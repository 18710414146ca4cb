//! `ncat --broker`, the relay we compare against (Debian package `ncat`).

use crate::shell::{cmd, exec, has, in_ci};
use anyhow::{Result, bail};

/// Makes sure `ncat` runs, installing it with apt-get if it does not
/// (under CI a missing ncat is an error instead).
pub fn ensure() -> Result<()> {
    if has("ncat") {
        return Ok(());
    }
    if in_ci() {
        bail!("ncat is not installed: the relay benchmark needs `apt-get install -y ncat`");
    }
    eprintln!("relay bench: ncat is missing; installing the Debian package");
    let installed = exec(&mut cmd("apt-get", &["install", "-y", "ncat"])).or_else(|_| {
        exec(&mut cmd("apt-get", &["update"]))?;
        exec(&mut cmd("apt-get", &["install", "-y", "ncat"]))
    });
    if installed.is_err() || !has("ncat") {
        bail!("cannot install ncat (try `sudo apt-get install -y ncat`)");
    }
    Ok(())
}
