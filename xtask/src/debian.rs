//! Debian packages the tests need, installed when missing (as root, with
//! apt-get), so that `cargo xtask ci` works on a fresh Debian machine as
//! `.ci/run` does.

use crate::shell::exec;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

/// A tool the tests run, and the Debian packages that bring it.
pub struct Tool {
    /// The program, by name on the PATH or by absolute path.
    pub program: &'static str,
    /// What to install when it is missing.
    pub packages: &'static [&'static str],
}

/// QEMU, for the firmware tests.
pub const QEMU: Tool = Tool {
    program: fernchat_tests::qemu::QEMU,
    packages: &["qemu-system-arm"],
};
/// nats-server, for the NATS bridge tests (`std-shell/tests/nats.rs`).
pub const NATS_SERVER: Tool = Tool {
    program: "/usr/sbin/nats-server",
    packages: &["nats-server"],
};
/// HAProxy, for the `--trusted-proxy` tests (`std-shell/tests/proxy.rs`).
pub const HAPROXY: Tool = Tool {
    program: "/usr/sbin/haproxy",
    packages: &["haproxy"],
};
/// Headless Chromium, for the browser page's tests.
pub const CHROMIUM: Tool = Tool {
    program: "/usr/bin/chromium",
    packages: &["chromium", "fonts-liberation"],
};
/// Chromium's WebDriver, for the same tests.
pub const CHROMEDRIVER: Tool = Tool {
    program: "/usr/bin/chromedriver",
    packages: &["chromium-driver"],
};
/// systemd-analyze, which verifies `deploy/fernchat.service`.
pub const SYSTEMD_ANALYZE: Tool = Tool {
    program: "systemd-analyze",
    packages: &["systemd"],
};
/// kill, which the unit's `ExecReload` runs (verify checks it exists).
pub const KILL: Tool = Tool {
    program: "/bin/kill",
    packages: &["procps"],
};

/// Makes sure each of `tools` is there, installing the missing ones'
/// packages at once when this is a Debian-like system.
pub fn ensure(tools: &[Tool]) -> Result<()> {
    let missing: Vec<&Tool> = tools.iter().filter(|t| !is_there(t.program)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let packages: Vec<&str> = missing.iter().flat_map(|t| t.packages).copied().collect();
    let listed = packages.join(" ");
    if is_there("apt-get") {
        eprintln!("xtask: installing Debian's {listed}");
        let apt = |args: &[&str]| {
            exec(
                Command::new("apt-get")
                    .args(args)
                    .env("DEBIAN_FRONTEND", "noninteractive"),
            )
        };
        apt(&["update", "-qq"])
            .and_then(|()| {
                let install = ["install", "-y", "-qq", "--no-install-recommends"];
                apt(&[&install[..], &packages].concat())
            })
            .with_context(|| {
                format!("cannot install {listed} (apt-get install {listed}, as root)")
            })?;
    }
    if let Some(tool) = missing.iter().find(|t| !is_there(t.program)) {
        bail!(
            "{} is not installed (Debian: apt-get install {})",
            tool.program,
            tool.packages.join(" ")
        );
    }
    Ok(())
}

/// True when `program` can be run (an absolute path that exists, or a
/// name on the PATH).
fn is_there(program: &str) -> bool {
    if program.starts_with('/') {
        return Path::new(program).is_file();
    }
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
}
