//! The three load shapes of issue 3, and the goals each one checks.

/// How fast each sender sends.
#[derive(Clone, Copy, Debug)]
pub enum Pace {
    /// As fast as the socket takes, for at most this many frames.
    Unpaced { frames: usize },
    /// This many frames per second, evenly spread.
    PerSecond(u32),
}

/// One load shape: how many clients, how many of them send, and how fast.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// A, B or C.
    pub name: &'static str,
    /// Connected clients, senders included; every one reads everything.
    pub clients: usize,
    /// Clients 0..senders send.
    pub senders: usize,
    /// How each sender sends.
    pub pace: Pace,
    /// How long the senders send for.
    pub seconds: u64,
    /// What the scenario checks, in words, for the report.
    pub goal: &'static str,
}

impl Scenario {
    /// Scenarios A, B and C, each sending for `seconds`; A's unpaced senders
    /// have `unpaced_frames` frames each.
    pub fn all(seconds: u64, unpaced_frames: usize) -> Vec<Scenario> {
        vec![
            Scenario {
                name: "A",
                clients: 100,
                senders: 10,
                pace: Pace::Unpaced {
                    frames: unpaced_frames,
                },
                seconds,
                goal: "ours: rate of intact frames >= ncat's, 0 frames lost",
            },
            Scenario {
                name: "B",
                clients: 100,
                senders: 10,
                pace: Pace::PerSecond(200),
                seconds,
                goal: "ours: p99 latency <= ncat's",
            },
            Scenario {
                name: "C",
                clients: 1000,
                senders: 5,
                pace: Pace::PerSecond(100),
                seconds,
                goal: "ours: p99 latency <= ncat's, peak RSS <= 16 MiB",
            },
        ]
    }

    /// Frames each sender needs made before the run.
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
