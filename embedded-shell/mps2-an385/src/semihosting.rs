//! The host services QEMU offers through ARM semihosting (with
//! `-semihosting-config enable=on,target=native`): Unix time, the command
//! line, reading a host file (entropy), the console and the exit status.
//!
//! Each call is a `bkpt 0xab` trap that QEMU answers; they are slow, so the
//! firmware uses them at start-up and for console lines only.

use cortex_m_semihosting::{hio, nr, syscall1};

/// Semihosting's reason code for a normal application exit.
const ADP_STOPPED_APPLICATION_EXIT: usize = 0x20026;
/// SYS_EXIT_EXTENDED (semihosting 2.0): exit with a status code.
const SYS_EXIT_EXTENDED: usize = 0x20;

/// Why a semihosting call failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostError {
    /// The host refused or failed the call (semihosting disabled?).
    Refused,
}

impl core::fmt::Display for HostError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(
            "the semihosting call failed (is -semihosting-config enable=on,target=native set?)",
        )
    }
}

/// Performs semihosting call `number` on the argument block `block`; gives
/// the host's answer.
///
/// # Safety
///
/// `block` must be the argument block that call `number` specifies, and
/// every address in it must point to memory that is valid, for as many bytes
/// as the block says, for what the call does there: the host reads or writes
/// it during the call.
unsafe fn call(number: usize, block: &mut [usize]) -> isize {
    // SAFETY: the caller's contract; the block itself is live for the call.
    unsafe { syscall1(number, block.as_mut_ptr() as usize) as isize }
}

/// SYS_TIME: the host's Unix time in seconds.
pub fn unix_time() -> u64 {
    // SAFETY: SYS_TIME takes no argument block (R1 must be 0).
    unsafe { syscall1(nr::TIME, 0) as u64 }
}

/// SYS_GET_CMDLINE: the command line (QEMU gives the image's path and the
/// `-append` text) copied into `buf`; gives the part that holds text.
pub fn command_line(buf: &mut [u8]) -> Result<&[u8], HostError> {
    let mut block = [buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: SYS_GET_CMDLINE's block is [buffer, length]: `buf` is writable
    // for its length; the host writes the line there and its length back.
    if unsafe { call(nr::GET_CMDLINE, &mut block) } != 0 {
        return Err(HostError::Refused);
    }
    Ok(&buf[..block[1].min(buf.len())])
}

/// Fills `buf` from the host file `path` (NUL-terminated), e.g. `/dev/urandom`.
pub fn read_host_file(path: &core::ffi::CStr, buf: &mut [u8]) -> Result<(), HostError> {
    let name = path.to_bytes();
    let mut open = [name.as_ptr() as usize, nr::open::R_BINARY, name.len()];
    // SAFETY: SYS_OPEN's block is [path, mode, path length]: `path` is a C
    // string (NUL-terminated, as the call expects), which the host only reads.
    let handle = unsafe { call(nr::OPEN, &mut open) };
    if handle < 0 {
        return Err(HostError::Refused);
    }
    let mut read = [handle as usize, buf.as_mut_ptr() as usize, buf.len()];
    // SAFETY: SYS_READ's block is [handle, buffer, length]: `buf` is
    // writable for its length. It gives the number of bytes it could not read.
    let missed = unsafe { call(nr::READ, &mut read) };
    let mut close = [handle as usize];
    // SAFETY: SYS_CLOSE's block is [handle]: it names no memory.
    unsafe { call(nr::CLOSE, &mut close) };
    if missed == 0 {
        Ok(())
    } else {
        Err(HostError::Refused)
    }
}

/// SYS_EXIT_EXTENDED: ends QEMU with exit status `code`.
pub fn exit(code: u8) -> ! {
    let mut block = [ADP_STOPPED_APPLICATION_EXIT, usize::from(code)];
    // SAFETY: SYS_EXIT_EXTENDED's block is [reason, status]: it names no memory.
    unsafe { call(SYS_EXIT_EXTENDED, &mut block) };
    // Only reached when the host ignores the call.
    loop {
        cortex_m::asm::wfi();
    }
}

/// The host's standard output, for [`core::fmt::Write`].
pub struct Console(Option<hio::HostStream>);

impl Console {
    /// Opens the host's standard output (nothing is printed if that fails).
    pub fn open() -> Self {
        Console(hio::hstdout().ok())
    }

    /// Prints `parts` one after the other, then a line feed. Strings go out
    /// this way rather than through `{}`: formatting a `&str` keeps core's
    /// padding code (0.6 KiB) in flash.
    pub fn line(&mut self, parts: &[&str]) {
        self.parts(parts);
        self.parts(&["\n"]);
    }

    /// Prints `parts` one after the other.
    pub fn parts(&mut self, parts: &[&str]) {
        for part in parts {
            let _ = core::fmt::Write::write_str(self, part);
        }
    }
}

impl core::fmt::Write for Console {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        match &mut self.0 {
            Some(stream) => stream
                .write_all(text.as_bytes())
                .map_err(|()| core::fmt::Error),
            None => Ok(()),
        }
    }
}
