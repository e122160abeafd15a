//! Whether an iteration of the tuned size (2¹⁴ to 2¹⁵ Kuf entries, e.g. M = 100, B = 256) runs
//! its two independent halves on two of rayon's threads, chosen by timing the trainer's own
//! iterations both ways.
//!
//! At that size a joined iteration took about 0.82 of the serial time on a 2-vCPU guest and
//! about 1.08 of it on the same guest seconds or minutes later, while the round trip between its
//! two vCPUs varied from 43 to 473 ns (BENCHMARKS.md): no fixed threshold is right there. At
//! the start and every [`PERIOD`] iterations after, the tuner runs a probe (some iterations
//! serially, then some joined, the last ones of each timed) and keeps the faster way until the
//! next. The choice changes only the time an iteration takes: the halves are independent, and
//! the results are bitwise the same either way.

use crate::kernel::{JOIN_MIN_ENTRIES, JOIN_TUNED_MIN_ENTRIES};
use std::time::Duration;

/// Iterations of a new size run serially before the first probe (their buffers are allocated).
const WARMUP: u64 = 4;
/// A probe runs this many iterations serially, then [`JOINED_BLOCK`] joined.
const SERIAL_BLOCK: u64 = 12;
/// The joined iterations of a probe. The second thread takes a few iterations to come up to
/// speed after a serial stretch (its core idled, BENCHMARKS.md), hence the longer block.
const JOINED_BLOCK: u64 = 16;
/// The last this many iterations of each block are timed: the probe compares the two ways as
/// they run when kept.
const TIMED: u64 = 8;
/// The iterations of a probe.
const PROBE: u64 = SERIAL_BLOCK + JOINED_BLOCK;
/// A probe starts every this many iterations: at 0.2–0.5 ms an iteration, several times a
/// second. The slower way's share of the iterations is then at most 4 %.
const PERIOD: u64 = 400;

/// The timing-driven choice for one trainer (see the module doc).
#[derive(Debug, Clone, Default)]
pub(super) struct JoinTuner {
    /// M·B of the iterations being tuned (0 before the first).
    entries: usize,
    /// Iterations of this size so far.
    seen: u64,
    /// The way kept between probes.
    joined: bool,
    /// The way of the current iteration when it is a timed probe.
    probe: Option<bool>,
    /// The probe's iteration times in seconds: serial, joined.
    times: [Vec<f64>; 2],
}

impl JoinTuner {
    /// Whether the next iteration, of `entries` = M·B Kuf entries, joins its halves when its
    /// size is in the tuned range (the answer is ignored outside it, where the size decides).
    /// A new size starts the tuning afresh.
    pub(super) fn choose(&mut self, entries: usize) -> bool {
        self.probe = None;
        if !(JOIN_TUNED_MIN_ENTRIES..JOIN_MIN_ENTRIES).contains(&entries) {
            return false;
        }
        if entries != self.entries {
            *self = JoinTuner {
                entries,
                ..JoinTuner::default()
            };
        }
        let k = self.seen;
        self.seen += 1;
        let Some(j) = k.checked_sub(WARMUP).map(|k| k % PERIOD) else {
            return self.joined;
        };
        if j < PROBE {
            let (joined, block_end) = match j < SERIAL_BLOCK {
                true => (false, SERIAL_BLOCK),
                false => (true, PROBE),
            };
            self.probe = (j + TIMED >= block_end).then_some(joined);
            return joined;
        }
        if j == PROBE {
            self.decide();
        }
        self.joined
    }

    /// Records the time of the iteration [`JoinTuner::choose`] was last asked about, when it was
    /// a timed probe that finished (`None` for one that failed).
    pub(super) fn record(&mut self, elapsed: Option<Duration>) {
        if let (Some(joined), Some(t)) = (self.probe.take(), elapsed) {
            self.times[usize::from(joined)].push(t.as_secs_f64());
        }
    }

    /// Keeps the way whose timed probe iterations have the smaller lower quartile (when both
    /// have some), then drops the times. The host's interruptions only add time, and a joined
    /// way kept for hundreds of iterations settled nearer its probe's faster iterations than
    /// its median, so the quartile decides (BENCHMARKS.md).
    fn decide(&mut self) {
        let quartiles = (
            lower_quartile(&self.times[0]),
            lower_quartile(&self.times[1]),
        );
        if let (Some(serial), Some(joined)) = quartiles {
            self.joined = joined < serial;
        }
        self.times.iter_mut().for_each(Vec::clear);
    }
}

/// The lower quartile of `v` (its ⌊n/4⌋-th smallest, from 0), `None` when empty.
fn lower_quartile(v: &[f64]) -> Option<f64> {
    let mut sorted = v.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 4).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TUNED: usize = 100 * 256;

    /// Runs `n` iterations of `entries` with the given serial and joined times (ms), returning
    /// the ways chosen.
    fn run(
        tuner: &mut JoinTuner,
        entries: usize,
        n: u64,
        (serial, joined): (f64, f64),
    ) -> Vec<bool> {
        (0..n)
            .map(|_| {
                let way = tuner.choose(entries);
                let ms = if way { joined } else { serial };
                tuner.record(Some(Duration::from_secs_f64(ms * 1e-3)));
                way
            })
            .collect()
    }

    /// After the warm-up, a probe of both ways; then the faster way
    /// until the next probe, which follows a change of the host's speeds.
    #[test]
    fn keeps_the_faster_way_and_follows_a_change() {
        let mut tuner = JoinTuner::default();
        let ways = run(&mut tuner, TUNED, WARMUP + PERIOD, (0.45, 0.38));
        assert!(ways[..WARMUP as usize].iter().all(|&w| !w));
        let probe = &ways[WARMUP as usize..(WARMUP + PROBE) as usize];
        assert_eq!(probe.iter().filter(|&&w| w).count(), JOINED_BLOCK as usize);
        assert!(ways[(WARMUP + PROBE) as usize..].iter().all(|&w| w));
        // The joined way turns slower: after the next probe the tuner goes back to serial.
        let ways = run(&mut tuner, TUNED, PERIOD, (0.45, 0.50));
        assert!(ways[PROBE as usize..].iter().all(|&w| !w));
    }

    /// Probes interrupted by failed iterations or by other sizes still decide from what they
    /// timed; a size outside the tuned range is never joined by the tuner, and a new size in
    /// it starts afresh.
    #[test]
    fn other_sizes_and_failures() {
        let mut tuner = JoinTuner::default();
        assert!(!tuner.choose(JOIN_TUNED_MIN_ENTRIES - 1));
        assert!(!tuner.choose(JOIN_MIN_ENTRIES));
        tuner.record(Some(Duration::from_millis(1))); // not a probe: ignored
        run(&mut tuner, TUNED, WARMUP + 1, (0.4, 0.3));
        tuner.choose(TUNED);
        tuner.record(None); // a failed probe iteration is not timed
        let ways = run(&mut tuner, TUNED, PERIOD - 10, (0.4, 0.3));
        assert!(*ways.last().unwrap());
        // Without times for one way the tuner keeps its choice.
        let mut fresh = JoinTuner::default();
        for _ in 0..WARMUP + PROBE + 1 {
            fresh.choose(TUNED + 1);
            fresh.record(None);
        }
        assert!(!fresh.choose(TUNED + 1));
        // A new size starts with the warm-up again, serially.
        assert!(run(&mut tuner, TUNED + 2, WARMUP, (0.4, 0.3))
            .iter()
            .all(|&w| !w));
    }

    /// A joined way whose probe was half fast (0.35 ms) and half slow (0.47) is kept against a
    /// steady 0.43 ms serial one: the lower quartiles decide, not the medians.
    #[test]
    fn the_lower_quartile_decides() {
        let mut tuner = JoinTuner::default();
        let mut joined_seen = 0;
        for _ in 0..WARMUP + PROBE + 1 {
            let ms = match tuner.choose(TUNED) {
                true => {
                    joined_seen += 1;
                    [0.35, 0.47][joined_seen % 2]
                }
                false => 0.43,
            };
            tuner.record(Some(Duration::from_secs_f64(ms * 1e-3)));
        }
        assert!(tuner.joined);
    }

    /// A probe times the last [`TIMED`] iterations of each way's block.
    #[test]
    fn the_first_iterations_of_a_block_are_not_timed() {
        let mut tuner = JoinTuner::default();
        run(&mut tuner, TUNED, WARMUP + PROBE, (0.45, 0.38));
        // 12 serial and 16 joined iterations, the last 8 of each timed.
        assert_eq!([tuner.times[0].len(), tuner.times[1].len()], [8, 8]);
    }

    #[test]
    fn lower_quartile_of_some_and_none() {
        assert_eq!(lower_quartile(&[3.0, 1.0, 2.0]), Some(1.0));
        assert_eq!(
            lower_quartile(&[8.0, 1.0, 3.0, 2.0, 5.0, 4.0, 7.0, 6.0]),
            Some(3.0)
        );
        assert_eq!(lower_quartile(&[]), None);
    }
}
