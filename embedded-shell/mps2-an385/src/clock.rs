//! Time for the firmware: SysTick counts milliseconds for smoltcp; Unix time
//! is the host's at boot (semihosting SYS_TIME) plus the seconds counted since.

use crate::semihosting;
use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::exception;
use fernchat_embedded::Now;
use smoltcp::time::Instant;

/// The mps2-an385's core clock (SYSCLK), which drives SysTick.
const CORE_HZ: u32 = 25_000_000;

/// Milliseconds since [`Clock::start`], counted by the SysTick exception.
static MILLIS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    // A load and a store, not `fetch_add`: this handler is the only writer
    // and nothing preempts it to write, so no read-modify-write atomic is
    // needed, and Cortex-M0+ (thumbv6m) has none.
    MILLIS.store(
        MILLIS.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

/// A running clock: a 1 kHz tick and the Unix time it started at.
pub struct Clock {
    boot_unix: u64,
    /// Milliseconds counted before the 32-bit counter last wrapped.
    wrapped: u64,
    last: u32,
}

impl Clock {
    /// Starts SysTick at 1 kHz and reads the host's Unix time.
    pub fn start(mut syst: SYST) -> Clock {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(CORE_HZ / 1000 - 1);
        syst.clear_current();
        syst.enable_interrupt();
        syst.enable_counter();
        Clock {
            boot_unix: semihosting::unix_time(),
            wrapped: 0,
            last: 0,
        }
    }

    /// The time now, on both clocks.
    pub fn now(&mut self) -> Now {
        let millis = MILLIS.load(Ordering::Relaxed);
        if millis < self.last {
            self.wrapped += 1 << 32;
        }
        self.last = millis;
        let elapsed = self.wrapped + u64::from(millis);
        Now {
            instant: Instant::from_millis(elapsed as i64),
            unix: self.boot_unix + elapsed / 1000,
        }
    }
}
