//! `cargo xtask fuzz`: the cargo-fuzz targets under fuzz/ (nightly).

use crate::shell::{cmd, exec, in_ci, root};
use anyhow::{Context, Result, bail};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// How long `cargo xtask ci` runs each target, in seconds.
const SMOKE_SECONDS: u64 = 20;

/// Options of `cargo xtask fuzz`.
#[derive(clap::Args)]
pub struct FuzzArgs {
    /// The target to run (a file of fuzz/fuzz_targets/, without `.rs`); all
    /// of them, one after the other, if not given.
    target: Option<String>,
    /// How long each target runs, in seconds.
    #[arg(long, default_value_t = 300)]
    seconds: u64,
}

/// Runs the chosen targets for `--seconds` each, one after the other; what
/// they find grows their corpus in `fuzz/corpus/<target>`.
pub fn run(args: &FuzzArgs) -> Result<()> {
    install_tools()?;
    let targets = targets()?;
    let chosen = match &args.target {
        None => targets,
        Some(name) if targets.contains(name) => vec![name.clone()],
        Some(name) => bail!("no fuzz target {name}; there are {}", targets.join(", ")),
    };
    for target in &chosen {
        fuzz(
            target,
            &fuzz_dir().join("corpus").join(target),
            args.seconds,
        )?;
    }
    Ok(())
}

/// A short run of every target, for CI: gets the tools, builds every target,
/// then runs each for [`SMOKE_SECONDS`] on a copy of its corpus under
/// fuzz/target/, so that CI leaves the git tree clean. Without the tools it
/// is skipped with a warning, except under CI, where that is an error.
pub fn smoke() -> Result<()> {
    if let Err(error) = install_tools() {
        if in_ci() {
            return Err(error.context("the fuzz smoke run needs nightly Rust and cargo-fuzz"));
        }
        eprintln!("xtask: warning: fuzz smoke run skipped: {error:#}");
        return Ok(());
    }
    exec(&mut cmd("cargo", &["+nightly", "fuzz", "build"]))?;
    for target in targets()? {
        let corpus = fuzz_dir().join("target").join("smoke-corpus").join(&target);
        copy_dir(&fuzz_dir().join("corpus").join(&target), &corpus)?;
        fuzz(&target, &corpus, SMOKE_SECONDS)?;
    }
    Ok(())
}

/// Installs the nightly toolchain and cargo-fuzz if they are missing.
fn install_tools() -> Result<()> {
    ensure(
        &["rustup", "run", "nightly", "rustc", "--version"],
        &[
            "rustup",
            "toolchain",
            "install",
            "nightly",
            "--profile",
            "minimal",
        ],
    )?;
    ensure(
        &["cargo", "fuzz", "--version"],
        &["cargo", "install", "cargo-fuzz", "--locked"],
    )
}

/// Runs `install` unless `check` already succeeds, and `check` again after.
fn ensure(check: &[&str], install: &[&str]) -> Result<()> {
    let works = || {
        Command::new(check[0])
            .args(&check[1..])
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if !works() {
        exec(&mut cmd(install[0], &install[1..]))?;
        if !works() {
            bail!("`{}` still fails after installing", check.join(" "));
        }
    }
    Ok(())
}

/// Runs one target on `corpus` for `seconds`; crashes go to fuzz/artifacts/.
fn fuzz(target: &str, corpus: &Path, seconds: u64) -> Result<()> {
    let corpus = corpus.to_str().context("corpus path is not UTF-8")?;
    let max_time = format!("-max_total_time={seconds}");
    exec(&mut cmd(
        "cargo",
        &[
            "+nightly",
            "fuzz",
            "run",
            target,
            corpus,
            "--",
            &max_time,
            "-print_final_stats=1",
        ],
    ))
}

/// The targets: the files of fuzz/fuzz_targets/, sorted.
fn targets() -> Result<Vec<String>> {
    let dir = fuzz_dir().join("fuzz_targets");
    let mut names = Vec::new();
    for entry in fs::read_dir(&dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|ext| ext == "rs")
            && let Some(stem) = path.file_stem().and_then(|stem| stem.to_str())
        {
            names.push(stem.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Replaces `to` with a copy of the files in `from`.
fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    if to.exists() {
        fs::remove_dir_all(to).with_context(|| format!("cannot remove {}", to.display()))?;
    }
    fs::create_dir_all(to).with_context(|| format!("cannot make {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("cannot list {}", from.display()))? {
        let entry = entry?;
        fs::copy(entry.path(), to.join(entry.file_name()))
            .with_context(|| format!("cannot copy {}", entry.path().display()))?;
    }
    Ok(())
}

/// The cargo-fuzz project, fuzz/.
fn fuzz_dir() -> PathBuf {
    root().join("fuzz")
}
