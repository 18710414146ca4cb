//! `cargo xtask firmware`: the mps2-an385 images, `fernchat-server` (the
//! relay), `fernchat-client` and the test image `fernchat-overflow`, built
//! for thumbv7m-none-eabi in their own workspace under
//! embedded-shell/mps2-an385.

use crate::shell::{exec, has, root};
use anyhow::Result;
use std::path::PathBuf;
use std::process::Command;

/// The firmware's target: QEMU's mps2-an385 is a Cortex-M3.
pub const TARGET: &str = "thumbv7m-none-eabi";
/// The other Cortex-M cores the images are built for by `cargo xtask size`,
/// to show what each costs: Cortex-M0+ (no atomic read-modify-write, no
/// hardware divide) and Cortex-M4F.
pub const OTHER_TARGETS: [&str; 2] = ["thumbv6m-none-eabi", "thumbv7em-none-eabihf"];

/// The firmware images.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Image {
    /// The relay: `fernchat-server`.
    Server,
    /// The chat client: `fernchat-client`.
    Client,
    /// The stack guard's test: `fernchat-overflow` overflows its stack on
    /// purpose and must end in a reported hard fault (exit status 102).
    Overflow,
}

impl Image {
    /// Every image, relay first.
    pub const ALL: [Image; 3] = [Image::Server, Image::Client, Image::Overflow];

    /// The image's file name.
    pub fn name(self) -> &'static str {
        match self {
            Image::Server => "fernchat-server",
            Image::Client => "fernchat-client",
            Image::Overflow => "fernchat-overflow",
        }
    }

    /// Where `cargo xtask firmware` puts the image (an ELF file).
    pub fn path(self) -> PathBuf {
        images_dir().join(self.name())
    }

    /// Where [`build_for`] puts the image built for `target`.
    pub fn path_for(self, target: &str) -> PathBuf {
        dir()
            .join("target")
            .join(target)
            .join("release")
            .join(self.name())
    }
}

/// The firmware crate's directory (its own workspace).
fn dir() -> PathBuf {
    root().join("embedded-shell").join("mps2-an385")
}

/// The directory holding the built images.
pub fn images_dir() -> PathBuf {
    dir().join("target").join(TARGET).join("release")
}

/// Builds every image (release profile: opt-level z, LTO, panic=abort).
pub fn build() -> Result<()> {
    if has("rustup") {
        exec(Command::new("rustup").args(["target", "add", TARGET]))?;
    }
    exec(&mut cargo(&["build", "--release", "--bins"]))?;
    for image in Image::ALL {
        eprintln!("xtask: {}", image.path().display());
    }
    Ok(())
}

/// Builds every image for another Cortex-M `target`.
pub fn build_for(target: &str) -> Result<()> {
    if has("rustup") {
        exec(Command::new("rustup").args(["target", "add", target]))?;
    }
    exec(&mut cargo(&[
        "build",
        "--release",
        "--bins",
        "--target",
        target,
    ]))
}

/// The checks CI runs on the workspace, for the firmware's own workspace:
/// rustfmt and clippy.
pub fn lint() -> Result<()> {
    exec(&mut cargo(&["fmt", "--check"]))?;
    exec(&mut cargo(&["clippy", "--release", "--", "-D", "warnings"]))
}

/// `cargo ARGS` in the firmware's directory. Its .cargo/config.toml sets the
/// target and the linker script; flags from the environment would replace them.
fn cargo(args: &[&str]) -> Command {
    let mut command = Command::new("cargo");
    command
        .args(args)
        .current_dir(dir())
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR");
    command
}
