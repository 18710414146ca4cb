//! What the relay says before it closes a connection, and why a member
//! leaves.

use crate::relay::RejectReason;

/// An unauthenticated line from the relay, sent before it closes a
/// connection: `!` and a word, outside the base64url alphabet, so never a
/// token (`docs/PROTOCOL.md` section 6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Notice {
    /// Every slot is taken.
    Full,
    /// Too many connections from this address.
    Busy,
    /// No valid frame came in time.
    Timeout,
    /// Frames waited for this connection and it took none in time.
    Slow,
    /// Too many invalid frames in a row.
    Invalid,
    /// A plain client on a port that speaks TLS (sent in the clear).
    Tls,
}

impl Notice {
    /// Every notice.
    pub const ALL: [Notice; 6] = [
        Notice::Full,
        Notice::Busy,
        Notice::Timeout,
        Notice::Slow,
        Notice::Invalid,
        Notice::Tls,
    ];

    /// The notice as it goes on the wire, line feed included.
    pub const fn line(self) -> &'static [u8] {
        match self {
            Notice::Full => b"!full\n",
            Notice::Busy => b"!busy\n",
            Notice::Timeout => b"!timeout\n",
            Notice::Slow => b"!slow\n",
            Notice::Invalid => b"!invalid\n",
            Notice::Tls => b"!tls\n",
        }
    }

    /// Reads a notice line (without its line ending); `None` for anything
    /// else.
    pub fn parse(line: &[u8]) -> Option<Notice> {
        Notice::ALL
            .into_iter()
            .find(|notice| notice.line().strip_suffix(b"\n") == Some(line))
    }
}

impl core::fmt::Display for Notice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Notice::Full => "the relay is full",
            Notice::Busy => "too many connections from this address",
            Notice::Timeout => "no valid frame in time",
            Notice::Slow => "frames waited too long for this connection",
            Notice::Invalid => "too many invalid frames",
            Notice::Tls => "this port speaks TLS: connect with --tls",
        })
    }
}

/// Why a member left.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Departure {
    /// It closed its side.
    Closed,
    /// The connection was reset, timed out or failed.
    Reset,
    /// Too many invalid frames in a row; the last one's reason.
    TooManyInvalid(RejectReason),
    /// No valid frame within the hello timeout.
    HelloTimeout,
    /// Frames waited for it and it took none within the slow timeout.
    NotReading,
}

impl Departure {
    /// The notice to send before closing, if the relay is the one closing.
    pub fn notice(self) -> Option<Notice> {
        match self {
            Departure::Closed | Departure::Reset => None,
            Departure::TooManyInvalid(_) => Some(Notice::Invalid),
            Departure::HelloTimeout => Some(Notice::Timeout),
            Departure::NotReading => Some(Notice::Slow),
        }
    }
}

impl core::fmt::Display for Departure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Departure::Closed => f.write_str("closed"),
            Departure::Reset => f.write_str("reset or failed"),
            Departure::TooManyInvalid(reason) => {
                write!(f, "too many invalid frames ({reason})")
            }
            Departure::HelloTimeout => f.write_str("no valid frame in time"),
            Departure::NotReading => f.write_str("not reading"),
        }
    }
}
