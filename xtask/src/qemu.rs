//! `cargo xtask qemu`: boots a firmware image on QEMU's mps2-an385, with
//! semihosting (console, clock, entropy, arguments, exit status) and a LAN9118
//! on QEMU's user network; installs qemu-system-arm where it is missing.

use crate::firmware::{self, Image};
use crate::shell::exec;
use anyhow::Result;
use std::process::Command;

/// The port the firmware relay listens on inside the guest.
const GUEST_PORT: u16 = 10101;

/// Options of `cargo xtask qemu`.
#[derive(clap::Args)]
pub struct QemuArgs {
    /// Which image to boot.
    #[arg(value_enum)]
    image: Image,
    /// Host port forwarded to the relay (127.0.0.1:PORT reaches 10.0.2.15:10101).
    #[arg(long, default_value_t = GUEST_PORT)]
    port: u16,
    /// The firmware's own arguments, after `--`: for the relay
    /// `[--key KEY] [--ttl S]`, for the client `--key KEY --connect
    /// 10.0.2.2:PORT --nick NICK [--wait N] [--utc-offset +HH:MM]
    /// [MESSAGE]...` (the offset defaults to this machine's).
    #[arg(last = true)]
    args: Vec<String>,
}

/// Builds the firmware and boots it in the foreground; QEMU's exit status is
/// the firmware's (semihosting SYS_EXIT_EXTENDED).
pub fn run(args: &QemuArgs) -> Result<()> {
    ensure_installed()?;
    firmware::build()?;
    let mut firmware_args = args.args.clone();
    let nic = match args.image {
        Image::Server => {
            eprintln!(
                "xtask: the relay will listen on 127.0.0.1:{0}: join with \
                 `fernchat client --connect 127.0.0.1:{0}`; Ctrl-C stops QEMU",
                args.port
            );
            format!(
                "user,model=lan9118,hostfwd=tcp:127.0.0.1:{}-:{GUEST_PORT}",
                args.port
            )
        }
        Image::Client => {
            // The board has no time zone database: given this machine's
            // offset, it shows local time, as `fernchat client` does.
            if !firmware_args.iter().any(|arg| arg == "--utc-offset")
                && let Some(offset) = host_utc_offset()
            {
                firmware_args.splice(0..0, ["--utc-offset".to_owned(), offset]);
            }
            // The client reaches the host's 127.0.0.1 as 10.0.2.2, QEMU's gateway.
            "user,model=lan9118".to_owned()
        }
        Image::Overflow => "user,model=lan9118".to_owned(),
    };
    exec(&mut fernchat_tests::qemu::command(
        &args.image.path(),
        &firmware_args,
        &nic,
    ))
}

/// This machine's offset from UTC now, as `+HH:MM` (from `date +%z`), or
/// `None` when `date` cannot tell.
fn host_utc_offset() -> Option<String> {
    let out = Command::new("date").arg("+%z").output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let (hours, minutes) = text.trim().split_at_checked(3)?;
    (out.status.success() && minutes.len() == 2).then(|| format!("{hours}:{minutes}"))
}

/// Makes sure qemu-system-arm runs, installing Debian's package when it is
/// missing and this is root on a Debian-like system.
pub fn ensure_installed() -> Result<()> {
    crate::debian::ensure(&[crate::debian::QEMU])
}

/// The environment for the QEMU tests in tests/: the images and QEMU. A
/// machine that cannot get QEMU fails here, as those tests would: they never
/// pass without running.
pub fn test_env() -> Result<Vec<(&'static str, std::path::PathBuf)>> {
    ensure_installed()?;
    firmware::build()?;
    Ok(vec![("FERNCHAT_FIRMWARE_DIR", firmware::images_dir())])
}
