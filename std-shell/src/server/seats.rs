//! The room's seats on the std relay: a slab that grows with the room,
//! and a count per address so that admission need not scan 16,384 seats.

use fernchat_core::room::{Member, MemberId, PeerIp, Seats};
use slab::Slab;
use std::collections::HashMap;

/// Members in a slab (an id is its key), and how many come from each
/// address (the remote member not counted).
#[derive(Default)]
pub struct MemberSlab {
    members: Slab<Member>,
    per_ip: HashMap<PeerIp, usize>,
}

impl Seats for MemberSlab {
    fn get(&self, id: MemberId) -> Option<&Member> {
        self.members.get(id.index())
    }

    fn get_mut(&mut self, id: MemberId) -> Option<&mut Member> {
        self.members.get_mut(id.index())
    }

    fn insert(&mut self, member: Member) -> Option<MemberId> {
        let entry = self.members.vacant_entry();
        let key = u32::try_from(entry.key()).ok()?;
        if !member.is_remote() {
            *self.per_ip.entry(member.ip()).or_default() += 1;
        }
        entry.insert(member);
        Some(MemberId::new(key))
    }

    fn remove(&mut self, id: MemberId) -> bool {
        let Some(member) = self.members.try_remove(id.index()) else {
            return false;
        };
        if !member.is_remote()
            && let Some(count) = self.per_ip.get_mut(&member.ip())
        {
            *count -= 1;
            if *count == 0 {
                self.per_ip.remove(&member.ip());
            }
        }
        true
    }

    fn id_bound(&self) -> u32 {
        u32::try_from(self.members.capacity()).unwrap_or(u32::MAX)
    }

    fn count_from(&self, ip: PeerIp) -> usize {
        self.per_ip.get(&ip).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fernchat_core::relay::RelayPolicy;
    use fernchat_core::room::{DEFAULT_LIMITS, Departure, Now, Room};
    use rand_core::{OsRng, UnwrapErr};

    #[test]
    fn test_counts_per_address_follow_admissions_and_departures() {
        let now = Now {
            unix: 1_000,
            millis: 0,
        };
        let policy = RelayPolicy::<1, fernchat_core::replay::ArrayStore<1, 1>>::blind();
        let limits = fernchat_core::room::Limits {
            max_per_ip: 2,
            ..DEFAULT_LIMITS
        };
        let mut room = Room::new(policy, limits, MemberSlab::default(), now);
        let a = room.admit([1; 16], now).unwrap();
        let _b = room.admit([1; 16], now).unwrap();
        assert!(room.admit([1; 16], now).is_err());
        assert_eq!(room.seats().count_from([1; 16]), 2);
        assert!(room.admit_remote(now).is_some());
        assert_eq!(
            room.seats().count_from([0; 16]),
            0,
            "the remote is no address"
        );
        room.leave(a, Departure::Closed);
        let mut rng = UnwrapErr(OsRng);
        let mut none = NoFanout;
        while room.poll_event(now, &mut rng, &mut none).is_some() {}
        assert_eq!(room.seats().count_from([1; 16]), 1);
        assert!(room.admit([1; 16], now).is_ok());
    }

    /// A fan-out with nobody behind it.
    struct NoFanout;

    impl fernchat_core::room::Fanout for NoFanout {
        fn has_room(&self, _: MemberId, _: usize) -> bool {
            true
        }

        fn push(&mut self, _: Option<MemberId>, _: &[u8]) {}
    }
}
