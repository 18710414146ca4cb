//! The load shapes: A, B and C of issue 3 (our relay against ncat, and
//! against itself with the web port open), K (our relay keyed against
//! itself blind), T (over TLS against plain TCP), M (with `--metrics`
//! against without), D (10,000 clients on our relay alone), N (four relays
//! on NATS against one), and the goal each one checks.

use super::server::ServerKind;

/// Frames a second each of scenario N's senders sends (scenario C's
/// rate): its goal is set at this load.
pub const CLUSTER_GOAL_RATE: u32 = 100;

/// How fast each sender sends.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// As fast as the socket takes, for at most this many frames.
    Unpaced { frames: usize },
    /// This many frames per second, evenly spread.
    PerSecond(u32),
}

/// When the frames are made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tokens {
    /// Before the run, with one timestamp: a blind relay checks only shapes.
    Premade,
    /// By each sender as it sends, stamped with the current time: a keyed
    /// relay checks MAC, freshness and replays.
    AtSend,
}

/// One load shape: how many clients, how many of them send, and how fast.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// A, B, C, K, M or D.
    pub name: &'static str,
    /// Connected clients, senders included; every one reads everything.
    pub clients: usize,
    /// Clients 0..senders send.
    pub senders: usize,
    /// How each sender sends.
    pub pace: Pace,
    /// How long the senders send for.
    pub seconds: u64,
    /// When the frames are made.
    pub tokens: Tokens,
    /// The relay the goal is about, then the one it is compared with, then
    /// any other compared with the first.
    pub relays: &'static [ServerKind],
    /// What the scenario checks, in words, for the report.
    pub goal: &'static str,
}

impl Scenario {
    /// Scenarios A, B, C, K, T, M and D, each sending for `seconds`; the
    /// unpaced senders (A, M) have `unpaced_frames` frames each.
    pub fn all(seconds: u64, unpaced_frames: usize) -> Vec<Scenario> {
        let against_ncat = &[ServerKind::Ours, ServerKind::Ncat, ServerKind::Web];
        vec![
            Scenario {
                name: "A",
                clients: 100,
                senders: 10,
                pace: Pace::Unpaced {
                    frames: unpaced_frames,
                },
                seconds,
                tokens: Tokens::Premade,
                relays: against_ncat,
                goal: "ours: rate of intact frames >= ncat's, 0 frames lost",
            },
            Scenario {
                name: "B",
                clients: 100,
                senders: 10,
                pace: Pace::PerSecond(200),
                seconds,
                tokens: Tokens::Premade,
                relays: against_ncat,
                goal: "ours: p99 latency <= ncat's",
            },
            Scenario {
                name: "C",
                clients: 1000,
                senders: 5,
                pace: Pace::PerSecond(100),
                seconds,
                tokens: Tokens::Premade,
                relays: against_ncat,
                goal: "ours: p99 latency <= ncat's, peak RSS <= 16 MiB",
            },
            Scenario {
                name: "K",
                clients: 100,
                senders: 10,
                pace: Pace::PerSecond(1000),
                seconds,
                tokens: Tokens::AtSend,
                relays: &[ServerKind::Keyed, ServerKind::Ours],
                goal: "keyed: 0 frames lost or corrupted, no sender disconnected",
            },
            Scenario {
                name: "T",
                clients: 100,
                senders: 10,
                pace: Pace::PerSecond(1000),
                seconds,
                tokens: Tokens::Premade,
                relays: &[ServerKind::Tls, ServerKind::Ours],
                goal: "tls: 0 frames lost or corrupted, no sender disconnected",
            },
            Scenario {
                name: "M",
                clients: 100,
                senders: 10,
                pace: Pace::Unpaced {
                    frames: unpaced_frames,
                },
                seconds,
                tokens: Tokens::Premade,
                relays: &[ServerKind::Metered, ServerKind::Ours],
                goal: "metrics: 0 frames lost, server CPU per delivery <= 1.05x without",
            },
            Scenario {
                name: "D",
                clients: 10_000,
                senders: 5,
                pace: Pace::PerSecond(10),
                seconds,
                tokens: Tokens::Premade,
                // ncat cannot hold it: select() caps it at 1,024 descriptors.
                relays: &[ServerKind::Ours],
                goal: "ours: 0 frames lost, p99 <= 100 ms, peak RSS <= 64 MiB",
            },
        ]
    }

    /// Scenario N (`cargo xtask bench cluster`): scenario C's load (or
    /// another `rate` a sender) on four relays bridged over NATS against
    /// the same load on one relay.
    pub fn cluster(seconds: u64, rate: u32) -> Scenario {
        Scenario {
            name: "N",
            clients: 1000,
            senders: 5,
            pace: Pace::PerSecond(rate),
            seconds,
            tokens: Tokens::Premade,
            relays: &[ServerKind::Cluster, ServerKind::Ours],
            goal: "4 relays on NATS at 5x100/s: 0 frames lost, p99 <= 2x one relay's",
        }
    }

    /// Frames each sender may send.
    pub fn frames_per_sender(&self) -> usize {
        match self.pace {
            Pace::Unpaced { frames } => frames,
            Pace::PerSecond(rate) => rate as usize * self.seconds as usize,
        }
    }

    /// The pace, as the table shows it.
    pub fn pace_label(&self) -> String {
        match self.pace {
            Pace::Unpaced { .. } => "unpaced".to_owned(),
            Pace::PerSecond(rate) => format!("{rate}/s"),
        }
    }
}
