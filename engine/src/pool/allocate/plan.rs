//! The allocation plan, in memory: how many numbers each project's rule takes from each
//! cell of the pool. A cell is one provider × geo × status × attempts; the database tells
//! how many numbers each holds, and this decides the split before a row is touched, so a
//! dry run and a real run share one plan.
//!
//! Priority first: a higher tier is served before a lower one sees the pool. Within a
//! tier, every rule asks for its share of its project's remaining quota (split between a
//! project's rules by weight), spread over its cells in proportion to what they hold; a
//! cell asked for more than it holds gives each asker a share in proportion to what it
//! asked, so a big quota cannot starve a small one. Unmet demand flows to the project's
//! other rules and cells until nothing more can be granted.

/// A project as the planner sees it.
#[derive(Debug, Clone)]
pub struct Claimant {
    pub priority: i16,
    pub remaining: i64,
    pub rules: Vec<RuleClaim>,
}

#[derive(Debug, Clone)]
pub struct RuleClaim {
    pub weight: i64,
    /// Indexes of the cells this rule may draw from for this project.
    pub cells: Vec<usize>,
}

/// `n` numbers of cell `cell` go to rule `rule` of claimant `claimant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Take {
    pub claimant: usize,
    pub rule: usize,
    pub cell: usize,
    pub n: i64,
}

/// Splits `total` in proportion to `weights` in whole numbers that add up to `total`
/// (largest remainder; ties go to the earlier index).
pub fn apportion(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|&w| w.max(0) as i128).sum();
    if sum == 0 || total <= 0 {
        return vec![0; weights.len()];
    }
    let mut shares: Vec<i64> = Vec::with_capacity(weights.len());
    let mut remainders: Vec<(i128, usize)> = Vec::with_capacity(weights.len());
    for (i, &w) in weights.iter().enumerate() {
        let exact = total as i128 * w.max(0) as i128;
        shares.push((exact / sum) as i64);
        remainders.push((exact % sum, i));
    }
    let mut left = total - shares.iter().sum::<i64>();
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for &(_, i) in &remainders {
        if left == 0 {
            break;
        }
        if weights[i] > 0 {
            shares[i] += 1;
            left -= 1;
        }
    }
    shares
}

/// Plans the whole allocation. `capacity[c]` is how many numbers cell `c` holds.
pub fn plan(claimants: &[Claimant], capacity: &[i64]) -> Vec<Take> {
    let mut spare = capacity.to_vec();
    let mut granted: std::collections::BTreeMap<(usize, usize, usize), i64> = Default::default();
    let mut tiers: Vec<i16> = claimants.iter().map(|c| c.priority).collect();
    tiers.sort_unstable_by(|a, b| b.cmp(a));
    tiers.dedup();
    for tier in tiers {
        let members: Vec<usize> = (0..claimants.len()).filter(|&i| claimants[i].priority == tier).collect();
        let mut left: Vec<i64> = claimants.iter().map(|c| c.remaining.max(0)).collect();
        // What each rule still asks for; recomputed whenever demand flows between rules.
        let mut want: Vec<Vec<i64>> = vec![Vec::new(); claimants.len()];
        for &p in &members {
            let weights: Vec<i64> = claimants[p].rules.iter().map(|r| r.weight).collect();
            want[p] = apportion(left[p], &weights);
        }
        loop {
            fill_tier(claimants, &members, &mut want, &mut left, &mut spare, &mut granted);
            // Demand a rule could not place moves to the project's rules that still have
            // numbers to give.
            let mut moved = false;
            for &p in &members {
                if left[p] == 0 {
                    continue;
                }
                let open: Vec<i64> = claimants[p]
                    .rules
                    .iter()
                    .map(|r| if r.cells.iter().any(|&c| spare[c] > 0) { r.weight } else { 0 })
                    .collect();
                if open.iter().all(|&w| w == 0) {
                    continue;
                }
                want[p] = apportion(left[p], &open);
                moved = true;
            }
            if !moved {
                break;
            }
        }
        rebalance(claimants, &members, &mut left, &mut spare, &mut granted);
    }
    granted
        .into_iter()
        .filter(|&(_, n)| n > 0)
        .map(|((claimant, rule, cell), n)| Take { claimant, rule, cell, n })
        .collect()
}

/// Proportional asks can leave a project short while numbers it cannot use sit in another
/// cell: a rival took from the project's only cell although the rival could have drawn
/// elsewhere. Such a rival swaps to its other cell and the project gets the numbers; the
/// rival's total does not change.
fn rebalance(
    claimants: &[Claimant],
    members: &[usize],
    left: &mut [i64],
    spare: &mut [i64],
    granted: &mut std::collections::BTreeMap<(usize, usize, usize), i64>,
) {
    loop {
        let mut progress = false;
        for &p in members {
            for (r, rule) in claimants[p].rules.iter().enumerate() {
                for &c in &rule.cells {
                    if left[p] == 0 {
                        break;
                    }
                    let holders: Vec<((usize, usize, usize), i64)> = granted
                        .iter()
                        .filter(|&(&(_, _, cell), &n)| cell == c && n > 0)
                        .map(|(&k, &n)| (k, n))
                        .collect();
                    for ((q, r2, _), n) in holders {
                        let Some(&c2) =
                            claimants[q].rules[r2].cells.iter().find(|&&c2| c2 != c && spare[c2] > 0)
                        else {
                            continue;
                        };
                        let x = left[p].min(n).min(spare[c2]);
                        if x == 0 {
                            continue;
                        }
                        *granted.entry((q, r2, c)).or_default() -= x;
                        *granted.entry((q, r2, c2)).or_default() += x;
                        *granted.entry((p, r, c)).or_default() += x;
                        spare[c2] -= x;
                        left[p] -= x;
                        progress = true;
                    }
                }
            }
        }
        if !progress {
            return;
        }
    }
}

fn fill_tier(
    claimants: &[Claimant],
    members: &[usize],
    want: &mut [Vec<i64>],
    left: &mut [i64],
    spare: &mut [i64],
    granted: &mut std::collections::BTreeMap<(usize, usize, usize), i64>,
) {
    loop {
        // Each rule spreads what it still wants over its cells that still have numbers.
        let mut asks: Vec<(usize, usize, usize, i64)> = Vec::new();
        for &p in members {
            for (r, rule) in claimants[p].rules.iter().enumerate() {
                let wanted = want[p][r].min(left[p]);
                if wanted <= 0 {
                    continue;
                }
                let spares: Vec<i64> = rule.cells.iter().map(|&c| spare[c]).collect();
                for (k, n) in apportion(wanted, &spares).into_iter().enumerate() {
                    if n > 0 {
                        asks.push((p, r, rule.cells[k], n));
                    }
                }
            }
        }
        if asks.is_empty() {
            return;
        }
        asks.sort_by_key(|&(p, r, c, _)| (c, p, r));
        let mut progress = 0;
        let mut start = 0;
        while start < asks.len() {
            let cell = asks[start].2;
            let end = start + asks[start..].iter().take_while(|a| a.2 == cell).count();
            let group = &asks[start..end];
            let asked: Vec<i64> = group.iter().map(|a| a.3).collect();
            let total: i64 = asked.iter().sum();
            let grants = if total <= spare[cell] { asked } else { apportion(spare[cell], &asked) };
            for (&(p, r, c, _), g) in group.iter().zip(grants) {
                // Two rules of one project can share a cell; the project's quota caps both.
                let g = g.min(left[p]);
                if g == 0 {
                    continue;
                }
                *granted.entry((p, r, c)).or_default() += g;
                want[p][r] -= g;
                left[p] -= g;
                spare[c] -= g;
                progress += g;
            }
            start = end;
        }
        if progress == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn total_for(takes: &[Take], claimant: usize) -> i64 {
        takes.iter().filter(|t| t.claimant == claimant).map(|t| t.n).sum()
    }

    #[test]
    fn apportion_adds_up_and_follows_weights() {
        assert_eq!(apportion(10, &[1, 1, 1]), vec![4, 3, 3]);
        assert_eq!(apportion(7, &[0, 3, 4]), vec![0, 3, 4]);
        assert_eq!(apportion(5, &[0, 0]), vec![0, 0]);
        assert_eq!(apportion(1, &[2, 5]), vec![0, 1]);
    }

    #[test]
    fn weights_split_a_quota_between_rules() {
        let c = Claimant {
            priority: 0,
            remaining: 90,
            rules: vec![RuleClaim { weight: 2, cells: vec![0] }, RuleClaim { weight: 1, cells: vec![1] }],
        };
        let takes = plan(&[c], &[1000, 1000]);
        assert_eq!(
            takes,
            vec![
                Take { claimant: 0, rule: 0, cell: 0, n: 60 },
                Take { claimant: 0, rule: 1, cell: 1, n: 30 }
            ]
        );
    }

    #[test]
    fn a_short_rule_passes_its_demand_to_the_others() {
        let c = Claimant {
            priority: 0,
            remaining: 90,
            rules: vec![RuleClaim { weight: 2, cells: vec![0] }, RuleClaim { weight: 1, cells: vec![1] }],
        };
        let takes = plan(&[c], &[10, 1000]);
        assert_eq!(total_for(&takes, 0), 90);
    }

    #[test]
    fn a_big_quota_does_not_starve_a_small_one() {
        let big =
            Claimant { priority: 0, remaining: 900, rules: vec![RuleClaim { weight: 1, cells: vec![0] }] };
        let small =
            Claimant { priority: 0, remaining: 100, rules: vec![RuleClaim { weight: 1, cells: vec![0] }] };
        let takes = plan(&[big, small], &[500]);
        assert_eq!((total_for(&takes, 0), total_for(&takes, 1)), (450, 50));
    }

    #[test]
    fn priority_is_served_first() {
        let low =
            Claimant { priority: 0, remaining: 900, rules: vec![RuleClaim { weight: 1, cells: vec![0] }] };
        let high =
            Claimant { priority: 5, remaining: 400, rules: vec![RuleClaim { weight: 1, cells: vec![0] }] };
        let takes = plan(&[low, high], &[500]);
        assert_eq!((total_for(&takes, 0), total_for(&takes, 1)), (100, 400));
    }

    #[test]
    fn contention_leftovers_go_to_whoever_can_use_them() {
        // Project 1 can only use cell 0; project 0 can use both, so it should leave cell
        // 0 to project 1 as far as its own quota allows.
        let wide =
            Claimant { priority: 0, remaining: 100, rules: vec![RuleClaim { weight: 1, cells: vec![0, 1] }] };
        let narrow =
            Claimant { priority: 0, remaining: 100, rules: vec![RuleClaim { weight: 1, cells: vec![0] }] };
        let takes = plan(&[wide, narrow], &[100, 100]);
        assert_eq!((total_for(&takes, 0), total_for(&takes, 1)), (100, 100), "{takes:?}");
    }
}
