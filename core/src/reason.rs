//! One vocabulary of why a frame was refused or a message dropped, for
//! every part that counts or shows it: the relay's summaries and metrics,
//! the client's drop report and the page. Each reason has its index (the
//! same in every build), its metric slug and its labels.

use crate::fernet::TokenError;
use crate::frame::FrameError;
use crate::relay::RejectReason;
use crate::session::DropReason;
use crate::tally::Refusal;

/// Why a frame was refused (by a relay) or a message dropped (by a
/// client).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    /// A frame longer than 4096 bytes.
    TooLong,
    /// A frame holding a byte outside base64url.
    NotBase64url,
    /// Not a Fernet token.
    Malformed,
    /// Its MAC does not verify: forged, corrupted or another key.
    BadMac,
    /// It decrypts to bad padding.
    BadPadding,
    /// Dated too far ahead.
    FromTheFuture,
    /// Older than the TTL.
    Expired,
    /// Seen before.
    Replayed,
    /// Older than anything the replay cache remembers.
    Unverifiable,
    /// Valid, but past the sender's rate limit (relays only).
    RateLimited,
}

impl Reason {
    /// Every reason, in [`Reason::index`]'s order.
    pub const ALL: [Reason; 10] = [
        Reason::TooLong,
        Reason::NotBase64url,
        Reason::Malformed,
        Reason::BadMac,
        Reason::BadPadding,
        Reason::FromTheFuture,
        Reason::Expired,
        Reason::Replayed,
        Reason::Unverifiable,
        Reason::RateLimited,
    ];

    /// How many reasons there are: every index is below it.
    pub const COUNT: usize = Reason::ALL.len();

    /// Its place in [`Reason::ALL`]: counters kept per reason are arrays in
    /// this order.
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Its name in metrics (`reason="bad_mac"`).
    pub const fn slug(self) -> &'static str {
        match self {
            Reason::TooLong => "too_long",
            Reason::NotBase64url => "not_base64url",
            Reason::Malformed => "malformed",
            Reason::BadMac => "bad_mac",
            Reason::BadPadding => "bad_padding",
            Reason::FromTheFuture => "from_the_future",
            Reason::Expired => "expired",
            Reason::Replayed => "replayed",
            Reason::Unverifiable => "unverifiable",
            Reason::RateLimited => "rate_limited",
        }
    }

    /// Its short label, in counts (`4800 malformed, 12 bad MAC`).
    pub const fn label(self) -> &'static str {
        match self {
            Reason::TooLong => "too long",
            Reason::NotBase64url => "not base64url",
            Reason::Malformed => "malformed",
            Reason::BadMac => "bad MAC",
            Reason::BadPadding => "bad padding",
            Reason::FromTheFuture => "from the future",
            Reason::Expired => "expired",
            Reason::Replayed => "replayed",
            Reason::Unverifiable => "unverifiable",
            Reason::RateLimited => "over the rate limit",
        }
    }

    /// What it means, in a sentence's words: the `Display` of every error
    /// type that carries it.
    pub const fn explanation(self) -> &'static str {
        match self {
            Reason::TooLong => "frame longer than 4096 bytes",
            Reason::NotBase64url => "frame holds a byte outside base64url",
            Reason::Malformed => "malformed token",
            Reason::BadMac => "bad MAC (forged, corrupted or another key)",
            Reason::BadPadding => "bad padding",
            Reason::FromTheFuture => "timestamp too far in the future",
            Reason::Expired => "expired",
            Reason::Replayed => "replayed",
            Reason::Unverifiable => "too old for the replay cache to tell if it is a replay",
            Reason::RateLimited => "over the rate limit",
        }
    }
}

impl core::fmt::Display for Reason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.explanation())
    }
}

impl From<FrameError> for Reason {
    fn from(error: FrameError) -> Reason {
        match error {
            FrameError::FrameTooLong => Reason::TooLong,
            FrameError::InvalidFrame => Reason::NotBase64url,
        }
    }
}

impl From<TokenError> for Reason {
    fn from(error: TokenError) -> Reason {
        match error {
            TokenError::Malformed => Reason::Malformed,
            TokenError::BadMac => Reason::BadMac,
            TokenError::BadPadding => Reason::BadPadding,
            TokenError::FromTheFuture => Reason::FromTheFuture,
            TokenError::Expired => Reason::Expired,
        }
    }
}

impl From<RejectReason> for Reason {
    fn from(reason: RejectReason) -> Reason {
        match reason {
            RejectReason::Frame(e) => e.into(),
            RejectReason::Token(e) => e.into(),
            RejectReason::Replayed => Reason::Replayed,
            RejectReason::Unverifiable => Reason::Unverifiable,
        }
    }
}

impl From<DropReason> for Reason {
    fn from(reason: DropReason) -> Reason {
        match reason {
            DropReason::Frame(e) => e.into(),
            DropReason::Token(e) => e.into(),
            DropReason::Replayed => Reason::Replayed,
            DropReason::Unverifiable => Reason::Unverifiable,
        }
    }
}

impl From<Refusal> for Reason {
    fn from(refusal: Refusal) -> Reason {
        match refusal {
            Refusal::Rejected(reason) => reason.into(),
            Refusal::RateLimited => Reason::RateLimited,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;

    #[test]
    fn test_indexes_slugs_and_labels_are_one_each() {
        for (i, reason) in Reason::ALL.into_iter().enumerate() {
            assert_eq!(reason.index(), i);
            for other in &Reason::ALL[..i] {
                assert_ne!(reason.slug(), other.slug());
                assert_ne!(reason.label(), other.label());
            }
        }
    }

    #[test]
    fn test_every_error_says_what_its_reason_explains() {
        let frame = [FrameError::FrameTooLong, FrameError::InvalidFrame];
        for e in frame {
            assert_eq!(e.to_string(), Reason::from(e).explanation());
        }
        let token = [
            TokenError::Malformed,
            TokenError::BadMac,
            TokenError::BadPadding,
            TokenError::FromTheFuture,
            TokenError::Expired,
        ];
        for e in token {
            assert_eq!(e.to_string(), Reason::from(e).explanation());
        }
        for r in [RejectReason::Replayed, RejectReason::Unverifiable] {
            assert_eq!(r.to_string(), Reason::from(r).explanation());
        }
        assert_eq!(
            Refusal::RateLimited.to_string(),
            Reason::RateLimited.label()
        );
    }
}
