//! `cargo xtask` is a debug build; the load generator must not be the
//! bottleneck, so the benchmark runs again from an optimised xtask.

use crate::shell::{cmd, exec, root};
use anyhow::Result;
use std::path::PathBuf;

/// True when this xtask is a debug build.
pub fn needed() -> bool {
    cfg!(debug_assertions)
}

/// Builds xtask in release and runs it with this process's own arguments.
pub fn in_release() -> Result<()> {
    exec(&mut cmd("cargo", &["build", "--release", "-p", "xtask"]))?;
    let mut command = cmd(&release_binary("xtask").to_string_lossy(), &[]);
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
