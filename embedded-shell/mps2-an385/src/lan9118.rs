//! A polling driver for the SMSC LAN9118 Ethernet controller as QEMU models
//! it on the mps2-an385 board (`hw/net/lan9118.c`, 32-bit bus mode at
//! 0x4020_0000), implementing smoltcp's [`Device`].
//!
//! Frames go through the chip's FIFOs word by word: a receive status word
//! gives a frame's length, its data words follow; a transmit frame is two
//! command words and its data words. No interrupts, no DMA.

use core::ptr::{read_volatile, write_volatile};
use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

/// Where the mps2-an385 maps the controller.
pub const MPS2_BASE: usize = 0x4020_0000;

/// Largest Ethernet frame handled, header included, frame check sequence
/// not: the Ethernet header and the 576-byte datagram every IPv4 host
/// takes, so TCP segments of 536 bytes (the MSS smoltcp advertises). The
/// two frame buffers, the static one receiving and the one on the stack
/// while sending, take 1.8 KiB less than full 1514-byte frames would, for
/// more, smaller packets. Larger frames that arrive are dropped.
const MTU: usize = 14 + 576;
/// The receive buffer: a frame plus its 4-byte check sequence, in whole words.
pub const RX_BUF: usize = (MTU + 4).div_ceil(4) * 4;

// Register offsets (LAN9118 data sheet, section 5).
const RX_DATA_FIFO: usize = 0x00;
const TX_DATA_FIFO: usize = 0x20;
const RX_STATUS_FIFO: usize = 0x40;
const TX_STATUS_FIFO: usize = 0x48;
const INT_STS: usize = 0x58;
const INT_EN: usize = 0x5c;
const BYTE_TEST: usize = 0x64;
const TX_CFG: usize = 0x70;
const HW_CFG: usize = 0x74;
const RX_FIFO_INF: usize = 0x7c;
const TX_FIFO_INF: usize = 0x80;
const PMT_CTRL: usize = 0x84;
const MAC_CSR_CMD: usize = 0xa4;
const MAC_CSR_DATA: usize = 0xa8;

const BYTE_TEST_VALUE: u32 = 0x8765_4321;
const HW_CFG_SRST: u32 = 1;
const PMT_CTRL_READY: u32 = 1;
const TX_CFG_TX_ON: u32 = 1 << 1;
const CSR_BUSY: u32 = 1 << 31;
const CSR_READ: u32 = 1 << 30;
// MAC registers, reached through MAC_CSR_CMD / MAC_CSR_DATA.
const MAC_CR: u32 = 1;
const MAC_ADDRH: u32 = 2;
const MAC_ADDRL: u32 = 3;
const MAC_CR_FDPX: u32 = 1 << 20;
const MAC_CR_TXEN: u32 = 1 << 3;
const MAC_CR_RXEN: u32 = 1 << 2;
// Frame status and commands.
const RX_STATUS_ERROR: u32 = 1 << 15;
const TX_CMD_A_FIRST: u32 = 1 << 13;
const TX_CMD_A_LAST: u32 = 1 << 12;
/// Polls of a self-clearing bit before giving up.
const SPIN_LIMIT: u32 = 100_000;

/// Why the controller could not be brought up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lan9118Error {
    /// BYTE_TEST did not read back its fixed pattern: no LAN9118 there.
    NotFound,
    /// A reset or MAC register access did not finish.
    Timeout,
}

impl core::fmt::Display for Lan9118Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Lan9118Error::NotFound => "no LAN9118 at the expected address",
            Lan9118Error::Timeout => "the LAN9118 did not answer",
        })
    }
}

/// The controller, brought up and owned: only one may exist per base address.
pub struct Lan9118 {
    base: usize,
    mac: [u8; 6],
    /// The last frame received, lent to smoltcp (a `static`: the driver moves).
    rx: &'static mut [u8; RX_BUF],
}

impl Lan9118 {
    /// Resets the controller at `base`, reads its MAC address (QEMU loads it
    /// from its EEPROM model at reset) and enables transmit and receive.
    /// Frames are received into `rx`.
    ///
    /// # Safety
    ///
    /// `base` must be the address of a LAN9118's register block
    /// ([`MPS2_BASE`] on mps2-an385), and nothing else may touch that block
    /// while the driver lives: at most one `Lan9118` per controller. Every
    /// register access of the driver relies on it.
    pub unsafe fn new(base: usize, rx: &'static mut [u8; RX_BUF]) -> Result<Self, Lan9118Error> {
        let mut nic = Lan9118 {
            base,
            mac: [0; 6],
            rx,
        };
        if nic.read(BYTE_TEST) != BYTE_TEST_VALUE {
            return Err(Lan9118Error::NotFound);
        }
        nic.write(HW_CFG, HW_CFG_SRST);
        nic.spin_until(|nic| nic.read(HW_CFG) & HW_CFG_SRST == 0)?;
        nic.spin_until(|nic| nic.read(PMT_CTRL) & PMT_CTRL_READY != 0)?;
        nic.write(INT_EN, 0);
        nic.write(INT_STS, u32::MAX);
        let low = nic.mac_read(MAC_ADDRL)?.to_le_bytes();
        let high = nic.mac_read(MAC_ADDRH)?.to_le_bytes();
        nic.mac = [low[0], low[1], low[2], low[3], high[0], high[1]];
        nic.write(TX_CFG, TX_CFG_TX_ON);
        nic.mac_write(MAC_CR, MAC_CR_FDPX | MAC_CR_TXEN | MAC_CR_RXEN)?;
        Ok(nic)
    }

    /// The controller's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    fn read(&self, offset: usize) -> u32 {
        // SAFETY: `base` is a LAN9118 register block (the contract of `new`)
        // and every offset used is one of its 32-bit registers.
        unsafe { read_volatile((self.base + offset) as *const u32) }
    }

    fn write(&self, offset: usize, value: u32) {
        // SAFETY: as in `read`; writes to these registers touch only the NIC.
        unsafe { write_volatile((self.base + offset) as *mut u32, value) }
    }

    fn spin_until(&self, done: impl Fn(&Self) -> bool) -> Result<(), Lan9118Error> {
        (0..SPIN_LIMIT)
            .find(|_| done(self))
            .map(|_| ())
            .ok_or(Lan9118Error::Timeout)
    }

    fn mac_read(&self, register: u32) -> Result<u32, Lan9118Error> {
        self.write(MAC_CSR_CMD, CSR_BUSY | CSR_READ | register);
        self.spin_until(|nic| nic.read(MAC_CSR_CMD) & CSR_BUSY == 0)?;
        Ok(self.read(MAC_CSR_DATA))
    }

    fn mac_write(&self, register: u32, value: u32) -> Result<(), Lan9118Error> {
        self.write(MAC_CSR_DATA, value);
        self.write(MAC_CSR_CMD, CSR_BUSY | register);
        self.spin_until(|nic| nic.read(MAC_CSR_CMD) & CSR_BUSY == 0)
    }

    /// Moves the next received frame, if any, into the receive buffer; gives
    /// its length. Frames with errors or of impossible sizes are skipped.
    fn receive_frame(&mut self) -> Option<usize> {
        loop {
            if (self.read(RX_FIFO_INF) >> 16) & 0xff == 0 {
                return None;
            }
            let status = self.read(RX_STATUS_FIFO);
            // The length counts the 4-byte frame check sequence.
            let len = ((status >> 16) & 0x3fff) as usize;
            let words = len.div_ceil(4);
            let good = status & RX_STATUS_ERROR == 0 && (14 + 4..=RX_BUF).contains(&len);
            for i in 0..words {
                let word = self.read(RX_DATA_FIFO).to_le_bytes();
                if good {
                    self.rx[4 * i..4 * i + 4].copy_from_slice(&word);
                }
            }
            if good {
                return Some(len - 4);
            }
        }
    }

    /// True when the transmit data FIFO can take a whole frame.
    fn can_transmit(&self) -> bool {
        (self.read(TX_FIFO_INF) & 0xffff) as usize >= MTU + 8
    }

    /// Sends `frame` as one buffer, then drops the transmit status words.
    fn transmit_frame(&self, frame: &[u8]) {
        let len = frame.len() as u32;
        self.write(TX_DATA_FIFO, TX_CMD_A_FIRST | TX_CMD_A_LAST | len);
        self.write(TX_DATA_FIFO, len);
        for chunk in frame.chunks(4) {
            let mut word = [0u8; 4];
            word[..chunk.len()].copy_from_slice(chunk);
            self.write(TX_DATA_FIFO, u32::from_le_bytes(word));
        }
        while (self.read(TX_FIFO_INF) >> 16) & 0xff != 0 {
            self.read(TX_STATUS_FIFO);
        }
    }
}

/// A received frame, lent from the driver's buffer.
pub struct RxToken<'a>(&'a [u8]);

/// Permission to send one frame.
pub struct TxToken<'a>(&'a Lan9118);

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = [0u8; MTU];
        let len = len.min(MTU);
        let result = f(&mut frame[..len]);
        self.0.transmit_frame(&frame[..len]);
        result
    }
}

impl Device for Lan9118 {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let len = self.receive_frame()?;
        let nic = &*self;
        Some((RxToken(&nic.rx[..len]), TxToken(nic)))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        self.can_transmit().then_some(TxToken(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(1);
        caps
    }
}
