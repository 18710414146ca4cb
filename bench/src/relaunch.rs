//! `cargo run` makes a debug build; the load generator must not be the
//! bottleneck, so the benchmark runs again from an optimised build.

use crate::shell::{cmd, exec, root};
use anyhow::Result;
use std::path::PathBuf;

/// True when this bench is a debug build.
pub fn needed() -> bool {
    cfg!(debug_assertions)
}

/// Builds this in release and runs it with this process's own arguments.
pub fn in_release() -> Result<()> {
    exec(&mut cmd("cargo", &["build", "--release", "-p", PACKAGE]))?;
    let mut command = cmd(&release_binary(PACKAGE).to_string_lossy(), &[]);
    command.args(std::env::args_os().skip(1));
    exec(&mut command)
}

/// Where cargo puts a release binary of this workspace.
pub fn release_binary(name: &str) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("release")
        .join(name)
}

/// This package, and its binary.
const PACKAGE: &str = env!("CARGO_PKG_NAME");
