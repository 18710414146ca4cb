//! The PROXY protocol, version 2 (HAProxy's `send-proxy-v2`): the binary
//! header a TCP proxy sends before the bytes it forwards, saying whom it
//! forwards them for. The relay reads it only from `--trusted-proxy`
//! addresses (`docs/PROTOCOL.md` section 14).
//!
//! The header is 16 fixed bytes (the 12-byte signature, the version and
//! command, the address family and transport, the length of what follows),
//! then that many bytes: the addresses and ports, then TLVs, which the
//! relay skips. Only version 2 is read; version 1 (the text form) is not.

use core::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The 12 bytes every version 2 header starts with.
pub const SIGNATURE: [u8; 12] = *b"\r\n\r\n\0\r\nQUIT\n";

/// The bytes of a header before its variable part: the signature, the
/// version and command byte, the family byte and the 16-bit length.
pub const FIXED_LEN: usize = 16;

/// The longest variable part the relay reads (addresses and TLVs). A TCP6
/// address block is 36 bytes; the rest is room for a proxy's TLVs.
pub const MAX_BLOCK: usize = 2048;

/// What a whole, valid header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// `PROXY` over TCP: the connection is forwarded for `source`.
    Proxied {
        /// The client's address and port, as the proxy saw it.
        source: SocketAddr,
        /// The address and port the client connected to, on the proxy.
        destination: SocketAddr,
    },
    /// `LOCAL` (the proxy's own connection, a health check say), or
    /// `PROXY` with the unspecified family: the connection is the proxy's,
    /// and its address is the TCP peer's.
    Local,
}

/// Why bytes are not a header the relay takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    /// The first 12 bytes are not [`SIGNATURE`].
    BadSignature,
    /// The version (the high four bits of byte 13) is not 2.
    BadVersion(u8),
    /// The command (the low four bits of byte 13) is neither `LOCAL` (0)
    /// nor `PROXY` (1).
    BadCommand(u8),
    /// The family byte (14) is not TCP over IPv4 or IPv6 (nor unspecified).
    UnsupportedFamily(u8),
    /// The variable part is longer than [`MAX_BLOCK`].
    TooLong(usize),
    /// The variable part is too short for the family's addresses.
    ShortAddresses(usize),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::BadSignature => f.write_str("no PROXY v2 signature"),
            HeaderError::BadVersion(v) => write!(f, "PROXY version {v}, not 2"),
            HeaderError::BadCommand(c) => write!(f, "unknown PROXY command {c}"),
            HeaderError::UnsupportedFamily(b) => {
                write!(f, "PROXY family 0x{b:02x} is not TCP over IPv4 or IPv6")
            }
            HeaderError::TooLong(n) => {
                write!(
                    f,
                    "PROXY header of {n} bytes after its first 16, over {MAX_BLOCK}"
                )
            }
            HeaderError::ShortAddresses(n) => {
                write!(f, "PROXY address block of {n} bytes is too short")
            }
        }
    }
}

impl std::error::Error for HeaderError {}

/// True when `bytes` begin with the whole [`SIGNATURE`]: a PROXY v2 header
/// (or the start of one).
pub fn starts_with_signature(bytes: &[u8]) -> bool {
    bytes.starts_with(&SIGNATURE)
}

/// How many bytes the header whose first bytes are `start` takes in all:
/// [`FIXED_LEN`] while fewer than that are known, then the fixed part and
/// its variable part. Fails as soon as `start` cannot begin a header the
/// relay takes, so that a reader never waits for bytes it would refuse.
pub fn needed(start: &[u8]) -> Result<usize, HeaderError> {
    let signed = start.len().min(SIGNATURE.len());
    if start[..signed] != SIGNATURE[..signed] {
        return Err(HeaderError::BadSignature);
    }
    if let Some(&version_command) = start.get(12) {
        let version = version_command >> 4;
        if version != 2 {
            return Err(HeaderError::BadVersion(version));
        }
        let command = version_command & 0x0f;
        if command > 1 {
            return Err(HeaderError::BadCommand(command));
        }
    }
    let (Some(&high), Some(&low)) = (start.get(14), start.get(15)) else {
        return Ok(FIXED_LEN);
    };
    let block = usize::from(u16::from_be_bytes([high, low]));
    if block > MAX_BLOCK {
        return Err(HeaderError::TooLong(block));
    }
    Ok(FIXED_LEN + block)
}

/// Reads one whole header from the start of `bytes`: what it says and how
/// many bytes it took, or `Ok(None)` while it is not whole yet (truncated).
/// Bytes after the header are not looked at.
pub fn parse(bytes: &[u8]) -> Result<Option<(Header, usize)>, HeaderError> {
    let len = needed(bytes)?;
    if bytes.len() < len {
        return Ok(None);
    }
    let block = &bytes[FIXED_LEN..len];
    let local = bytes[12] & 0x0f == 0;
    let family = bytes[13];
    if local {
        // Whatever the family, a LOCAL header's addresses are ignored.
        return Ok(Some((Header::Local, len)));
    }
    let header = match family {
        // Unspecified: the receiver is to use the connection's own ends.
        0x00 => Header::Local,
        // TCP over IPv4: source, destination (4 bytes each), then ports.
        0x11 => {
            let a = block
                .get(..12)
                .ok_or(HeaderError::ShortAddresses(block.len()))?;
            let ip = |at: usize| IpAddr::V4(Ipv4Addr::new(a[at], a[at + 1], a[at + 2], a[at + 3]));
            let port = |at: usize| u16::from_be_bytes([a[at], a[at + 1]]);
            Header::Proxied {
                source: SocketAddr::new(ip(0), port(8)),
                destination: SocketAddr::new(ip(4), port(10)),
            }
        }
        // TCP over IPv6: 16 bytes each, then ports.
        0x21 => {
            let a = block
                .get(..36)
                .ok_or(HeaderError::ShortAddresses(block.len()))?;
            let ip = |at: usize| {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(&a[at..at + 16]);
                IpAddr::V6(Ipv6Addr::from(octets))
            };
            let port = |at: usize| u16::from_be_bytes([a[at], a[at + 1]]);
            Header::Proxied {
                source: SocketAddr::new(ip(0), port(32)),
                destination: SocketAddr::new(ip(16), port(34)),
            }
        }
        other => return Err(HeaderError::UnsupportedFamily(other)),
    };
    Ok(Some((header, len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header with `version_command`, `family` and `block`.
    fn header(version_command: u8, family: u8, block: &[u8]) -> Vec<u8> {
        let mut bytes = SIGNATURE.to_vec();
        bytes.push(version_command);
        bytes.push(family);
        bytes.extend_from_slice(&u16::try_from(block.len()).unwrap().to_be_bytes());
        bytes.extend_from_slice(block);
        bytes
    }

    const TCP4: [u8; 12] = [192, 0, 2, 7, 198, 51, 100, 1, 0x9c, 0x40, 0x27, 0x75];

    #[test]
    fn test_tcp4() {
        let mut bytes = header(0x21, 0x11, &TCP4);
        bytes.extend_from_slice(b"after");
        let (parsed, len) = parse(&bytes).unwrap().unwrap();
        assert_eq!(len, 28);
        assert_eq!(
            parsed,
            Header::Proxied {
                source: "192.0.2.7:40000".parse().unwrap(),
                destination: "198.51.100.1:10101".parse().unwrap(),
            }
        );
        assert_eq!(&bytes[len..], b"after");
    }

    #[test]
    fn test_tcp6_with_tlvs() {
        let mut block = Vec::new();
        block.extend_from_slice(&"2001:db8::1".parse::<Ipv6Addr>().unwrap().octets());
        block.extend_from_slice(&"2001:db8::2".parse::<Ipv6Addr>().unwrap().octets());
        block.extend_from_slice(&[0x04, 0xd2, 0x27, 0x75]);
        // A TLV (PP2_TYPE_UNIQUE_ID), skipped.
        block.extend_from_slice(&[0x05, 0x00, 0x02, b'i', b'd']);
        let bytes = header(0x21, 0x21, &block);
        let (parsed, len) = parse(&bytes).unwrap().unwrap();
        assert_eq!(len, bytes.len());
        assert_eq!(
            parsed,
            Header::Proxied {
                source: "[2001:db8::1]:1234".parse().unwrap(),
                destination: "[2001:db8::2]:10101".parse().unwrap(),
            }
        );
    }

    #[test]
    fn test_local_keeps_the_peer() {
        // LOCAL with no addresses, as HAProxy's health checks send it.
        assert_eq!(
            parse(&header(0x20, 0x00, &[])),
            Ok(Some((Header::Local, 16)))
        );
        // LOCAL with addresses: they are ignored.
        assert_eq!(
            parse(&header(0x20, 0x11, &TCP4)),
            Ok(Some((Header::Local, 28)))
        );
        // PROXY with the unspecified family: the same.
        assert_eq!(
            parse(&header(0x21, 0x00, &[])),
            Ok(Some((Header::Local, 16)))
        );
    }

    #[test]
    fn test_truncated_waits() {
        let bytes = header(0x21, 0x11, &TCP4);
        for cut in 0..bytes.len() {
            assert_eq!(parse(&bytes[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(needed(&bytes[..3]), Ok(FIXED_LEN));
        assert_eq!(needed(&bytes[..16]), Ok(28));
    }

    #[test]
    fn test_bad_signature() {
        assert_eq!(
            needed(b"\r\n\r\n\0\r\nQUIT\r"),
            Err(HeaderError::BadSignature)
        );
        // A fernchat frame, and the text PROXY protocol (version 1).
        assert_eq!(needed(b"gAAAAAB"), Err(HeaderError::BadSignature));
        assert_eq!(
            parse(b"PROXY TCP4 192.0.2.7 198.51.100.1 40000 10101\r\n"),
            Err(HeaderError::BadSignature)
        );
        // Refused at the first wrong byte, without waiting for more.
        assert_eq!(needed(b"\r\n\n"), Err(HeaderError::BadSignature));
        assert!(starts_with_signature(&header(0x21, 0x11, &TCP4)));
        assert!(!starts_with_signature(&SIGNATURE[..11]));
    }

    #[test]
    fn test_wrong_version_or_command() {
        assert_eq!(
            parse(&header(0x11, 0x11, &TCP4)),
            Err(HeaderError::BadVersion(1))
        );
        assert_eq!(
            parse(&header(0x31, 0x11, &TCP4)),
            Err(HeaderError::BadVersion(3))
        );
        assert_eq!(
            parse(&header(0x22, 0x11, &TCP4)),
            Err(HeaderError::BadCommand(2))
        );
        // Known from the 13th byte on.
        assert_eq!(
            needed(&header(0x11, 0x11, &TCP4)[..13]),
            Err(HeaderError::BadVersion(1))
        );
    }

    #[test]
    fn test_oversized_length() {
        let mut bytes = SIGNATURE.to_vec();
        bytes.extend_from_slice(&[0x21, 0x11, 0xff, 0xff]);
        assert_eq!(needed(&bytes), Err(HeaderError::TooLong(65535)));
        let most = header(0x21, 0x11, &[0; MAX_BLOCK]);
        assert_eq!(
            parse(&most).map(|p| p.map(|(_, n)| n)),
            Ok(Some(FIXED_LEN + MAX_BLOCK))
        );
        let over = header(0x21, 0x11, &[0; MAX_BLOCK + 1]);
        assert_eq!(parse(&over), Err(HeaderError::TooLong(MAX_BLOCK + 1)));
    }

    #[test]
    fn test_unsupported_or_short() {
        // UDP over IPv4, and a Unix socket.
        assert_eq!(
            parse(&header(0x21, 0x12, &TCP4)),
            Err(HeaderError::UnsupportedFamily(0x12))
        );
        assert_eq!(
            parse(&header(0x21, 0x31, &[0; 216])),
            Err(HeaderError::UnsupportedFamily(0x31))
        );
        assert_eq!(
            parse(&header(0x21, 0x11, &TCP4[..11])),
            Err(HeaderError::ShortAddresses(11))
        );
        assert_eq!(
            parse(&header(0x21, 0x21, &TCP4)),
            Err(HeaderError::ShortAddresses(12))
        );
    }
}
