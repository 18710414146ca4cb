//! CPU time, peak memory and machine load, read from /proc.

use anyhow::{Context, Result, anyhow};
use std::fs::File;
use std::io::Read;
use std::time::Duration;

/// CPU time (user + system) of process `pid`.
pub fn process_cpu(pid: u32) -> Result<Duration> {
    stat_cpu(&format!("/proc/{pid}/stat"))
}

/// CPU time of this process, all threads.
pub fn own_cpu() -> Result<Duration> {
    stat_cpu("/proc/self/stat")
}

/// CPU time of the calling thread.
pub fn thread_cpu() -> Result<Duration> {
    stat_cpu("/proc/thread-self/stat")
}

/// Time process `pid`'s main thread spent runnable but waiting for a CPU
/// (the second field of its schedstat).
pub fn process_cpu_wait(pid: u32) -> Result<Duration> {
    schedstat_wait(&format!("/proc/{pid}/schedstat"))
}

/// Time the calling thread spent runnable but waiting for a CPU.
pub fn thread_cpu_wait() -> Result<Duration> {
    schedstat_wait("/proc/thread-self/schedstat")
}

/// Connections waiting in the accept queue of the IPv4 socket listening on
/// `port`, if there is one. Listening sockets come first in /proc/net/tcp,
/// so only its head is read: the whole table grows with every connection.
pub fn accept_queue(port: u16) -> Result<Option<u64>> {
    const HEAD: u64 = 32 * 1024;
    const LISTEN: &str = "0A";
    let mut table = String::new();
    File::open("/proc/net/tcp")
        .and_then(|file| file.take(HEAD).read_to_string(&mut table))
        .context("cannot read /proc/net/tcp")?;
    let local = format!(":{port:04X}");
    Ok(table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (address, state, queues) = (fields.get(1)?, fields.get(3)?, fields.get(4)?);
        if !address.ends_with(&local) || *state != LISTEN {
            return None;
        }
        let (_, waiting) = queues.split_once(':')?;
        u64::from_str_radix(waiting, 16).ok()
    }))
}

/// Peak resident set size of process `pid` (VmHWM), in KiB.
pub fn peak_rss_kib(pid: u32) -> Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow!("no VmHWM in {path}"))
}

/// Whole-machine counters since boot, from one read of /proc/stat.
pub struct MachineStat {
    /// CPU time spent busy (all cores, anything but idle and I/O wait).
    pub busy: Duration,
    /// Context switches (`ctxt`).
    pub switches: u64,
}

/// Reads [`MachineStat`].
pub fn machine() -> Result<MachineStat> {
    let stat = std::fs::read_to_string("/proc/stat").context("cannot read /proc/stat")?;
    let line = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .ok_or_else(|| anyhow!("no cpu line in /proc/stat"))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|t| t.parse().unwrap_or(0))
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is in user).
    let busy: u64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    let switches = stat
        .lines()
        .find_map(|l| l.strip_prefix("ctxt "))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| anyhow!("no ctxt line in /proc/stat"))?;
    Ok(MachineStat {
        busy: from_ticks(busy),
        switches,
    })
}

/// The load averages, as /proc/loadavg gives them.
pub fn load_average() -> Result<String> {
    let text = std::fs::read_to_string("/proc/loadavg").context("cannot read /proc/loadavg")?;
    Ok(text
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" "))
}

/// Fields 14 and 15 (utime, stime) of a stat file; the command name in
/// field 2 may hold spaces, so fields are counted after its `)`.
fn stat_cpu(path: &str) -> Result<Duration> {
    let stat = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    let after_name = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("{path}: no command name"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| -> Result<u64> {
        fields
            .get(n - 3)
            .and_then(|f| f.parse().ok())
            .ok_or_else(|| anyhow!("{path}: no field {n}"))
    };
    Ok(from_ticks(field(14)? + field(15)?))
}

/// The run-queue wait (nanoseconds, second field) of a schedstat file.
fn schedstat_wait(path: &str) -> Result<Duration> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    let nanos = text
        .split_whitespace()
        .nth(1)
        .and_then(|f| f.parse().ok())
        .ok_or_else(|| anyhow!("{path}: no wait time"))?;
    Ok(Duration::from_nanos(nanos))
}

fn from_ticks(ticks: u64) -> Duration {
    Duration::from_secs_f64(ticks as f64 / rustix::param::clock_ticks_per_second() as f64)
}
