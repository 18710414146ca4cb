//! Where an interface sits on its network, and the smoltcp interface for it.

use smoltcp::iface::{Config, Interface};
use smoltcp::phy::Device;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address, Ipv4Cidr};

/// A static IPv4 setup: MAC address, address with prefix, default gateway.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetConfig {
    /// The NIC's Ethernet address (must be unicast).
    pub mac: [u8; 6],
    /// This host's address and prefix, e.g. 10.0.2.15/24.
    pub address: Ipv4Cidr,
    /// The default route, if any (e.g. QEMU user networking's 10.0.2.2).
    pub gateway: Option<Ipv4Address>,
}

impl NetConfig {
    /// A smoltcp interface configured this way over `device`.
    pub(crate) fn interface<D: Device>(
        &self,
        device: &mut D,
        seed: u64,
        now: smoltcp::time::Instant,
    ) -> Interface {
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(self.mac)));
        config.random_seed = seed;
        let mut iface = Interface::new(config, device, now);
        iface.update_ip_addrs(|addrs| {
            // One address always fits the interface's address list.
            let _ = addrs.push(IpCidr::Ipv4(self.address));
        });
        if let Some(gateway) = self.gateway {
            // Only fails for a full route table, which starts empty.
            let _ = iface.routes_mut().add_default_ipv4_route(gateway);
        }
        iface
    }
}
