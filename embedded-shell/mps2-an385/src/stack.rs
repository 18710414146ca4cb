//! The stack's high-water mark: [`paint`] fills the free stack with a
//! pattern at boot, [`peak`] finds how far down the pattern was
//! overwritten. The images print it (the client as it exits, the relay when
//! a client leaves) and `cargo xtask size` checks it against the stack
//! reserve.

use crate::fault::GUARD_BYTES;

/// The word the free stack is painted with.
const PAINT: u32 = 0xC0DE_57AC;
/// Bytes left unpainted under the stack pointer when [`paint`] runs: its
/// own frame and the calls it makes.
const MARGIN: u32 = 256;

unsafe extern "C" {
    /// The top of the stack (cortex-m-rt's link.x, from memory.x).
    static _stack_start: u32;
    /// The bottom of the stack.
    static _stack_end: u32;
}

/// The stack reserve's bounds, bottom and top, from the linker script.
fn bounds() -> (u32, u32) {
    (
        core::ptr::addr_of!(_stack_end) as u32,
        core::ptr::addr_of!(_stack_start) as u32,
    )
}

/// The stack reserve, in bytes (the MPU guard at its bottom included).
pub fn reserve() -> u32 {
    let (bottom, top) = bounds();
    top - bottom
}

/// Paints the stack from above the guard up to just under the stack
/// pointer. Call it first thing in `main`, before the guard is armed and
/// before any deep call.
#[inline(never)]
pub fn paint() {
    let (bottom, _) = bounds();
    let below_sp = cortex_m::register::msp::read().saturating_sub(MARGIN) & !3;
    let mut at = bottom + GUARD_BYTES;
    while at < below_sp {
        // SAFETY: `at` is a word-aligned address in the stack reserve,
        // above the guard (not yet armed) and below the stack pointer less
        // a margin: memory that no live frame uses, which this only writes.
        unsafe { core::ptr::write_volatile(at as *mut u32, PAINT) };
        at += 4;
    }
}

/// The most stack used since [`paint`], in bytes from the top: the
/// distance to the lowest word that no longer holds the pattern.
pub fn peak() -> u32 {
    let (bottom, top) = bounds();
    let mut at = bottom + GUARD_BYTES;
    while at < top {
        // SAFETY: a word-aligned address in the stack reserve above the
        // guard: always mapped and readable.
        let word = unsafe { core::ptr::read_volatile(at as *const u32) };
        if word != PAINT {
            break;
        }
        at += 4;
    }
    top - at
}
