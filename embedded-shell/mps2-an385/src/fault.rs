//! How the firmware fails where the host sees it: a panic ends QEMU with
//! status 101, a hard fault with 102, each after a console line. A stack
//! overflow is made into a hard fault by [`guard_stack`].

use crate::semihosting::{self, Console};
use core::fmt::Write;
use cortex_m::peripheral::MPU;
use cortex_m_rt::exception;

/// The bottom of the stack: memory.x puts the stack at the start of RAM.
const STACK_BOTTOM: u32 = 0x2000_0000;
/// The guard at the bottom of the stack, in bytes: a power of two (an MPU
/// region) larger than any one stack frame deep in a call chain, so that no
/// frame steps over it (the few big ones, of a few KiB, belong to the
/// images' top-level functions), with room for [`HardFault`], which runs on it.
pub const GUARD_BYTES: u32 = 1024;

// MPU registers (ARMv7-M Architecture Reference Manual, B3.5). HFNMIENA is
// left clear: the MPU is off in HardFault and NMI.
const CTRL_ENABLE: u32 = 1;
/// The default memory map wherever no region says otherwise.
const CTRL_PRIVDEFENA: u32 = 1 << 2;
/// RBAR also selects the region, by the number in its low bits (0 here).
const RBAR_VALID: u32 = 1 << 4;
const RASR_ENABLE: u32 = 1;
/// RASR's SIZE field: the region is 2^(SIZE + 1) bytes.
const RASR_SIZE_SHIFT: u32 = 1;
/// Never executed. AP (bits 26:24) stays 0: no access at all.
const RASR_XN: u32 = 1 << 28;

/// Makes the lowest [`GUARD_BYTES`] of the stack fault on any access, so
/// that an overflow ends in [`HardFault`] instead of running on below RAM.
/// The MPU stays off in HardFault itself, which then runs on the guard.
pub fn guard_stack(mpu: MPU) {
    let size = (GUARD_BYTES.trailing_zeros() - 1) << RASR_SIZE_SHIFT;
    // SAFETY: one region, over the bottom of the stack, which no code may
    // reach; everything else keeps the default memory map, so no access that
    // worked before faults now.
    unsafe {
        mpu.rbar.write(STACK_BOTTOM | RBAR_VALID);
        mpu.rasr.write(RASR_XN | size | RASR_ENABLE);
        mpu.ctrl.write(CTRL_PRIVDEFENA | CTRL_ENABLE);
    }
    // The new map applies to every access after this point.
    cortex_m::asm::dsb();
    cortex_m::asm::isb();
}

/// Ends QEMU with status 101. The message is left out on purpose: formatting
/// it would keep every panic message, location and formatting path in
/// flash (13 KiB more, measured).
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    let _ = writeln!(Console::open(), "fernchat: panic");
    semihosting::exit(101)
}

/// Ends QEMU with status 102 on any fault the firmware does not handle: a
/// stack overflow into the guard, a bus error, an undefined instruction.
/// After an overflow it runs on what is left of the guard, so it formats
/// nothing.
#[exception(trampoline = false)]
unsafe fn HardFault() -> ! {
    let _ = Console::open().write_str("fernchat: hard fault\n");
    semihosting::exit(102)
}
