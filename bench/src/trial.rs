//! One scenario against one freshly started server: connect, probe, send,
//! drain, and measure the server's CPU and peak memory alongside.

use super::clients;
use super::frames::Frames;
use super::link::Client;
use super::procfs;
use super::receiver::{self, Control, Received};
use super::scenario::Scenario;
use super::send_times::SendTimes;
use super::sender::{self, Sent};
use super::server::{Server, ServerKind};
use anyhow::{Result, anyhow};
use hdrhistogram::Histogram;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// What one run measured.
pub struct Outcome {
    /// Scenario name.
    pub scenario: &'static str,
    /// Which relay.
    pub server: ServerKind,
    /// Frames the senders wrote.
    pub sent: u64,
    /// Deliveries if nothing were lost: frames sent x (clients - 1).
    pub expected: u64,
    /// Frames received whole and byte for byte (the first time each client
    /// received each one).
    pub intact: u64,
    /// Intact frames a client received again.
    pub repeated: u64,
    /// Lines received that were not an intact frame.
    pub corrupted: u64,
    /// Expected deliveries that arrived neither intact nor corrupted.
    pub lost: u64,
    /// Intact deliveries with no send instant (a generator bug if not 0).
    pub untimed: u64,
    /// Lines the relay wrote itself (notices, a keyed relay's `/leave`).
    pub from_relay: u64,
    /// Clients the server disconnected.
    pub closed: usize,
    /// Senders among them.
    pub senders_closed: usize,
    /// Intact deliveries per second, from the first send to the last one.
    pub rate: f64,
    /// Median send-to-receive latency, microseconds.
    pub p50_us: u64,
    /// 99th percentile latency, microseconds.
    pub p99_us: u64,
    /// A cluster's latency by path.
    pub by_path: Option<PathLatency>,
    /// The server's peak resident set size (VmHWM), KiB; a cluster's is the
    /// sum over its relays and NATS.
    pub peak_rss_kib: u64,
    /// CPU use during the run, in % of one core: server, whole generator,
    /// its receiving thread, and everything else on the machine.
    pub cpu: CpuUse,
    /// The server's CPU time per intact delivery, nanoseconds: its cost
    /// for the work, however much of the machine it was given.
    pub server_ns_per_delivery: f64,
    /// Context switches a second on the whole machine during the run.
    pub switches_per_s: f64,
    /// How long the probe round took to reach every client.
    pub join: Duration,
    /// Paced senders' worst and mean lateness against their schedule.
    pub sender_late: (Duration, Duration),
}

impl Outcome {
    /// One line for the progress log.
    pub fn summary(&self) -> String {
        format!(
            "  {} intact, {} corrupted, {} lost of {} expected; {:.0}/s; p50 {} us, p99 {} us; \
             peak RSS {} KiB; server CPU {:.0}%, generator {:.0}%",
            self.intact,
            self.corrupted,
            self.lost,
            self.expected,
            self.rate,
            self.p50_us,
            self.p99_us,
            self.peak_rss_kib,
            self.cpu.server,
            self.cpu.generator
        )
    }
}

/// A cluster's p50 and p99 latency in microseconds, to clients on the
/// sender's own relay and to those on the other relays (over NATS).
pub struct PathLatency {
    /// (p50, p99) on the sender's relay.
    pub same_relay: (u64, u64),
    /// (p50, p99) across relays.
    pub across: (u64, u64),
}

/// CPU use over a run, each in % of one core.
pub struct CpuUse {
    /// The relay process (a cluster: its relays and NATS together).
    pub server: f64,
    /// The relay's main thread (a cluster: each relay's and NATS's, added),
    /// runnable but waiting for a CPU (the machine was busy).
    pub server_wait: f64,
    /// The load generator, all threads.
    pub generator: f64,
    /// The generator's receiving thread alone.
    pub receiver: f64,
    /// That thread, runnable but waiting for a CPU.
    pub receiver_wait: f64,
    /// The rest of the machine (other processes, interrupts).
    pub others: f64,
}

/// CPU counters at one instant.
struct CpuSample {
    at: Instant,
    server: Duration,
    server_wait: Duration,
    generator: Duration,
    machine: procfs::MachineStat,
}

impl CpuSample {
    /// Takes the sample; the server is the processes `server_pids` together.
    fn take(server_pids: &[u32]) -> Result<CpuSample> {
        let (mut server, mut server_wait) = (Duration::ZERO, Duration::ZERO);
        for &pid in server_pids {
            server += procfs::process_cpu(pid)?;
            server_wait += procfs::process_cpu_wait(pid)?;
        }
        Ok(CpuSample {
            at: Instant::now(),
            server,
            server_wait,
            generator: procfs::own_cpu()?,
            machine: procfs::machine()?,
        })
    }
}

/// Runs `scenario` against a fresh `kind` server (`fernchat` is our binary;
/// `tls` is what TLS clients trust).
pub fn run(
    kind: ServerKind,
    fernchat: &Path,
    scenario: &Scenario,
    frames: Frames<'_>,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Outcome> {
    let server = Server::start(kind, fernchat, scenario.clients, scenario.name)?;
    let tls = tls.filter(|_| kind == ServerKind::Tls);
    let outcome = drive(&server, kind, scenario, frames, tls);
    server.stop()?;
    outcome
}

fn drive(
    server: &Server,
    kind: ServerKind,
    scenario: &Scenario,
    frames: Frames<'_>,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<Outcome> {
    let streams = clients::connect(server.addrs(), scenario.clients, tls)?;
    let sending = streams[..scenario.senders]
        .iter()
        .map(Client::try_clone)
        .collect::<std::io::Result<Vec<_>>>()?;
    let sent = SendTimes::new(frames.frame_count());
    let control = Control::default();
    let (ready_tx, ready_rx) = mpsc::channel();
    let (sent_ref, control_ref) = (&sent, &control);
    let relays = server.addrs().len();
    let measured = std::thread::scope(|scope| {
        let receiving = scope
            .spawn(move || receiver::run(streams, relays, frames, sent_ref, control_ref, ready_tx));
        let joined = |handle: std::thread::ScopedJoinHandle<'_, Result<Received>>| {
            handle
                .join()
                .map_err(|_| anyhow!("the receiving thread panicked"))?
        };
        if ready_rx.recv().is_err() {
            return Err(joined(receiving)
                .err()
                .unwrap_or_else(|| anyhow!("the receiving thread stopped early")));
        }
        let pids = server.pids();
        let before = CpuSample::take(&pids);
        let senders = sender::send(sending, scenario, frames, &sent);
        let written = senders
            .as_ref()
            .map_or(0, |s| s.frames.iter().sum::<usize>()) as u64;
        control.finish(written * (scenario.clients as u64 - 1));
        let received = joined(receiving)?;
        let after = CpuSample::take(&pids)?;
        Ok(Measured {
            frames: written,
            senders: senders?,
            received,
            before: before?,
            after,
            peak_rss_kib: pids
                .iter()
                .map(|&pid| procfs::peak_rss_kib(pid))
                .sum::<Result<u64>>()?,
        })
    })?;
    Ok(outcome(kind, scenario, measured, &sent))
}

/// The raw figures of one run.
struct Measured {
    frames: u64,
    senders: Sent,
    received: Received,
    before: CpuSample,
    after: CpuSample,
    peak_rss_kib: u64,
}

fn outcome(kind: ServerKind, scenario: &Scenario, measured: Measured, sent: &SendTimes) -> Outcome {
    let Measured {
        frames,
        senders,
        received,
        before,
        after,
        peak_rss_kib,
    } = measured;
    let tally = received.tally;
    let expected = frames * (scenario.clients as u64 - 1);
    let start = sent.nanos(before.at);
    let active = tally.last_intact.saturating_sub(start) as f64 / 1e9;
    let wall = after.at.duration_since(before.at).as_secs_f64();
    let percent = |cpu: Duration| 100.0 * cpu.as_secs_f64() / wall;
    let server_cpu = after.server.saturating_sub(before.server);
    let server = percent(server_cpu);
    let generator = percent(after.generator.saturating_sub(before.generator));
    let machine = percent(after.machine.busy.saturating_sub(before.machine.busy));
    let (p50_us, p99_us) = p50_p99(&tally.latency);
    Outcome {
        scenario: scenario.name,
        server: kind,
        sent: frames,
        expected,
        intact: tally.intact,
        repeated: tally.repeated,
        corrupted: tally.corrupted,
        lost: expected.saturating_sub(tally.intact + tally.corrupted),
        untimed: tally.untimed,
        from_relay: tally.from_relay,
        closed: received.closed.len(),
        senders_closed: received
            .closed
            .iter()
            .filter(|&&id| id < scenario.senders)
            .count(),
        rate: if active > 0.0 {
            tally.intact as f64 / active
        } else {
            0.0
        },
        p50_us,
        p99_us,
        by_path: tally.by_path.as_ref().map(|by_path| PathLatency {
            same_relay: p50_p99(&by_path.same_relay),
            across: p50_p99(&by_path.across),
        }),
        peak_rss_kib,
        cpu: CpuUse {
            server,
            server_wait: percent(after.server_wait.saturating_sub(before.server_wait)),
            generator,
            receiver: percent(received.cpu),
            receiver_wait: percent(received.cpu_wait),
            others: (machine - server - generator).max(0.0),
        },
        server_ns_per_delivery: if tally.intact > 0 {
            server_cpu.as_nanos() as f64 / tally.intact as f64
        } else {
            0.0
        },
        switches_per_s: after
            .machine
            .switches
            .saturating_sub(before.machine.switches) as f64
            / wall,
        join: received.join,
        sender_late: (senders.max_late, senders.mean_late),
    }
}

/// A latency histogram's (p50, p99).
fn p50_p99(latency: &Histogram<u64>) -> (u64, u64) {
    (
        latency.value_at_quantile(0.5),
        latency.value_at_quantile(0.99),
    )
}
