//! Bringing the board up: clock, NIC, entropy, console and the network
//! setup that QEMU's user networking expects.

use crate::clock::Clock;
use crate::fault;
use crate::lan9118::{Lan9118, Lan9118Error, MPS2_BASE, RX_BUF};
use crate::rng::AesCtrRng;
use crate::semihosting::{self, Console, HostError};
use fernchat_embedded::NetConfig;
use smoltcp::wire::{Ipv4Address, Ipv4Cidr};

/// The firmware's address on QEMU's user network.
pub const ADDRESS: Ipv4Address = Ipv4Address::new(10, 0, 2, 15);
/// QEMU's user-network gateway, which stands for the host's 127.0.0.1.
pub const GATEWAY: Ipv4Address = Ipv4Address::new(10, 0, 2, 2);

/// Why the board did not come up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootError {
    /// The Ethernet controller.
    Nic(Lan9118Error),
    /// Entropy from the host's /dev/urandom.
    Entropy(HostError),
    /// The core peripherals were already taken.
    Peripherals,
}

impl core::fmt::Display for BootError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            BootError::Nic(e) => write!(f, "ethernet: {e}"),
            BootError::Entropy(e) => write!(f, "entropy from /dev/urandom: {e}"),
            BootError::Peripherals => f.write_str("core peripherals already taken"),
        }
    }
}

/// Everything a role needs from the board.
pub struct Board {
    /// The Ethernet controller, a smoltcp `Device`.
    pub nic: Lan9118,
    /// Monotonic and Unix time.
    pub clock: Clock,
    /// IVs and TCP sequence numbers: AES-128-CTR seeded from the host.
    pub rng: AesCtrRng,
    /// 10.0.2.15/24 via 10.0.2.2, with the NIC's MAC address.
    pub net: NetConfig,
}

impl Board {
    /// Guards the stack, starts the clock, resets the NIC (receiving into
    /// `nic_rx`) and seeds the RNG from the host's `/dev/urandom` (a board
    /// with a hardware RNG would read that instead). Only the first call can
    /// succeed: later ones find the core peripherals taken and touch no
    /// hardware.
    pub fn init(nic_rx: &'static mut [u8; RX_BUF]) -> Result<Board, BootError> {
        let core = cortex_m::Peripherals::take().ok_or(BootError::Peripherals)?;
        fault::guard_stack(core.MPU);
        let clock = Clock::start(core.SYST);
        // SAFETY: MPS2_BASE is the board's LAN9118, and this is its only
        // driver: nothing else in the firmware names that address, and the
        // `take` above lets this line run once.
        #[allow(unsafe_code)]
        let nic = unsafe { Lan9118::new(MPS2_BASE, nic_rx) }.map_err(BootError::Nic)?;
        let mut seed = [0u8; 32];
        semihosting::read_host_file(c"/dev/urandom", &mut seed).map_err(BootError::Entropy)?;
        let net = NetConfig {
            mac: nic.mac(),
            address: Ipv4Cidr::new(ADDRESS, 24),
            gateway: Some(GATEWAY),
        };
        Ok(Board {
            nic,
            clock,
            rng: AesCtrRng::from_seed(seed),
            net,
        })
    }
}

/// Prints `error` and ends QEMU with status 3.
pub fn fail(console: &mut Console, error: &dyn core::fmt::Display) -> ! {
    use core::fmt::Write;
    let _ = writeln!(console, "fernchat: cannot start: {error}");
    semihosting::exit(3)
}
