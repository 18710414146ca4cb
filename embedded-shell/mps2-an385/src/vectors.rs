//! The interrupt half of the vector table, as long as the board needs: the
//! mps2-an385 has 32 interrupts (ARM's AN385 application note), all left
//! to cortex-m-rt's default handler (the firmware polls; SysTick is a core
//! exception). Without this, cortex-m-rt reserves the 240 entries any
//! Cortex-M may have: 832 bytes of flash more.

/// The board's interrupts.
const INTERRUPTS: usize = 32;

unsafe extern "C" {
    /// Every interrupt's handler: cortex-m-rt's `DefaultHandler`, by way of
    /// `device.x` (written by build.rs).
    fn Mps2Interrupt();
}

/// The table cortex-m-rt places after the core exceptions (its `device`
/// feature asks the board for it).
// SAFETY: the name and section are the ones cortex-m-rt's link.x expects
// for this table, and nothing else in the firmware uses them.
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
pub static __INTERRUPTS: [unsafe extern "C" fn(); INTERRUPTS] = [Mps2Interrupt; INTERRUPTS];
