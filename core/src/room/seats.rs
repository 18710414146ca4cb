//! Where the room keeps its members: storage the shell lends, as a
//! [`crate::replay::ReplayStore`] is lent, so that a board keeps it in
//! `.bss` and a desktop in a slab that grows.

use super::PeerIp;
use super::member::Member;
use core::mem::MaybeUninit;

/// A member's number in the room, from its seat: the shell files its
/// connection under it. A seat is given again only after the room has
/// reported its member's [`super::Event::Left`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId(u32);

impl MemberId {
    /// The id of seat `index`.
    pub const fn new(index: u32) -> MemberId {
        MemberId(index)
    }

    /// The seat's index, for the shell's own tables.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

impl core::fmt::Display for MemberId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// The room's seats: a member per id.
pub trait Seats {
    /// The member in seat `id`.
    fn get(&self, id: MemberId) -> Option<&Member>;
    /// The member in seat `id`, to change.
    fn get_mut(&mut self, id: MemberId) -> Option<&mut Member>;
    /// Seats `member`: its id, or `None` when no seat is free.
    fn insert(&mut self, member: Member) -> Option<MemberId>;
    /// Frees seat `id`; false when it was free.
    fn remove(&mut self, id: MemberId) -> bool;
    /// One past the highest id that may be seated: the room's scans go
    /// from 0 to here.
    fn id_bound(&self) -> u32;
    /// Members seated from `ip`, for the per-address limit. The default
    /// scans every seat: a storage with many seats keeps a count instead.
    fn count_from(&self, ip: PeerIp) -> usize {
        (0..self.id_bound())
            .filter_map(|i| self.get(MemberId(i)))
            .filter(|m| !m.is_remote() && m.ip() == ip)
            .count()
    }
}

/// `N` seats in places the caller lent: [`SeatMemory::seats`] makes them.
impl<const N: usize> Seats for [&mut Option<Member>; N] {
    fn get(&self, id: MemberId) -> Option<&Member> {
        self.as_slice().get(id.index())?.as_ref()
    }

    fn get_mut(&mut self, id: MemberId) -> Option<&mut Member> {
        self.as_mut_slice().get_mut(id.index())?.as_mut()
    }

    fn insert(&mut self, member: Member) -> Option<MemberId> {
        let index = self.iter().position(|seat| seat.is_none())?;
        let id = MemberId(u32::try_from(index).ok()?);
        *self[index] = Some(member);
        Some(id)
    }

    fn remove(&mut self, id: MemberId) -> bool {
        match self.as_mut_slice().get_mut(id.index()) {
            Some(seat) if seat.is_some() => {
                **seat = None;
                true
            }
            _ => false,
        }
    }

    fn id_bound(&self) -> u32 {
        u32::try_from(N).unwrap_or(u32::MAX)
    }
}

/// Room for `N` members, all zeros until [`SeatMemory::seats`] sets it up,
/// so that a `static` of it takes no flash (`None` is not all zeros, and an
/// array of them would be copied in from flash).
pub struct SeatMemory<const N: usize> {
    seats: [MaybeUninit<Option<Member>>; N],
}

impl<const N: usize> SeatMemory<N> {
    /// Unset memory; `const`, so it can initialise a `static`.
    pub const fn new() -> Self {
        SeatMemory {
            seats: [const { MaybeUninit::uninit() }; N],
        }
    }

    /// Empties every seat, one by one (no array of them on the stack), and
    /// lends them to a room.
    pub fn seats(&mut self) -> [&mut Option<Member>; N] {
        self.seats.each_mut().map(|seat| seat.write(None))
    }
}

impl<const N: usize> Default for SeatMemory<N> {
    fn default() -> Self {
        Self::new()
    }
}
