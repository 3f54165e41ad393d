//! Learned pool weights: a project's quota split between its provider × geo cells by
//! what each cell's numbers have converted to, instead of by the rules' fixed weights.
//!
//! Each cell's success rate per allocated number has a Beta posterior: a weak prior
//! centred on the project's own overall rate (one pseudo-success, so it never outweighs
//! real days), plus the cell's allocations and successes, each day counted at
//! `0.5^(age / half_life)` so the posterior follows a provider whose quality drifts.
//! Thompson sampling turns the posteriors into shares. A day's quota is placed at once and
//! a cell holds only so many numbers, so each draw of every posterior is answered with the
//! split that would be best if the draw were the truth (the cells by drawn rate, each
//! filled to what it holds until the quota is placed), and the learned part of the quota
//! follows the average of those splits: the batch, capacity-aware form of Thompson
//! sampling. A cell that would be best in every draw but holds a tenth of the quota gets
//! that tenth, and the rest goes to the next best rather than evenly.
//! Then the guardrails: an exploration floor spread evenly so no cell starves and a new
//! provider gets tried, the administrator's pins and caps, and, downstream, everything
//! the planner already enforces (quotas, priorities and fair shares between projects,
//! what each cell holds, DNC, schedules).
//!
//! The draws come from a generator seeded by the project and the day, so the dry run,
//! the preview and the real run of a day use the same weights; the report shows each
//! cell's posterior mean, 90% interval, observations, share and why.

use crate::platform::error::{Error, Result};
use chrono::NaiveDate;
use rand::SeedableRng;
use rand_distr::{Beta, Distribution};
use serde::{Deserialize, Serialize};

/// Draws per posterior; enough that the probability of being best is within about a
/// percentage point, and cheap (a few milliseconds for a hundred cells).
const DRAWS: usize = 4000;
/// How far back the days are read: past this many half-lives a day weighs under 1%.
pub const LOOKBACK_HALF_LIVES: f64 = 7.0;
/// Shares are handed to the planner as whole weights out of this.
const WEIGHT_SCALE: f64 = 1_000_000.0;

/// How a project learns; stored as the project's `learning` document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Learning {
    /// The part of the quota spread evenly over every cell whatever it converts to, so no
    /// cell starves and new ones are tried (0 to 0.5; 0.1 by default).
    #[serde(default = "default_floor")]
    pub floor: f64,
    /// A day this many days old counts half as much as today (1 to 365; 14 by default).
    #[serde(default = "default_half_life")]
    pub half_life_days: f64,
    /// An administrator's fixed share or ceiling for particular cells.
    #[serde(default)]
    pub cells: Vec<CellSetting>,
}

fn default_floor() -> f64 {
    0.1
}
fn default_half_life() -> f64 {
    14.0
}

impl Default for Learning {
    fn default() -> Self {
        Learning { floor: default_floor(), half_life_days: default_half_life(), cells: Vec::new() }
    }
}

/// A pin or a cap on one provider × geo cell (`geo_id` absent: numbers without a geo).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CellSetting {
    pub provider_id: i64,
    pub geo_id: Option<i64>,
    /// This exact share of the quota (0 to 1), whatever the cell converts to.
    pub pin: Option<f64>,
    /// At most this share of the quota (0 to 1).
    pub cap: Option<f64>,
}

impl Learning {
    pub fn validate(&self) -> Result<()> {
        let bad = |message: String| Err(Error::invalid("learning", message));
        if !(0.0..=0.5).contains(&self.floor) {
            return bad(format!("floor {} must be between 0 and 0.5", self.floor));
        }
        if !(1.0..=365.0).contains(&self.half_life_days) {
            return bad(format!("half_life_days {} must be between 1 and 365", self.half_life_days));
        }
        for (i, c) in self.cells.iter().enumerate() {
            let which = format!("cell {} (provider {}, geo {})", i + 1, c.provider_id, geo_label(c.geo_id));
            if c.pin.is_some() && c.cap.is_some() {
                return bad(format!("{which}: a pinned cell cannot also have a cap"));
            }
            if c.pin.or(c.cap).is_none() {
                return bad(format!("{which}: set a pin or a cap"));
            }
            for v in c.pin.iter().chain(c.cap.iter()) {
                if !(0.0..=1.0).contains(v) {
                    return bad(format!("{which}: {v} must be a share between 0 and 1"));
                }
            }
            if self.cells[..i].iter().any(|o| o.provider_id == c.provider_id && o.geo_id == c.geo_id) {
                return bad(format!("{which} is listed twice"));
            }
        }
        let pinned: f64 = self.cells.iter().filter_map(|c| c.pin).sum();
        if pinned > 1.0 + 1e-9 {
            return bad(format!("the pins add up to {pinned:.3}, more than the whole quota"));
        }
        Ok(())
    }

    fn setting(&self, provider: i64, geo_key: i64) -> Option<&CellSetting> {
        self.cells.iter().find(|c| c.provider_id == provider && c.geo_id.unwrap_or(0) == geo_key)
    }
}

fn geo_label(geo: Option<i64>) -> String {
    geo.map_or_else(|| "none".to_owned(), |g| g.to_string())
}

/// One day of one cell, from the conversion aggregates.
#[derive(Debug, Clone, Copy)]
pub struct DayCount {
    pub provider: i64,
    pub geo_key: i64,
    pub day: NaiveDate,
    pub allocated: i64,
    pub success: i64,
}

/// Why a cell has the share it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShareReason {
    /// Its probability of being the best cell.
    Learned,
    /// Little chance of being best: it gets the exploration floor.
    Floor,
    /// The administrator fixed it.
    Pinned,
    /// Held to the administrator's ceiling.
    Capped,
}

/// A cell's weight and the evidence behind it, as the dry run and the preview show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LearnedWeight {
    pub provider_id: i64,
    /// Absent: numbers without a geo.
    pub geo_id: Option<i64>,
    /// Allocated numbers and successes in the days read, as counted (no decay).
    pub allocated: i64,
    pub success: i64,
    /// The same after the decay: what the posterior is built on.
    pub effective_allocated: f64,
    pub effective_success: f64,
    /// The posterior's mean success rate per allocated number, and its 90% interval.
    pub mean: f64,
    pub low: f64,
    pub high: f64,
    /// The probability, from the draws, that this cell converts best.
    pub p_best: f64,
    /// Numbers of the cell free for the project today (what the split is bounded by).
    pub capacity: i64,
    /// The part of the project's quota this cell is asked for (before the planner meets
    /// what the cell holds and what other projects take).
    pub share: f64,
    pub reason: ShareReason,
}

/// The seed of one project's day: the same inputs draw the same weights.
pub fn seed(project: i64, day: NaiveDate) -> u64 {
    use chrono::Datelike;
    (project as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (day.num_days_from_ce() as u64)
}

/// The shares of `cells` (provider, geo key) on `day` from the history in `days`, for a
/// quota of `quota` numbers where cell `i` holds `capacity[i]`. The shares add up to 1
/// unless pins leave nothing (then the pins' own sum).
pub fn weights(
    settings: &Learning,
    cells: &[(i64, i64)],
    capacity: &[i64],
    quota: i64,
    days: &[DayCount],
    day: NaiveDate,
    seed: u64,
) -> Vec<LearnedWeight> {
    let n = cells.len();
    if n == 0 {
        return Vec::new();
    }
    let mut raw = vec![(0i64, 0i64); n];
    let mut eff = vec![(0f64, 0f64); n];
    for d in days {
        let Some(i) = cells.iter().position(|&c| c == (d.provider, d.geo_key)) else { continue };
        let age = (day - d.day).num_days();
        if age < 1 {
            // Today's numbers have not been called yet; counting them would make every
            // cell just allocated look worse than it is.
            continue;
        }
        let w = 0.5f64.powf(age as f64 / settings.half_life_days);
        raw[i].0 += d.allocated;
        raw[i].1 += d.success;
        eff[i].0 += d.allocated as f64 * w;
        eff[i].1 += d.success as f64 * w;
    }
    // The prior: the project's own rate over every cell, as one pseudo-success.
    let (t, s): (f64, f64) = eff.iter().fold((0.0, 0.0), |a, e| (a.0 + e.0, a.1 + e.1));
    let prior_mean = if t > 0.0 && s > 0.0 { (s / t).clamp(1e-4, 0.5) } else { 0.05 };
    let (a0, b0) = (1.0, (1.0 - prior_mean) / prior_mean);
    let posteriors: Vec<(f64, f64)> = eff.iter().map(|&(t, s)| (a0 + s, b0 + (t - s).max(0.0))).collect();

    let mut rng = rand_pcg::Pcg64::seed_from_u64(seed);
    let betas: Vec<Beta<f64>> = posteriors
        .iter()
        .map(|&(a, b)| Beta::new(a, b).unwrap_or_else(|_| Beta::new(1.0, 1.0).expect("Beta(1, 1)")))
        .collect();
    let mut draws: Vec<Vec<f64>> = vec![Vec::with_capacity(DRAWS); n];
    let mut wins = vec![0usize; n];
    // Per draw, the best split under the drawn rates, summed: `best_fill[i]` over all draws.
    let mut best_fill = vec![0f64; n];
    let mut order: Vec<usize> = (0..n).collect();
    let mut drawn = vec![0f64; n];
    for _ in 0..DRAWS {
        for (i, beta) in betas.iter().enumerate() {
            drawn[i] = beta.sample(&mut rng);
            draws[i].push(drawn[i]);
        }
        order.sort_by(|&a, &b| drawn[b].total_cmp(&drawn[a]));
        wins[order[0]] += 1;
        let mut left = quota.max(1);
        for &i in &order {
            let take = left.min(capacity.get(i).copied().unwrap_or(i64::MAX).max(0));
            best_fill[i] += take as f64;
            left -= take;
            if left == 0 {
                break;
            }
        }
    }
    let p_best: Vec<f64> = wins.iter().map(|&w| w as f64 / DRAWS as f64).collect();

    // Pins first; the rest of the quota is split between the other cells: the floor
    // evenly, the remainder by the probability of being best.
    let pin: Vec<Option<f64>> =
        cells.iter().map(|&(p, g)| settings.setting(p, g).and_then(|c| c.pin)).collect();
    let cap: Vec<Option<f64>> =
        cells.iter().map(|&(p, g)| settings.setting(p, g).and_then(|c| c.cap)).collect();
    let pinned: f64 = pin.iter().flatten().sum();
    let free: Vec<usize> = (0..n).filter(|&i| pin[i].is_none()).collect();
    let rest = (1.0 - pinned).max(0.0);
    let mut share = vec![0.0; n];
    let mut reason = vec![ShareReason::Learned; n];
    for i in 0..n {
        if let Some(p) = pin[i] {
            share[i] = p;
            reason[i] = ShareReason::Pinned;
        }
    }
    if !free.is_empty() && rest > 0.0 {
        let floor_each = settings.floor * rest / free.len() as f64;
        let fill_free: f64 = free.iter().map(|&i| best_fill[i]).sum();
        for &i in &free {
            let learned = if fill_free > 0.0 {
                (1.0 - settings.floor) * rest * best_fill[i] / fill_free
            } else {
                (1.0 - settings.floor) * rest / free.len() as f64
            };
            share[i] = floor_each + learned;
            if learned < floor_each {
                reason[i] = ShareReason::Floor;
            }
        }
        // Caps: what a capped cell cannot take goes to the uncapped free cells in
        // proportion to their shares, until nothing is over its cap.
        for _ in 0..n {
            let mut excess = 0.0;
            for &i in &free {
                if let Some(c) = cap[i]
                    && share[i] > c + 1e-12
                {
                    excess += share[i] - c;
                    share[i] = c;
                    reason[i] = ShareReason::Capped;
                }
            }
            if excess <= 1e-12 {
                break;
            }
            let open: Vec<usize> =
                free.iter().copied().filter(|&i| reason[i] != ShareReason::Capped).collect();
            let open_sum: f64 = open.iter().map(|&i| share[i]).sum();
            if open.is_empty() {
                break;
            }
            for &i in &open {
                share[i] +=
                    if open_sum > 0.0 { excess * share[i] / open_sum } else { excess / open.len() as f64 };
            }
        }
    }
    (0..n)
        .map(|i| {
            let mut sorted = std::mem::take(&mut draws[i]);
            sorted.sort_by(f64::total_cmp);
            let (a, b) = posteriors[i];
            LearnedWeight {
                provider_id: cells[i].0,
                geo_id: (cells[i].1 != 0).then_some(cells[i].1),
                allocated: raw[i].0,
                success: raw[i].1,
                effective_allocated: eff[i].0,
                effective_success: eff[i].1,
                mean: a / (a + b),
                low: sorted[DRAWS / 20],
                high: sorted[DRAWS - DRAWS / 20 - 1],
                p_best: p_best[i],
                capacity: capacity.get(i).copied().unwrap_or(0),
                share: share[i],
                reason: reason[i],
            }
        })
        .collect()
}

/// A share as a whole weight for the planner; a cell with any share gets at least 1.
pub fn planner_weight(share: f64) -> i64 {
    if share <= 0.0 { 0 } else { ((share * WEIGHT_SCALE).round() as i64).max(1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    fn history(cells: &[(i64, i64, f64)], days: u32, per_day: i64) -> Vec<DayCount> {
        let mut out = Vec::new();
        for d in 1..=days {
            for &(provider, geo, rate) in cells {
                out.push(DayCount {
                    provider,
                    geo_key: geo,
                    day: day(d),
                    allocated: per_day,
                    success: (per_day as f64 * rate).round() as i64,
                });
            }
        }
        out
    }

    #[test]
    fn the_better_cell_gets_more_and_none_starves() {
        let cells = [(1, 0), (2, 0), (3, 0)];
        let days = history(&[(1, 0, 0.02), (2, 0, 0.06), (3, 0, 0.03)], 20, 1000);
        let w = weights(&Learning::default(), &cells, &[i64::MAX; 3], 1000, &days, day(21), 7);
        let total: f64 = w.iter().map(|c| c.share).sum();
        assert!((total - 1.0).abs() < 1e-9, "{total}");
        assert!(w[1].share > 0.8, "{w:?}");
        for c in &w {
            assert!(c.share >= 0.1 / 3.0 - 1e-12, "{c:?}");
        }
        assert!(w[1].low < w[1].mean && w[1].mean < w[1].high);
        assert!((w[1].mean - 0.06).abs() < 0.005, "{}", w[1].mean);
        assert_eq!(w[0].reason, ShareReason::Floor);
    }

    #[test]
    fn same_seed_same_weights() {
        let cells = [(1, 0), (2, 0)];
        let days = history(&[(1, 0, 0.05), (2, 0, 0.051)], 3, 50);
        let a = weights(&Learning::default(), &cells, &[i64::MAX; 2], 1000, &days, day(4), 11);
        let b = weights(&Learning::default(), &cells, &[i64::MAX; 2], 1000, &days, day(4), 11);
        assert_eq!(
            a.iter().map(|c| c.share).collect::<Vec<_>>(),
            b.iter().map(|c| c.share).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_new_cell_is_tried() {
        let cells = [(1, 0), (2, 0), (9, 0)];
        let days = history(&[(1, 0, 0.05), (2, 0, 0.02)], 30, 1000);
        let w = weights(&Learning::default(), &cells, &[i64::MAX; 3], 1000, &days, day(30), 3);
        assert_eq!(w[2].allocated, 0);
        assert!(w[2].share >= 0.1 / 3.0 - 1e-12, "{:?}", w[2]);
        // Its interval is wide: nothing is known about it.
        assert!(w[2].high - w[2].low > w[0].high - w[0].low);
    }

    #[test]
    fn pins_and_caps_hold() {
        let cells = [(1, 0), (2, 0), (3, 5)];
        let days = history(&[(1, 0, 0.02), (2, 0, 0.09), (3, 5, 0.03)], 20, 1000);
        let settings = Learning {
            floor: 0.1,
            half_life_days: 14.0,
            cells: vec![
                CellSetting { provider_id: 3, geo_id: Some(5), pin: Some(0.25), cap: None },
                CellSetting { provider_id: 2, geo_id: None, pin: None, cap: Some(0.4) },
            ],
        };
        settings.validate().unwrap();
        let w = weights(&settings, &cells, &[i64::MAX; 3], 1000, &days, day(21), 1);
        assert_eq!(w[2].share, 0.25);
        assert_eq!(w[2].reason, ShareReason::Pinned);
        assert!((w[1].share - 0.4).abs() < 1e-9, "{w:?}");
        assert_eq!(w[1].reason, ShareReason::Capped);
        assert!((w[0].share - 0.35).abs() < 1e-9, "{w:?}");
    }

    #[test]
    fn a_best_cell_that_holds_little_leaves_the_rest_to_the_next_best() {
        let cells = [(1, 0), (2, 0), (3, 0), (4, 0)];
        let days = history(&[(1, 0, 0.09), (2, 0, 0.05), (3, 0, 0.02), (4, 0, 0.02)], 20, 1000);
        let w = weights(
            &Learning { floor: 0.0, ..Learning::default() },
            &cells,
            &[100, 5000, 5000, 5000],
            1000,
            &days,
            day(21),
            2,
        );
        assert!((w[0].share - 0.1).abs() < 0.01, "{w:?}");
        assert!(w[1].share > 0.85, "{w:?}");
    }

    #[test]
    fn old_days_count_less() {
        // Provider 1 was best long ago, provider 2 is best lately.
        let mut days = Vec::new();
        for d in 1..=60u32 {
            let date = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap() + chrono::Days::new(d as u64);
            let (r1, r2) = if d <= 40 { (0.08, 0.03) } else { (0.03, 0.06) };
            days.push(DayCount {
                provider: 1,
                geo_key: 0,
                day: date,
                allocated: 1000,
                success: (r1 * 1000.0) as i64,
            });
            days.push(DayCount {
                provider: 2,
                geo_key: 0,
                day: date,
                allocated: 1000,
                success: (r2 * 1000.0) as i64,
            });
        }
        let today = NaiveDate::from_ymd_opt(2026, 9, 1).unwrap() + chrono::Days::new(61);
        let w = weights(
            &Learning { half_life_days: 5.0, ..Learning::default() },
            &[(1, 0), (2, 0)],
            &[i64::MAX; 2],
            1000,
            &days,
            today,
            5,
        );
        assert!(w[1].share > w[0].share, "{w:?}");
    }

    #[test]
    fn settings_are_checked() {
        let mut s = Learning { floor: 0.7, ..Learning::default() };
        assert!(s.validate().is_err());
        s.floor = 0.1;
        s.cells = vec![
            CellSetting { provider_id: 1, geo_id: None, pin: Some(0.7), cap: None },
            CellSetting { provider_id: 2, geo_id: None, pin: Some(0.5), cap: None },
        ];
        assert!(s.validate().unwrap_err().to_string().contains("add up"));
        s.cells = vec![CellSetting { provider_id: 1, geo_id: None, pin: None, cap: None }];
        assert!(s.validate().is_err());
    }
}
