//! An in-memory Ethernet hub: every frame one port sends reaches every other
//! port, as on a shared cable; smoltcp's MAC filtering does the rest.

use smoltcp::phy::{self, Device, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

type Queues = Rc<RefCell<Vec<VecDeque<Vec<u8>>>>>;

/// The cable.
#[derive(Default)]
pub struct Hub {
    queues: Queues,
}

impl Hub {
    /// A new port on the hub.
    pub fn port(&self) -> Port {
        let mut queues = self.queues.borrow_mut();
        queues.push(VecDeque::new());
        Port {
            queues: self.queues.clone(),
            index: queues.len() - 1,
        }
    }
}

/// One NIC on the hub.
pub struct Port {
    queues: Queues,
    index: usize,
}

pub struct RxToken(Vec<u8>);

pub struct TxToken {
    queues: Queues,
    from: usize,
}

impl phy::RxToken for RxToken {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for TxToken {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let result = f(&mut frame);
        for (i, queue) in self.queues.borrow_mut().iter_mut().enumerate() {
            if i != self.from {
                queue.push_back(frame.clone());
            }
        }
        result
    }
}

impl Device for Port {
    type RxToken<'a> = RxToken;
    type TxToken<'a> = TxToken;

    fn receive(&mut self, _: Instant) -> Option<(RxToken, TxToken)> {
        let frame = self.queues.borrow_mut()[self.index].pop_front()?;
        Some((RxToken(frame), self.tx()))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken> {
        Some(self.tx())
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = 1514;
        caps
    }
}

impl Port {
    fn tx(&self) -> TxToken {
        TxToken {
            queues: self.queues.clone(),
            from: self.index,
        }
    }
}
