//! The printed result: one row per run, the ratios of each scenario's two
//! relays, the goals, and whether the load generator kept up.

use super::key_file;
use super::scenario::{CLUSTER_GOAL_RATE, Pace, Scenario, Tokens};
use super::server::ServerKind;
use super::summary::Summary;
use super::trial::Outcome;

/// Above this share of one core, the generator's receiving thread may be
/// what limits a run rather than the server.
const GENERATOR_BUSY: f64 = 90.0;
/// Scenario C's bound on our server's peak RSS.
const RSS_GOAL_KIB: u64 = 16 * 1024;
/// Scenario D's bound on our server's peak RSS with 10,000 clients.
const D_RSS_GOAL_KIB: u64 = 64 * 1024;
/// Scenario D's bound on the 99th percentile latency.
const D_P99_GOAL_US: u64 = 100_000;
/// Scenario M: the relay's CPU time per delivery with `--metrics`, at most
/// this many times its time without (the rest is this shared machine's
/// noise).
const METRICS_CPU_GOAL: f64 = 1.05;

/// A table column: heading, width, and how to write one run's cell.
type Column = (&'static str, usize, fn(&Outcome, &Scenario) -> String);

/// The table's columns.
const COLUMNS: &[Column] = &[
    ("sc", 2, |o, _| o.scenario.to_owned()),
    ("relay", 7, |o, _| o.server.name().to_owned()),
    ("clients", 7, |_, s| s.clients.to_string()),
    ("senders", 12, |_, s| {
        format!("{}x{}", s.senders, s.pace_label())
    }),
    ("sent", 7, |o, _| o.sent.to_string()),
    ("expected", 9, |o, _| o.expected.to_string()),
    ("intact", 9, |o, _| o.intact.to_string()),
    ("corrupt", 8, |o, _| o.corrupted.to_string()),
    ("lost", 7, |o, _| o.lost.to_string()),
    ("rate/s", 9, |o, _| format!("{:.0}", o.rate)),
    ("p50 ms", 8, |o, _| {
        format!("{:.2}", o.p50_us as f64 / 1000.0)
    }),
    ("p99 ms", 8, |o, _| {
        format!("{:.2}", o.p99_us as f64 / 1000.0)
    }),
    ("RSS MiB", 7, |o, _| {
        format!("{:.1}", o.peak_rss_kib as f64 / 1024.0)
    }),
    ("srv%", 5, |o, _| format!("{:.0}", o.cpu.server)),
    ("ns/dlv", 6, |o, _| {
        format!("{:.0}", o.server_ns_per_delivery)
    }),
    ("srvW%", 5, |o, _| format!("{:.0}", o.cpu.server_wait)),
    ("gen%", 5, |o, _| format!("{:.0}", o.cpu.generator)),
    ("rx%", 5, |o, _| format!("{:.0}", o.cpu.receiver)),
    ("rxW%", 5, |o, _| format!("{:.0}", o.cpu.receiver_wait)),
    ("other%", 6, |o, _| format!("{:.0}", o.cpu.others)),
];

/// Prints the table, the ratios, the goals and the generator check.
pub fn print(scenarios: &[Scenario], outcomes: &[Outcome], repeat: u32) {
    println!();
    let heading: Vec<String> = COLUMNS
        .iter()
        .map(|(name, width, _)| format!("{name:>width$}"))
        .collect();
    println!("{}", heading.join(" "));
    for o in outcomes {
        let Some(scenario) = scenarios.iter().find(|s| s.name == o.scenario) else {
            continue;
        };
        let cells: Vec<String> = COLUMNS
            .iter()
            .map(|(_, width, cell)| format!("{:>width$}", cell(o, scenario)))
            .collect();
        println!("{}", cells.join(" "));
    }
    let noted = outcomes
        .iter()
        .filter(|o| o.closed > 0 || o.untimed > 0 || o.repeated > 0 || o.from_relay > 0);
    for o in noted {
        println!(
            "note: {} on {}: {} clients disconnected by the server ({} senders), {} deliveries \
             untimed, {} repeated, {} lines from the relay itself (notices, /leave)",
            o.scenario,
            o.server.name(),
            o.closed,
            o.senders_closed,
            o.untimed,
            o.repeated,
            o.from_relay
        );
    }
    println!(
        "(CPU in % of one core over the run: srv = relay, gen = generator, rx = its receiving \
         thread, W = runnable but waiting for a CPU, other = the rest of the machine; \
         ns/dlv = the relay's CPU time per intact delivery, in ns; \
         rate = intact deliveries per second, first send to last intact delivery)"
    );
    if scenarios
        .iter()
        .any(|s| s.relays.contains(&ServerKind::Cluster))
    {
        println!(
            "(4xnats = four of our relays, blind, bridged over one nats-server, the clients \
             spread over them in turn; its RSS, srv and srvW columns are its four relays' and \
             nats-server's together)"
        );
    }
    for scenario in scenarios.iter().filter(|s| s.tokens == Tokens::AtSend) {
        println!(
            "({}: tokens made at send time; keyed = our relay with --key-file {} (a fresh \
             key), ours = the same relay blind; ncat does not run {0}: it cannot check tokens)",
            scenario.name,
            key_file::path().display()
        );
    }
    for scenario in scenarios
        .iter()
        .filter(|s| s.relays[0] == ServerKind::Metered)
    {
        println!(
            "({}: metrics = our relay blind with --metrics, its /metrics scraped every 500 ms; \
             ours = the same relay without --metrics)",
            scenario.name
        );
    }
    if repeat > 1 {
        println!(
            "({repeat} runs of each scenario, its relays taking turns, in the order run; the \
             ratios and goals below take each relay's median figures, and its losses over all \
             {repeat} runs)"
        );
    }
    println!();
    let summary =
        |scenario: &Scenario, kind: ServerKind| Summary::of(outcomes, scenario.name, kind);
    // Each scenario's first relay against its second, then each further
    // relay against the first (the web port open, say).
    let comparisons: Vec<(&Scenario, Summary, Summary)> = scenarios
        .iter()
        .flat_map(|scenario| {
            let [first, second, rest @ ..] = scenario.relays else {
                return Vec::new();
            };
            let pairs = std::iter::once((*first, *second)).chain(rest.iter().map(|&k| (k, *first)));
            pairs
                .filter_map(|(subject, baseline)| {
                    Some((
                        scenario,
                        summary(scenario, subject)?,
                        summary(scenario, baseline)?,
                    ))
                })
                .collect()
        })
        .collect();
    for (scenario, subject, baseline) in &comparisons {
        println!(
            "ratio {}/{}, {}: rate {}  p50 {}  p99 {}  RSS {}  server CPU {}  \
             server CPU per delivery {}",
            subject.server.name(),
            baseline.server.name(),
            scenario.name,
            ratio(subject.rate, baseline.rate),
            ratio(subject.p50_us, baseline.p50_us),
            ratio(subject.p99_us, baseline.p99_us),
            ratio(subject.peak_rss_kib, baseline.peak_rss_kib),
            ratio(subject.cpu, baseline.cpu),
            ratio(subject.ns_per_delivery, baseline.ns_per_delivery),
        );
    }
    println!();
    for scenario in scenarios {
        let subject = scenario
            .relays
            .first()
            .and_then(|&kind| summary(scenario, kind));
        let baseline = scenario
            .relays
            .get(1)
            .and_then(|&kind| summary(scenario, kind));
        let Some(subject) = subject else {
            continue;
        };
        if scenario.relays.len() > 1 && baseline.is_none() {
            continue;
        }
        let misses = misses(scenario, &subject, baseline.as_ref());
        let verdict = if misses.is_empty() {
            "MET".to_owned()
        } else {
            format!("NOT MET: {}", misses.join(", "))
        };
        println!("goal {} ({}): {verdict}", scenario.name, scenario.goal);
    }
    print_generator_check(outcomes);
}

/// What keeps `subject` from `scenario`'s goal (against `baseline`, for
/// the scenarios that compare); nothing when the goal is met.
fn misses(scenario: &Scenario, subject: &Summary, baseline: Option<&Summary>) -> Vec<String> {
    let name = scenario.name;
    let mut misses = Vec::new();
    if name == "N" && !matches!(scenario.pace, Pace::PerSecond(CLUSTER_GOAL_RATE)) {
        misses.push(format!(
            "run at {} a sender, the goal is set at {CLUSTER_GOAL_RATE}/s",
            scenario.pace_label()
        ));
    }
    match (name, baseline) {
        ("A", Some(baseline)) if subject.rate < baseline.rate => {
            misses.push(format!("rate below {}'s", baseline.server.name()));
        }
        ("B" | "C", Some(baseline)) if subject.p99_us > baseline.p99_us => {
            misses.push(format!("p99 above {}'s", baseline.server.name()));
        }
        ("M", Some(baseline))
            if subject.ns_per_delivery > METRICS_CPU_GOAL * baseline.ns_per_delivery =>
        {
            misses.push(format!(
                "server CPU per delivery above {METRICS_CPU_GOAL}x {}'s",
                baseline.server.name()
            ));
        }
        ("N", Some(baseline)) if subject.p99_us > 2.0 * baseline.p99_us => {
            misses.push(format!("p99 above 2x {}'s", baseline.server.name()));
        }
        ("A" | "B" | "C" | "K" | "T" | "M" | "N", Some(_)) => {}
        ("D", None) if subject.p99_us > D_P99_GOAL_US as f64 => {
            misses.push("p99 above 100 ms".to_owned());
        }
        ("D", None) => {}
        _ => misses.push("no goal".to_owned()),
    }
    if name == "C" && subject.peak_rss_kib > RSS_GOAL_KIB as f64 {
        misses.push("peak RSS above 16 MiB".to_owned());
    }
    if name == "D" && subject.peak_rss_kib > D_RSS_GOAL_KIB as f64 {
        misses.push("peak RSS above 64 MiB".to_owned());
    }
    if matches!(name, "A" | "K" | "T" | "M" | "D" | "N") {
        misses.extend(losses(subject));
    }
    misses
}

/// The ways `o` failed to deliver every frame once and intact.
fn losses(o: &Summary) -> Vec<String> {
    [
        (o.lost, "lost"),
        (o.corrupted, "corrupted"),
        (o.repeated, "repeated"),
        (o.senders_closed, "senders disconnected"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, what)| format!("{count} {what}"))
    .collect()
}

fn print_generator_check(outcomes: &[Outcome]) {
    let busiest = outcomes
        .iter()
        .max_by(|a, b| a.cpu.receiver.total_cmp(&b.cpu.receiver));
    let Some(busiest) = busiest else {
        return;
    };
    let verdict = if busiest.cpu.receiver < GENERATOR_BUSY {
        "never saturated: the relay, not the generator, set the pace"
    } else {
        "saturated in that run: its figures may be the generator's limit"
    };
    println!(
        "generator: receiving thread at most {:.0}% of a core ({} on {}), {verdict}",
        busiest.cpu.receiver,
        busiest.scenario,
        busiest.server.name()
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load = |o: &&Outcome| o.cpu.server + o.cpu.generator + o.cpu.others;
    if let Some(busiest) = outcomes.iter().max_by(|a, b| load(a).total_cmp(&load(b))) {
        println!(
            "machine: {cores} cores; busiest run {} on {} kept {:.0}% of {}% busy, {:.0}% of it \
             not the relay or the generator",
            busiest.scenario,
            busiest.server.name(),
            load(&busiest),
            cores * 100,
            busiest.cpu.others
        );
    }
    let paths: Vec<String> = outcomes
        .iter()
        .filter_map(|o| {
            let by_path = o.by_path.as_ref()?;
            let ms =
                |(p50, p99): (u64, u64)| format!("{:.2}/{:.2}", p50 as f64 / 1e3, p99 as f64 / 1e3);
            Some(format!(
                "{}/{} same relay as the sender {}, across relays {}",
                o.scenario,
                o.server.name(),
                ms(by_path.same_relay),
                ms(by_path.across)
            ))
        })
        .collect();
    if !paths.is_empty() {
        println!(
            "latency by path, p50/p99 ms (across relays = over NATS): {}",
            paths.join("; ")
        );
    }
    let switches: Vec<String> = outcomes
        .iter()
        .map(|o| format!("{}/{} {:.0}", o.scenario, o.server.name(), o.switches_per_s))
        .collect();
    println!(
        "context switches a second, whole machine: {}",
        switches.join(", ")
    );
    let joins: Vec<String> = outcomes
        .iter()
        .map(|o| {
            format!(
                "{}/{} {:.2}s",
                o.scenario,
                o.server.name(),
                o.join.as_secs_f64()
            )
        })
        .collect();
    println!(
        "probe round (every client served) took: {}",
        joins.join(", ")
    );
    let late: Vec<String> = outcomes
        .iter()
        .filter(|o| !o.sender_late.0.is_zero())
        .map(|o| {
            let (max, mean) = o.sender_late;
            format!(
                "{}/{} mean {:.3} max {:.1}",
                o.scenario,
                o.server.name(),
                mean.as_secs_f64() * 1e3,
                max.as_secs_f64() * 1e3
            )
        })
        .collect();
    if !late.is_empty() {
        println!(
            "paced senders behind schedule, ms (latency counts from the schedule): {}",
            late.join(", ")
        );
    }
}

fn ratio(ours: f64, theirs: f64) -> String {
    if theirs > 0.0 {
        format!("{:.2}x", ours / theirs)
    } else {
        "n/a".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(server: ServerKind, p99_us: f64) -> Summary {
        Summary {
            server,
            rate: 500_000.0,
            p50_us: 1_000.0,
            p99_us,
            peak_rss_kib: 10_000.0,
            cpu: 100.0,
            ns_per_delivery: 2_000.0,
            lost: 0,
            corrupted: 0,
            repeated: 0,
            senders_closed: 0,
        }
    }

    #[test]
    fn the_cluster_goal_is_judged_at_its_own_rate_and_at_2x_the_p99() {
        let single = summary(ServerKind::Ours, 4_000.0);
        let at_goal_rate = Scenario::cluster(5, CLUSTER_GOAL_RATE);
        let within = summary(ServerKind::Cluster, 8_000.0);
        let beyond = summary(ServerKind::Cluster, 8_001.0);
        assert!(misses(&at_goal_rate, &within, Some(&single)).is_empty());
        assert_eq!(
            misses(&at_goal_rate, &beyond, Some(&single)),
            ["p99 above 2x ours's"]
        );
        let lighter = Scenario::cluster(5, 50);
        assert_eq!(
            misses(&lighter, &within, Some(&single)),
            ["run at 50/s a sender, the goal is set at 100/s"]
        );
    }
}
