//! fernchat on QEMU's mps2-an385 board (Cortex-M3): the board support that
//! the two firmware images, `fernchat-server` and `fernchat-client`, share.
//!
//! - [`lan9118`]: a polling driver for the board's Ethernet controller, a
//!   smoltcp `Device`;
//! - [`semihosting`]: Unix time, command line, entropy, console and exit
//!   status from the host;
//! - [`clock`]: SysTick milliseconds and Unix time;
//! - [`args`]: the command line's words;
//! - [`board`]: bring-up and the network setup.
//!
//! `unsafe` lives in [`lan9118`] (register access) and [`semihosting`] (host
//! calls), whose unsafe functions state their contracts, and in the one place
//! that creates the NIC's driver, [`board::Board::init`]; each block has its
//! `SAFETY` argument. The images themselves deny `unsafe`.

#![no_std]
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod args;
pub mod board;
pub mod clock;
#[allow(unsafe_code)]
pub mod lan9118;
#[allow(unsafe_code)]
pub mod semihosting;

use core::fmt::Write;

/// Ends QEMU with status 101. The message is left out on purpose: formatting
/// it would keep every panic message, location and formatting path in
/// flash (13 KiB more, measured).
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    let _ = writeln!(semihosting::Console::open(), "fernchat: panic");
    semihosting::exit(101)
}
