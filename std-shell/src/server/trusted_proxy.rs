//! `--trusted-proxy`: the addresses whose connections say, in a PROXY
//! header (chat port) or in `X-Forwarded-For` (web port), whom they carry
//! (`docs/PROTOCOL.md` section 14).

use core::fmt;
use core::str::FromStr;
use std::net::IpAddr;

/// One `--trusted-proxy` value: an address, or a network in CIDR notation
/// (`10.0.0.0/8`, `fd00::/8`, `::1/128`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet {
    /// The network's address, its host bits cleared.
    addr: IpAddr,
    /// How many leading bits an address must share with `addr`.
    prefix: u8,
}

impl ProxyNet {
    /// True when `ip` is in this network; an IPv4-mapped IPv6 address (an
    /// IPv4 client on a dual-stack socket) counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask_v4(u32::from(ip), self.prefix) == u32::from(net)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask_v6(u128::from(ip), self.prefix) == u128::from(net)
            }
            _ => false,
        }
    }
}

/// `bits` with all but its first `prefix` bits cleared.
fn mask_v4(bits: u32, prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p => bits & (u32::MAX << (32 - u32::from(p))),
    }
}

/// `bits` with all but its first `prefix` bits cleared.
fn mask_v6(bits: u128, prefix: u8) -> u128 {
    match prefix {
        0 => 0,
        p => bits & (u128::MAX << (128 - u32::from(p))),
    }
}

/// Why a `--trusted-proxy` value is not an address or network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadProxyNet(String);

impl fmt::Display for BadProxyNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadProxyNet {}

impl FromStr for ProxyNet {
    type Err = BadProxyNet;

    /// `ADDR` (the address alone) or `ADDR/PREFIX`; host bits are cleared
    /// (`10.1.2.3/8` is `10.0.0.0/8`), and an IPv4-mapped IPv6 network is
    /// taken as its IPv4 network.
    fn from_str(spec: &str) -> Result<ProxyNet, BadProxyNet> {
        let (addr, prefix) = match spec.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (spec, None),
        };
        let addr: IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| BadProxyNet(format!("{addr:?} is not an IP address")))?;
        let most = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => most,
            Some(prefix) => prefix
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= most)
                .ok_or_else(|| BadProxyNet(format!("/{prefix}: a prefix is 0 to {most}")))?,
        };
        let (addr, prefix) = match addr {
            IpAddr::V6(v6) if prefix >= 96 && v6.to_ipv4_mapped().is_some() => {
                (addr.to_canonical(), prefix - 96)
            }
            _ => (addr, prefix),
        };
        let addr = match addr {
            IpAddr::V4(v4) => IpAddr::V4(mask_v4(u32::from(v4), prefix).into()),
            IpAddr::V6(v6) => IpAddr::V6(mask_v6(u128::from(v6), prefix).into()),
        };
        Ok(ProxyNet { addr, prefix })
    }
}

impl fmt::Display for ProxyNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Every `--trusted-proxy` of a relay.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<ProxyNet>);

impl TrustedProxies {
    /// The proxies of `nets`.
    pub fn new(nets: &[ProxyNet]) -> TrustedProxies {
        TrustedProxies(nets.to_vec())
    }

    /// True when a connection from `ip` is a trusted proxy's.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// True when no proxy is trusted.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, net) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{net}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(spec: &str) -> ProxyNet {
        spec.parse().unwrap()
    }

    fn ip(spec: &str) -> IpAddr {
        spec.parse().unwrap()
    }

    #[test]
    fn test_addresses_and_networks() {
        assert!(net("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!net("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(net("10.0.0.0/8").contains(ip("10.200.3.4")));
        assert!(!net("10.0.0.0/8").contains(ip("11.0.0.1")));
        assert!(
            net("10.1.2.3/8").contains(ip("10.9.9.9")),
            "host bits cleared"
        );
        assert!(net("0.0.0.0/0").contains(ip("192.0.2.1")));
        assert!(
            !net("0.0.0.0/0").contains(ip("::1")),
            "IPv4 nets hold no IPv6"
        );
        assert!(net("::1/128").contains(ip("::1")));
        assert!(net("::1").contains(ip("::1")));
        assert!(net("[::1]").contains(ip("::1")));
        assert!(net("fd00::/8").contains(ip("fdab::1")));
        assert!(!net("fd00::/8").contains(ip("fe80::1")));
        assert!(net("::/0").contains(ip("2001:db8::1")));
        assert_eq!(net("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(net("2001:db8::1/32").to_string(), "2001:db8::/32");
    }

    #[test]
    fn test_ipv4_mapped() {
        // An IPv4 proxy on a dual-stack socket arrives IPv4-mapped.
        assert!(net("127.0.0.1").contains(ip("::ffff:127.0.0.1")));
        assert!(net("10.0.0.0/8").contains(ip("::ffff:10.1.1.1")));
        assert!(net("::ffff:10.0.0.0/104").contains(ip("10.1.1.1")));
        assert_eq!(net("::ffff:10.0.0.0/104").to_string(), "10.0.0.0/8");
    }

    #[test]
    fn test_bad_values() {
        for bad in [
            "",
            "localhost",
            "10.0.0.0/33",
            "::/129",
            "10.0.0.0/",
            "1.2.3.4/x",
        ] {
            assert!(bad.parse::<ProxyNet>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn test_list() {
        let proxies = TrustedProxies::new(&[net("127.0.0.1"), net("fd00::/8")]);
        assert!(proxies.contains(ip("127.0.0.1")));
        assert!(proxies.contains(ip("fd00::5")));
        assert!(!proxies.contains(ip("192.0.2.1")));
        assert!(TrustedProxies::default().is_empty());
        assert!(!TrustedProxies::default().contains(ip("127.0.0.1")));
        assert_eq!(proxies.to_string(), "127.0.0.1/32, fd00::/8");
    }
}
