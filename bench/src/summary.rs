//! One relay's runs of one scenario taken together (`--repeat`): the
//! median of each measured figure, and the sum of what went wrong, so that
//! one run on a noisy machine neither makes nor breaks a goal.

use super::server::ServerKind;
use super::trial::Outcome;

/// The figures ratios and goals are taken from.
pub struct Summary {
    /// Which relay.
    pub server: ServerKind,
    /// Intact deliveries per second (median).
    pub rate: f64,
    /// Median latency, microseconds (median over the runs).
    pub p50_us: f64,
    /// 99th percentile latency, microseconds (median over the runs).
    pub p99_us: f64,
    /// Peak RSS, KiB (median).
    pub peak_rss_kib: f64,
    /// Server CPU, % of one core (median).
    pub cpu: f64,
    /// Server CPU time per intact delivery, ns (median).
    pub ns_per_delivery: f64,
    /// Deliveries lost, over every run.
    pub lost: u64,
    /// Lines corrupted, over every run.
    pub corrupted: u64,
    /// Intact frames received twice, over every run.
    pub repeated: u64,
    /// Senders the server disconnected, over every run.
    pub senders_closed: u64,
}

impl Summary {
    /// Takes `server`'s runs of scenario `name` from `outcomes` together;
    /// `None` when it has none.
    pub fn of(outcomes: &[Outcome], name: &str, server: ServerKind) -> Option<Summary> {
        let runs: Vec<&Outcome> = outcomes
            .iter()
            .filter(|o| o.scenario == name && o.server == server)
            .collect();
        if runs.is_empty() {
            return None;
        }
        let median = |figure: fn(&Outcome) -> f64| median(runs.iter().map(|o| figure(o)));
        let total = |count: fn(&Outcome) -> u64| runs.iter().map(|o| count(o)).sum();
        Some(Summary {
            server,
            rate: median(|o| o.rate),
            p50_us: median(|o| o.p50_us as f64),
            p99_us: median(|o| o.p99_us as f64),
            peak_rss_kib: median(|o| o.peak_rss_kib as f64),
            cpu: median(|o| o.cpu.server),
            ns_per_delivery: median(|o| o.server_ns_per_delivery),
            lost: total(|o| o.lost),
            corrupted: total(|o| o.corrupted),
            repeated: total(|o| o.repeated),
            senders_closed: total(|o| o.senders_closed as u64),
        })
    }
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_middle_two() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), 2.0);
        assert_eq!(median([4.0, 1.0, 3.0, 2.0].into_iter()), 2.5);
        assert_eq!(median([7.0].into_iter()), 7.0);
    }
}
