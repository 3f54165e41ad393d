//! A simulated market for learned weights: providers whose true success rates are known
//! and drift over the days, a daily quota placed through the real planner, and outcomes
//! drawn from the true rates. It compares fixed equal weights, the best fixed weights in
//! hindsight (the oracle) and learned weights; `examples/learning.rs` prints the table
//! for `docs/benchmarks.md` and the unit tests hold the targets.

use super::learn::{self, DayCount, Learning};
use super::plan;
use chrono::NaiveDate;
use rand::SeedableRng;
use rand_distr::{Binomial, Distribution};
use serde::Serialize;

/// One simulated provider × geo cell: its success rate per allocated number on the
/// first and the last day (linear in between), and the fresh numbers it offers a day.
#[derive(Debug, Clone, Copy)]
pub struct SimCell {
    pub name: &'static str,
    pub start: f64,
    pub end: f64,
    pub daily_supply: i64,
}

impl SimCell {
    fn rate(&self, day: usize, days: usize) -> f64 {
        let t = if days > 1 { day as f64 / (days - 1) as f64 } else { 0.0 };
        self.start + (self.end - self.start) * t
    }
}

/// The market used for the published table: one provider that is best at first and
/// decays, one that starts poor and becomes the best, steady ones in between.
pub fn market() -> Vec<SimCell> {
    vec![
        SimCell { name: "A steady 3%", start: 0.030, end: 0.030, daily_supply: 3000 },
        SimCell { name: "B 5% → 2%", start: 0.050, end: 0.020, daily_supply: 3000 },
        SimCell { name: "C 2% → 6%", start: 0.020, end: 0.060, daily_supply: 3000 },
        SimCell { name: "D steady 4%", start: 0.040, end: 0.040, daily_supply: 3000 },
        SimCell { name: "E 1% → 1.5%", start: 0.010, end: 0.015, daily_supply: 3000 },
        SimCell { name: "F 3.5% → 4.5%", start: 0.035, end: 0.045, daily_supply: 3000 },
    ]
}

#[derive(Debug, Clone, Serialize)]
pub struct SimResult {
    pub days: usize,
    pub daily_quota: i64,
    /// Expected successes per 10,000 allocated numbers.
    pub equal: f64,
    pub oracle: f64,
    pub learned: f64,
    /// (learned − equal) / (oracle − equal).
    pub captured: f64,
    /// Oracle minus learned, per 10,000 numbers (negative: learned did better, since it
    /// follows the drift and the oracle is one fixed split).
    pub regret: f64,
    /// The smallest share of a day's quota any cell got under learned weights, and the
    /// floor's promise (floor / cells).
    pub min_share: f64,
    pub floor_share: f64,
    /// Learned weights' average share per cell over the last 10 days.
    pub late_shares: Vec<(String, f64)>,
}

/// Places `quota` over the cells with these whole weights through the planner, as one
/// project whose rules are the cells.
fn place(weights: &[i64], supply: &[i64], quota: i64) -> Vec<i64> {
    let claimant = plan::Claimant {
        priority: 0,
        remaining: quota,
        rules: weights
            .iter()
            .enumerate()
            .map(|(i, &w)| plan::RuleClaim { weight: w, cells: vec![i] })
            .collect(),
    };
    let mut taken = vec![0; supply.len()];
    for t in plan::plan(&[claimant], supply) {
        taken[t.cell] += t.n;
    }
    taken
}

fn expected(taken: &[i64], cells: &[SimCell], day: usize, days: usize) -> f64 {
    taken.iter().zip(cells).map(|(&n, c)| n as f64 * c.rate(day, days)).sum()
}

/// Runs the market for `days` days with `quota` numbers a day; learned weights are run
/// once per seed and averaged.
pub fn run(cells: &[SimCell], days: usize, quota: i64, settings: &Learning, seeds: &[u64]) -> SimResult {
    let supply: Vec<i64> = cells.iter().map(|c| c.daily_supply).collect();
    let total = (days as i64 * quota) as f64;
    let per_10k = |successes: f64| successes / total * 10_000.0;

    let equal_taken = place(&vec![1; cells.len()], &supply, quota);
    let equal: f64 = (0..days).map(|d| expected(&equal_taken, cells, d, days)).sum();

    // The best fixed split in hindsight: the cells by their average rate over the run,
    // each filled to what it offers.
    let mut by_mean: Vec<(usize, f64)> =
        cells.iter().enumerate().map(|(i, c)| (i, (0..days).map(|d| c.rate(d, days)).sum::<f64>())).collect();
    by_mean.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut oracle_taken = vec![0; cells.len()];
    let mut left = quota;
    for (i, _) in by_mean {
        oracle_taken[i] = left.min(supply[i]);
        left -= oracle_taken[i];
    }
    let oracle: f64 = (0..days).map(|d| expected(&oracle_taken, cells, d, days)).sum();

    let keys: Vec<(i64, i64)> = (0..cells.len() as i64).map(|i| (i + 1, 0)).collect();
    let first = NaiveDate::from_ymd_opt(2026, 1, 1).expect("a date");
    let mut learned_sum = 0.0;
    let mut min_share = f64::MAX;
    let mut late = vec![0.0; cells.len()];
    for &seed in seeds {
        let mut outcomes = rand_pcg::Pcg64::seed_from_u64(seed ^ 0xD1A1);
        let mut history: Vec<DayCount> = Vec::new();
        for d in 0..days {
            let today = first + chrono::Days::new(d as u64);
            let w = learn::weights(
                settings,
                &keys,
                &supply,
                quota,
                &history,
                today,
                learn::seed(seed as i64, today),
            );
            let weights: Vec<i64> = w.iter().map(|c| learn::planner_weight(c.share)).collect();
            let taken = place(&weights, &supply, quota);
            learned_sum += expected(&taken, cells, d, days);
            for (i, &n) in taken.iter().enumerate() {
                min_share = min_share.min(n as f64 / quota as f64);
                if d + 10 >= days {
                    late[i] += n as f64 / quota as f64 / 10.0 / seeds.len() as f64;
                }
                let success = Binomial::new(n as u64, cells[i].rate(d, days))
                    .map(|b| b.sample(&mut outcomes) as i64)
                    .unwrap_or(0);
                history.push(DayCount { provider: keys[i].0, geo_key: 0, day: today, allocated: n, success });
            }
        }
    }
    let learned = learned_sum / seeds.len() as f64;
    let (equal, oracle, learned) = (per_10k(equal), per_10k(oracle), per_10k(learned));
    SimResult {
        days,
        daily_quota: quota,
        equal,
        oracle,
        learned,
        captured: (learned - equal) / (oracle - equal),
        regret: oracle - learned,
        min_share,
        floor_share: settings.floor / cells.len() as f64,
        late_shares: cells.iter().zip(late).map(|(c, s)| (c.name.to_owned(), s)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learned_captures_most_of_the_gap_and_starves_nobody() {
        let r = run(&market(), 60, 10_000, &Learning::default(), &[1, 2, 3]);
        assert!(r.oracle > r.equal, "{r:?}");
        assert!(r.captured >= 0.8, "learned captured {:.0}% of the gap: {r:?}", r.captured * 100.0);
        // Whole numbers: a share can round a number below the exact floor.
        assert!(r.min_share * 10_000.0 >= (r.floor_share * 10_000.0).floor() - 1.0, "{r:?}");
        // It followed the drift: the improving provider C ends with more than the decaying B.
        let share = |name: &str| r.late_shares.iter().find(|s| s.0.starts_with(name)).map(|s| s.1).unwrap();
        assert!(share("C") > share("B"), "{r:?}");
    }

    #[test]
    fn without_differences_it_stays_near_even() {
        let flat: Vec<SimCell> =
            (0..4).map(|_| SimCell { name: "same 3%", start: 0.03, end: 0.03, daily_supply: 5000 }).collect();
        let r = run(&flat, 30, 8000, &Learning::default(), &[9]);
        // Every split earns the same in expectation.
        assert!((r.learned - r.equal).abs() < 1.0, "{r:?}");
        assert!(r.min_share > 0.0);
    }
}
