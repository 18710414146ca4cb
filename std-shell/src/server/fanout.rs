//! The room's fan-out on the std relay: every other client's outbound
//! queue, each bounded by `--max-outbound`.

use super::connection::Connection;
use super::onward::Onward;
use fernchat_core::room::Fanout;
use slab::Slab;
use std::collections::VecDeque;
use std::rc::Rc;

/// Every client's queue, as the room sees them for one frame.
pub struct Queues<'a> {
    /// The clients.
    pub clients: &'a mut Slab<Connection>,
    /// Clients with bytes to write, in the order they were listed.
    pub to_flush: &'a mut VecDeque<usize>,
    /// The most bytes that may wait for one client.
    pub max_outbound: usize,
    /// Bytes queued since the last flush, to flush early in a busy turn.
    pub unflushed: &'a mut usize,
    /// The monotonic clock in milliseconds, for the slow-reader timeout.
    pub now_ms: u64,
    /// Where accepted frames also go: the bridge and the history.
    pub onward: &'a mut Onward,
}

impl Fanout for Queues<'_> {
    fn has_room(&self, from: usize, len: usize) -> bool {
        self.clients
            .iter()
            .all(|(id, c)| id == from || c.outbound.len() + len <= self.max_outbound)
    }

    fn push(&mut self, from: Option<usize>, frame: &[u8]) {
        *self.unflushed += frame.len();
        self.onward.accepted(from, frame);
        let shared: Rc<[u8]> = Rc::from(frame);
        for (id, client) in self.clients.iter_mut() {
            if Some(id) == from {
                continue;
            }
            client.outbound.push(Rc::clone(&shared));
            if let Some(member) = &mut client.member {
                member.queued(self.now_ms);
            }
            list_for_flush(self.to_flush, client, id);
        }
    }
}

/// Lists `client` (number `id`) to be written, once, behind those listed
/// before it.
pub fn list_for_flush(to_flush: &mut VecDeque<usize>, client: &mut Connection, id: usize) {
    if !client.flush_listed {
        client.flush_listed = true;
        to_flush.push_back(id);
    }
}
