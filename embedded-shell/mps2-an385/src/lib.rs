//! fernchat on QEMU's mps2-an385 board (Cortex-M3): the board support that
//! the two firmware images, `fernchat-server` and `fernchat-client`, share.
//!
//! - [`lan9118`]: a polling driver for the board's Ethernet controller, a
//!   smoltcp `Device`;
//! - [`semihosting`]: Unix time, command line, entropy, console and exit
//!   status from the host;
//! - [`clock`]: SysTick milliseconds and Unix time;
//! - [`args`]: the command line's words;
//! - [`board`]: bring-up and the network setup;
//! - [`rng`]: AES-128-CTR, the IVs' random number generator;
//! - [`fault`]: the stack guard, and the panic and hard fault reports;
//! - [`stack`]: the stack's high-water mark, painted at boot;
//! - [`vectors`]: the board's 32 interrupt vectors.
//!
//! `unsafe` lives in [`lan9118`] (register access), [`semihosting`] (host
//! calls), [`stack`] (painting and reading the free stack), [`vectors`]
//! (the interrupt table's linker attributes) and [`fault`]
//! (the MPU, and the HardFault handler cortex-m-rt wants `unsafe`), and in
//! the one place that creates the NIC's driver, [`board::Board::init`]; unsafe functions state their contracts and each
//! block has its `SAFETY` argument. The images themselves deny `unsafe`.

#![no_std]
#![deny(unsafe_code)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

pub mod args;
pub mod board;
pub mod clock;
#[allow(unsafe_code)]
pub mod fault;
#[allow(unsafe_code)]
pub mod lan9118;
pub mod rng;
#[allow(unsafe_code)]
pub mod semihosting;
#[allow(unsafe_code)]
pub mod stack;
#[allow(unsafe_code)]
pub mod vectors;
