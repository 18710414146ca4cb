//! The firmware's cryptographic RNG: AES-128 in counter mode, keyed once
//! from 32 bytes of host entropy. The chat code already carries AES, so
//! this costs a few hundred bytes of flash where ChaCha20 took 2.6 KiB.
//! A board with a hardware RNG would seed it from that (or use it).

use aes::Aes128;
use aes::cipher::{BlockCipherEncrypt, KeyInit};
use rand_core::{CryptoRng, RngCore};

/// AES-128-CTR as a random number generator: block `n` of the output is
/// AES(key, nonce + n), as NIST's CTR_DRBG makes it, without reseeding
/// (the firmware's runs are short; a long-lived board would reseed).
pub struct AesCtrRng {
    aes: Aes128,
    counter: u128,
    block: [u8; 16],
    /// Bytes of `block` already given out.
    used: usize,
}

impl AesCtrRng {
    /// A generator from a 32-byte seed: 16 bytes of key, 16 of initial
    /// counter.
    pub fn from_seed(seed: [u8; 32]) -> Self {
        let mut key = [0u8; 16];
        key.copy_from_slice(&seed[..16]);
        let mut counter = [0u8; 16];
        counter.copy_from_slice(&seed[16..]);
        AesCtrRng {
            aes: Aes128::new(&key.into()),
            counter: u128::from_be_bytes(counter),
            block: [0; 16],
            used: 16,
        }
    }
}

impl RngCore for AesCtrRng {
    fn next_u32(&mut self) -> u32 {
        let mut bytes = [0u8; 4];
        self.fill_bytes(&mut bytes);
        u32::from_le_bytes(bytes)
    }

    fn next_u64(&mut self) -> u64 {
        let mut bytes = [0u8; 8];
        self.fill_bytes(&mut bytes);
        u64::from_le_bytes(bytes)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for byte in dest {
            if self.used == self.block.len() {
                self.block = self.counter.to_be_bytes();
                self.aes.encrypt_block((&mut self.block).into());
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            *byte = self.block[self.used];
            // Each output byte is given once.
            self.block[self.used] = 0;
            self.used += 1;
        }
    }
}

impl CryptoRng for AesCtrRng {}
