//! A first-in, first-out line of members threaded through the members
//! themselves (each holds the id of the next), so that it needs no storage
//! of its own: the held senders, and the members with news.

use super::member::Member;
use super::seats::{MemberId, Seats};

/// Which link of a member a line uses.
pub(super) type Link = fn(&mut Member) -> &mut Option<MemberId>;

/// The ends of a line; the links are in the members.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Line {
    head: Option<MemberId>,
    tail: Option<MemberId>,
}

impl Line {
    /// The first in line.
    pub(super) fn head(&self) -> Option<MemberId> {
        self.head
    }

    /// Puts `id` (not in line yet) at the end.
    pub(super) fn push(&mut self, seats: &mut impl Seats, link: Link, id: MemberId) {
        if let Some(member) = seats.get_mut(id) {
            *link(member) = None;
        }
        match self.tail.and_then(|tail| seats.get_mut(tail)) {
            Some(last) => *link(last) = Some(id),
            None => self.head = Some(id),
        }
        self.tail = Some(id);
    }

    /// Takes the first out of line.
    pub(super) fn pop(&mut self, seats: &mut impl Seats, link: Link) -> Option<MemberId> {
        let first = self.head?;
        self.head = seats.get_mut(first).and_then(|m| link(m).take());
        if self.head.is_none() {
            self.tail = None;
        }
        Some(first)
    }

    /// Takes `id` out of line, wherever it stands.
    pub(super) fn unlink(&mut self, seats: &mut impl Seats, link: Link, id: MemberId) {
        if self.head == Some(id) {
            self.pop(seats, link);
            return;
        }
        let mut at = self.head;
        while let Some(prev) = at {
            let next = seats.get_mut(prev).and_then(|m| *link(m));
            if next == Some(id) {
                let after = seats.get_mut(id).and_then(|m| link(m).take());
                if let Some(prev_member) = seats.get_mut(prev) {
                    *link(prev_member) = after;
                }
                if self.tail == Some(id) {
                    self.tail = Some(prev);
                }
                return;
            }
            at = next;
        }
    }
}
