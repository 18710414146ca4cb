//! `fernchat-overflow`: a test image that overflows its stack on purpose. It
//! brings the board up as the chat images do, then recurses until the stack
//! runs out; the QEMU tests check that this ends in a reported hard fault
//! (exit status 102) rather than in silently corrupted statics or a hang.
//!
//! Exit status: 102 the overflow faulted (the expected end), 1 the recursion
//! came back, 3 the board could not start.

#![no_std]
#![no_main]
#![deny(unsafe_code)]

use core::fmt::Write;
use core::hint::black_box;
use cortex_m_rt::entry;
use fernchat_mps2::board::{self, Board};
use fernchat_mps2::lan9118::RX_BUF;
use fernchat_mps2::semihosting::{self, Console};

#[entry]
fn main() -> ! {
    static mut NIC_RX: [u8; RX_BUF] = [0; RX_BUF];
    let mut console = Console::open();
    if let Err(e) = Board::init(NIC_RX) {
        board::fail(&mut console, &e);
    }
    let _ = writeln!(console, "overflowing the stack");
    let depth = recurse(0);
    let _ = writeln!(console, "the stack did not overflow ({depth} calls)");
    semihosting::exit(1)
}

/// Calls itself with a 64-byte frame until `depth` reaches a limit that
/// `black_box` hides from the optimiser, so it can be neither a loop nor
/// bounded: in practice, until the stack overflows.
#[inline(never)]
fn recurse(depth: u32) -> u32 {
    let frame = black_box([depth; 16]);
    if depth == black_box(u32::MAX) {
        return depth;
    }
    recurse(depth + 1).wrapping_add(frame[0])
}
