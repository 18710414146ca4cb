//! The QEMU command line that boots a firmware image on mps2-an385, shared
//! by the QEMU tests and `cargo xtask qemu`.

use std::path::Path;
use std::process::Command;

/// QEMU's binary for 32-bit Arm boards.
pub const QEMU: &str = "qemu-system-arm";

/// The QEMU command line that boots `image` with `args` and the NIC `nic`.
pub fn command(image: &Path, args: &[String], nic: &str) -> Command {
    let append: Vec<String> = args
        .iter()
        .map(|arg| {
            if arg.contains(' ') {
                format!("\"{arg}\"")
            } else {
                arg.clone()
            }
        })
        .collect();
    let mut command = Command::new(QEMU);
    command
        .args([
            "-machine",
            "mps2-an385",
            "-display",
            "none",
            "-monitor",
            "none",
        ])
        .args([
            "-serial",
            "null",
            "-semihosting-config",
            "enable=on,target=native",
        ])
        .arg("-kernel")
        .arg(image)
        .args(["-append", &append.join(" "), "-nic", nic]);
    command
}
