//! The relay's connected clients, filed under their room [`MemberId`]s,
//! and the room's fan-out over their queues.

use super::connection::Connection;
use super::onward::Onward;
use fernchat_core::room::{Fanout, MemberId};
use std::collections::VecDeque;
use std::rc::Rc;

/// Every connection in the room, by the index of its member id.
#[derive(Default)]
pub struct Clients {
    slots: Vec<Option<Connection>>,
    count: usize,
}

impl Clients {
    /// Clients now.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Client `id`.
    pub fn get_mut(&mut self, id: MemberId) -> Option<&mut Connection> {
        self.slots.get_mut(id.index())?.as_mut()
    }

    /// Files `client` under `id`, a seat the room has just given.
    pub fn insert(&mut self, id: MemberId, client: Connection) {
        if self.slots.len() <= id.index() {
            self.slots.resize_with(id.index() + 1, || None);
        }
        if self.slots[id.index()].replace(client).is_none() {
            self.count += 1;
        }
    }

    /// Takes client `id` out.
    pub fn remove(&mut self, id: MemberId) -> Option<Connection> {
        let client = self.slots.get_mut(id.index())?.take()?;
        self.count -= 1;
        Some(client)
    }

    /// Every client, with its id.
    pub fn iter(&self) -> impl Iterator<Item = (MemberId, &Connection)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((id_of(i), c.as_ref()?)))
    }

    /// Every client, with its id, to change.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (MemberId, &mut Connection)> {
        self.slots
            .iter_mut()
            .enumerate()
            .filter_map(|(i, c)| Some((id_of(i), c.as_mut()?)))
    }
}

/// The id filed at index `i` (an index came from an id).
fn id_of(i: usize) -> MemberId {
    MemberId::new(u32::try_from(i).unwrap_or(u32::MAX))
}

/// Every client's queue, as the room sees them for one call.
pub struct Queues<'a> {
    /// The clients.
    pub clients: &'a mut Clients,
    /// Clients with bytes to write, in the order they were listed.
    pub to_flush: &'a mut VecDeque<MemberId>,
    /// The most bytes that may wait for one client.
    pub max_outbound: usize,
    /// Bytes queued since the last flush, to flush early in a busy turn.
    pub unflushed: &'a mut usize,
    /// Where accepted frames also go: the bridge and the history.
    pub onward: &'a mut Onward,
}

impl Fanout for Queues<'_> {
    fn has_room(&self, from: MemberId, len: usize) -> bool {
        self.clients
            .iter()
            .all(|(id, c)| id == from || c.outbound.len() + len <= self.max_outbound)
    }

    fn push(&mut self, from: Option<MemberId>, frame: &[u8]) {
        *self.unflushed += frame.len();
        self.onward.accepted(from, frame);
        let shared: Rc<[u8]> = Rc::from(frame);
        for (id, client) in self.clients.iter_mut() {
            if Some(id) == from {
                continue;
            }
            client.outbound.push(Rc::clone(&shared));
            // Its flush tells the room whether the frame waits.
            list_for_flush(self.to_flush, client, id);
        }
    }
}

/// Lists `client` (number `id`) to be written, once, behind those listed
/// before it.
pub fn list_for_flush(to_flush: &mut VecDeque<MemberId>, client: &mut Connection, id: MemberId) {
    if !client.flush_listed {
        client.flush_listed = true;
        to_flush.push_back(id);
    }
}
