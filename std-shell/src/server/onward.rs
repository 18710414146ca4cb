//! Where a frame the room accepted goes besides the local clients: to the
//! other relays over the bridge (only frames from local clients, so that
//! relays never loop) and into the in-memory history.

use super::bridge::Publisher;
use super::history::Recent;
use fernchat_core::frame::token_of;
use fernchat_core::room::MemberId;

/// The bridge's sending half and the history, either optional.
#[derive(Default)]
pub struct Onward {
    /// The bridge, when the room is bridged.
    pub publisher: Option<Publisher>,
    /// The in-memory history (`--history` on a relay that is not bridged).
    pub recent: Option<Recent>,
    /// The room's member for other relays, whose frames are not sent back.
    pub remote: Option<MemberId>,
}

impl Onward {
    /// The room forwarded `frame` (line feed included) from member `from`.
    pub fn accepted(&mut self, from: Option<MemberId>, frame: &[u8]) {
        if (from.is_none() || from != self.remote)
            && let Some(publisher) = &self.publisher
        {
            publisher.publish(frame);
        }
        if let Some(recent) = &mut self.recent {
            recent.record(token_of(frame));
        }
    }
}
