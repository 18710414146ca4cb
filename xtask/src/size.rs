//! `cargo xtask size`: flash, RAM and measured peak stack of each firmware
//! image against the project's goals, and where the bytes go, read from the
//! ELF files and from a QEMU run.
//!
//! Flash is what gets programmed: the file bytes of the loadable segments
//! (code, read-only data, the initial values of `.data`). RAM is the span from
//! the start of RAM to the end of the statics: the stack reserve that
//! memory.x puts first (its lowest 1 KiB the MPU's guard), plus the statics
//! (`.data`, `.bss`) above it. The stack's peak is measured: the images
//! paint the stack at boot and print its high-water mark, and the QEMU test
//! that sends the largest frame (4,089 bytes) both ways through the firmware
//! relay and client records it; the reserve must hold that peak, the guard
//! and [`STACK_MARGIN`].

use crate::firmware::{self, Image};
use crate::shell::{cmd, exec, root};
use anyhow::{Context, Result, bail};
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionKind, SymbolKind};
use std::collections::HashMap;
use std::path::Path;

const KIB: u64 = 1024;
/// Where RAM starts on mps2-an385 (ZBT SSRAM2/3); flash is below it.
const RAM_ORIGIN: u64 = 0x2000_0000;
/// Rows in the "where the bytes go" tables.
const TOP: usize = 8;
/// The MPU's no-access guard at the bottom of the stack (src/fault.rs).
const STACK_GUARD: u64 = KIB;
/// Stack the reserve must hold beyond the measured peak: for paths the
/// QEMU run did not take (a refused connection's notice, the fault
/// handler's few words), about a quarter of the peak.
const STACK_MARGIN: u64 = KIB;
/// The QEMU test that exercises the largest frames both ways and writes
/// the stack report (tests/tests/qemu_firmware.rs).
const STACK_TEST: &str = "the_largest_frames_go_both_ways_through_the_firmware_relay_and_client";

/// The footprint goals: flash and RAM (statics plus stack reserve), in
/// bytes; none for the test image, which is not measured. The client must
/// fit an STM32F103C8-class part (64 KiB flash, 20 KiB RAM) with room for
/// a board's own code; the relay, 4 clients in 48 KiB of RAM.
fn goal(image: Image) -> Option<(u64, u64)> {
    match image {
        Image::Server => Some((64 * KIB, 48 * KIB)),
        Image::Client => Some((48 * KIB, 20 * KIB)),
        Image::Overflow => None,
    }
}

/// One image's footprint.
struct Footprint {
    flash: u64,
    statics: u64,
    /// The stack reserve in memory.x.
    stack: u64,
    /// Flash bytes by crate, largest first.
    flash_by_crate: Vec<(String, u64)>,
    /// The largest statics, largest first.
    ram_by_symbol: Vec<(String, u64)>,
}

/// Builds the images, measures their stack on QEMU, prints the footprints
/// of those with goals; fails if one is over its goal or its measured stack
/// does not fit its reserve with the margin.
pub fn run() -> Result<()> {
    firmware::build()?;
    let peaks = measure_stack()?;
    let mut over = Vec::new();
    let mut details = String::new();
    println!(
        "{:<16} {:<24} {:<40} stack: peak + guard + margin <= reserve",
        "image", "flash (goal)", "RAM = statics + stack reserve (goal)"
    );
    for image in Image::ALL {
        let Some((flash_goal, ram_goal)) = goal(image) else {
            continue;
        };
        let path = image.path();
        let footprint = measure(&path).with_context(|| format!("reading {}", path.display()))?;
        let ram = footprint.statics + footprint.stack;
        let peak = peaks
            .get(image.name())
            .copied()
            .with_context(|| format!("the QEMU run reported no stack peak for {}", image.name()))?;
        let needed = peak + STACK_GUARD + STACK_MARGIN;
        println!(
            "{:<16} {:>8} ({}) {} {:>8} = {} + {} ({}) {}   {:.1} + {:.0} + {:.0} = {} <= {} {}",
            image.name(),
            kib(footprint.flash),
            kib(flash_goal),
            verdict(footprint.flash, flash_goal),
            kib(ram),
            kib(footprint.statics),
            kib(footprint.stack),
            kib(ram_goal),
            verdict(ram, ram_goal),
            peak as f64 / KIB as f64,
            STACK_GUARD as f64 / KIB as f64,
            STACK_MARGIN as f64 / KIB as f64,
            kib(needed),
            kib(footprint.stack),
            verdict(needed, footprint.stack),
        );
        if footprint.flash > flash_goal || ram > ram_goal || needed > footprint.stack {
            over.push(image.name());
        }
        details.push_str(&breakdown(image, &footprint));
    }
    print!("{details}");
    other_cores()?;
    if !over.is_empty() {
        bail!("over the footprint goal: {}", over.join(", "));
    }
    Ok(())
}

/// Builds the images for the other Cortex-M cores and prints their flash
/// and RAM (the same code and statics; QEMU's Cortex-M3 board runs the
/// Cortex-M0+ build too, whose instructions it has).
fn other_cores() -> Result<()> {
    println!("\nthe same images for other cores (flash, statics):");
    for target in firmware::OTHER_TARGETS {
        firmware::build_for(target)?;
        let mut row = format!("  {target:<24}");
        for image in [Image::Client, Image::Server] {
            let path = image.path_for(target);
            let footprint =
                measure(&path).with_context(|| format!("reading {}", path.display()))?;
            row.push_str(&format!(
                " {} {}, {}",
                image.name(),
                kib(footprint.flash),
                kib(footprint.statics)
            ));
        }
        println!("{row}");
    }
    Ok(())
}

/// Runs the QEMU test that sends the largest frames both ways through the
/// firmware relay and client; gives each image's stack peak in bytes.
fn measure_stack() -> Result<HashMap<String, u64>> {
    crate::qemu::ensure_installed()?;
    // The test runs the std binary's checks too: it must be built.
    exec(&mut cmd("cargo", &["build", "-p", "fernchat"]))?;
    let report = root().join("target").join("stack-report.txt");
    let _ = std::fs::remove_file(&report);
    exec(
        cmd(
            "cargo",
            &[
                "test",
                "-p",
                "fernchat-tests",
                "--test",
                "qemu_firmware",
                STACK_TEST,
            ],
        )
        .envs(crate::qemu::test_env()?)
        .env("FERNCHAT_STACK_REPORT", &report),
    )?;
    let text = std::fs::read_to_string(&report)
        .with_context(|| format!("the stack report {}", report.display()))?;
    let mut peaks = HashMap::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        let [image, peak, _reserve] = words[..] else {
            bail!("a stack report line is `IMAGE PEAK RESERVE`: {line:?}");
        };
        peaks.insert(image.to_owned(), peak.parse().context("stack peak")?);
    }
    Ok(peaks)
}

fn verdict(bytes: u64, goal: u64) -> &'static str {
    if bytes <= goal { "ok  " } else { "OVER" }
}

fn kib(bytes: u64) -> String {
    format!("{:.1} KiB", bytes as f64 / KIB as f64)
}

/// The "where the bytes go" tables for one image.
fn breakdown(image: Image, footprint: &Footprint) -> String {
    let mut text = format!(
        "\n{}: flash by crate (with LTO, code inlined into a function counts for that function's crate)\n",
        image.name()
    );
    for (name, bytes) in footprint.flash_by_crate.iter().take(TOP) {
        let share = 100 * bytes / footprint.flash.max(1);
        text.push_str(&format!("  {:>9} {share:>3}%  {name}\n", kib(*bytes)));
    }
    text.push_str(&format!("{}: largest statics\n", image.name()));
    for (name, bytes) in footprint.ram_by_symbol.iter().take(TOP / 2) {
        text.push_str(&format!("  {:>9}  {name}\n", kib(*bytes)));
    }
    text
}

/// Reads an image's footprint from its ELF file.
fn measure(path: &Path) -> Result<Footprint> {
    let data = std::fs::read(path)?;
    let file = object::File::parse(&*data)?;
    let flash = file.segments().map(|s| s.file_range().1).sum();
    let ram_sections: Vec<_> = file
        .sections()
        .filter(|s| s.address() >= RAM_ORIGIN)
        .filter(|s| matches!(s.kind(), SectionKind::Data | SectionKind::UninitializedData))
        .collect();
    let statics = ram_sections.iter().map(|s| s.size()).sum();
    let symbol = |name: &str| {
        file.symbols()
            .find(|s| s.name() == Ok(name))
            .map(|s| s.address())
            .with_context(|| format!("no symbol {name}: not a cortex-m-rt image?"))
    };
    // The stack grows down from _stack_start to _stack_end.
    let (stack_top, stack_bottom) = (symbol("_stack_start")?, symbol("_stack_end")?);
    let statics_start = ram_sections.iter().map(|s| s.address()).min();
    if stack_bottom != RAM_ORIGIN || statics_start.is_some_and(|start| start < stack_top) {
        bail!(
            "the stack must come first in RAM, below the statics, so that an overflow cannot reach them (see memory.x)"
        );
    }
    let stack = stack_top - stack_bottom;
    let mut by_crate: HashMap<String, u64> = HashMap::new();
    let mut ram_by_symbol = Vec::new();
    for sym in file.symbols().filter(|s| s.size() > 0) {
        // `{:#}` leaves out hashes and crate disambiguators.
        let name = format!("{:#}", rustc_demangle::demangle(sym.name().unwrap_or("?")));
        if sym.address() >= RAM_ORIGIN {
            ram_by_symbol.push((static_name(&name), sym.size()));
        } else if matches!(sym.kind(), SymbolKind::Text | SymbolKind::Data) {
            *by_crate.entry(crate_of(&name)).or_default() += sym.size();
        }
    }
    let mut flash_by_crate: Vec<_> = by_crate.into_iter().collect();
    flash_by_crate.sort_by_key(|&(_, bytes)| std::cmp::Reverse(bytes));
    ram_by_symbol.sort_by_key(|&(_, bytes)| std::cmp::Reverse(bytes));
    Ok(Footprint {
        flash,
        statics,
        stack,
        flash_by_crate,
        ram_by_symbol,
    })
}

/// The crate a demangled symbol belongs to: its first path segment; for
/// `<T as Trait>::f` the type's crate, or the trait's for a type without a
/// path (`<u16 as aes::Word>` is aes's code). Symbols with no path at all
/// (the vector table, memcpy) count as runtime and compiler.
fn crate_of(name: &str) -> String {
    let path = match name.strip_prefix('<') {
        Some(inner) => match inner.split_once(" as ") {
            Some((ty, _)) if ty.contains("::") => ty,
            Some((_, tr)) => tr,
            None => inner,
        },
        None => name,
    };
    let path = path
        .trim_start_matches(['<', '&', '*', ' '])
        .trim_start_matches("mut ");
    match path.split_once("::") {
        Some((krate, _)) if !krate.is_empty() => krate.to_owned(),
        _ => "(no crate: runtime and compiler)".to_owned(),
    }
}

/// A static's name without cortex-m-rt's wrapper around `#[entry]`.
fn static_name(name: &str) -> String {
    name.replace("::__cortex_m_rt_main_trampoline", "")
        .replace("::__cortex_m_rt_main", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_crate_of() {
        assert_eq!(crate_of("smoltcp::iface::Interface::poll::h12"), "smoltcp");
        assert_eq!(crate_of("<u16 as aes::soft::Word>::bitslice"), "aes");
        assert_eq!(
            crate_of("<fernchat_mps2::args::Args as core::iter::Iterator>::next"),
            "fernchat_mps2"
        );
        assert_eq!(crate_of("<&T as core::fmt::Debug>::fmt"), "core");
        assert_eq!(crate_of("__INTERRUPTS"), "(no crate: runtime and compiler)");
    }
}
