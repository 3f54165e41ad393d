//! Fixed-bucket histograms of what successes took (attempts, hours from allocation), and
//! the number blocks outcomes are counted by. Fixed buckets add up across days, projects,
//! geos and batches, so a median over any roll-up is read from the summed histogram
//! instead of from every call: exact for attempts up to [`ATTEMPT_BUCKETS`] - 1, and
//! within half an hour (first day) or half a day (up to 30 days) for hours.

/// Attempts 1 to 29 each have a bucket; the last counts 30 and more.
pub const ATTEMPT_BUCKETS: usize = 30;
/// 24 hourly buckets, 29 daily ones (day 2 to day 30), then one for the rest.
pub const HOURS_BUCKETS: usize = 24 + 29 + 1;
/// The digits of a number block as stored; a scorecard rolls blocks up to fewer.
pub const BLOCK_DIGITS: u32 = 6;

/// A success's attempt bucket: attempt 1 is bucket 0.
pub fn attempt_bucket(attempt: i32) -> i16 {
    (attempt.clamp(1, ATTEMPT_BUCKETS as i32) - 1) as i16
}

/// A success's hours bucket.
pub fn hours_bucket(hours: f64) -> i16 {
    let hours = hours.max(0.0);
    if hours < 24.0 {
        hours as i16
    } else if hours < 720.0 {
        23 + (hours / 24.0) as i16
    } else {
        (HOURS_BUCKETS - 1) as i16
    }
}

/// The hours a bucket spans; the last one has no end.
fn hours_bounds(bucket: usize) -> (f64, Option<f64>) {
    match bucket {
        b if b < 24 => (b as f64, Some(b as f64 + 1.0)),
        b if b < HOURS_BUCKETS - 1 => {
            let day = (b - 23) as f64;
            (day * 24.0, Some((day + 1.0) * 24.0))
        }
        _ => (720.0, None),
    }
}

/// The first [`BLOCK_DIGITS`] digits of a number (E.164 digits without the '+'); 0 for a
/// shorter number or an erased one (stored as 0).
pub fn block_of(phone: i64) -> i64 {
    let digits = phone.checked_ilog10().map_or(0, |d| d + 1);
    if digits < BLOCK_DIGITS { 0 } else { phone / 10_i64.pow(digits - BLOCK_DIGITS) }
}

/// A stored block rolled up to its first `digits` digits.
pub fn block_prefix(block: i64, digits: u32) -> i64 {
    if block == 0 { 0 } else { block / 10_i64.pow(BLOCK_DIGITS - digits.clamp(1, BLOCK_DIGITS)) }
}

/// Adds `count` to one bucket, growing the histogram as needed.
pub fn add_count(histogram: &mut Vec<i64>, bucket: usize, count: i64) {
    if histogram.len() <= bucket {
        histogram.resize(bucket + 1, 0);
    }
    histogram[bucket] += count;
}

/// The value at 1-based `rank` of a histogram whose bucket i holds value i + 1.
fn attempt_at(histogram: &[i64], rank: i64) -> f64 {
    let mut seen = 0;
    for (i, count) in histogram.iter().enumerate() {
        seen += count;
        if seen >= rank {
            return (i + 1) as f64;
        }
    }
    histogram.len() as f64
}

/// The median attempt a success took; `None` without successes. The middle two are
/// averaged for an even count, as for any median.
pub fn median_attempts(histogram: &[i64]) -> Option<f64> {
    let n: i64 = histogram.iter().sum();
    match n {
        0 => None,
        n if n % 2 == 1 => Some(attempt_at(histogram, n / 2 + 1)),
        n => Some((attempt_at(histogram, n / 2) + attempt_at(histogram, n / 2 + 1)) / 2.0),
    }
}

/// The median hours to a success, interpolated within its bucket; past 30 days it says 720.
pub fn median_hours(histogram: &[i64]) -> Option<f64> {
    let n: i64 = histogram.iter().sum();
    if n == 0 {
        return None;
    }
    let half = n as f64 / 2.0;
    let mut before = 0.0;
    for (i, &count) in histogram.iter().enumerate() {
        let count = count as f64;
        if count > 0.0 && before + count >= half {
            let (low, high) = hours_bounds(i);
            return Some(match high {
                Some(high) => low + (high - low) * (half - before) / count,
                None => low,
            });
        }
        before += count;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A histogram from (bucket, count) pairs, without trailing zeros.
    fn from_counts(counts: impl IntoIterator<Item = (usize, i64)>) -> Vec<i64> {
        let mut out: Vec<i64> = Vec::new();
        for (bucket, count) in counts {
            add_count(&mut out, bucket, count);
        }
        out
    }

    #[test]
    fn attempts_median_is_exact_below_the_last_bucket() {
        // 1, 1, 2, 5: the median is (1 + 2) / 2.
        let h = from_counts([(0, 2), (1, 1), (4, 1)]);
        assert_eq!(median_attempts(&h), Some(1.5));
        // 2, 3, 3: the median is 3.
        assert_eq!(median_attempts(&from_counts([(1, 1), (2, 2)])), Some(3.0));
        assert_eq!(median_attempts(&[]), None);
        assert_eq!(attempt_bucket(0), 0);
        assert_eq!(attempt_bucket(45), 29);
    }

    #[test]
    fn hours_buckets_cover_the_first_day_hourly_then_days() {
        assert_eq!(hours_bucket(0.2), 0);
        assert_eq!(hours_bucket(23.9), 23);
        assert_eq!(hours_bucket(24.0), 24);
        assert_eq!(hours_bucket(47.9), 24);
        assert_eq!(hours_bucket(48.0), 25);
        assert_eq!(hours_bucket(719.0), 52);
        assert_eq!(hours_bucket(5000.0), 53);
        for h in [0.5, 10.0, 30.0, 100.0, 700.0] {
            let (low, high) = hours_bounds(hours_bucket(h) as usize);
            assert!(low <= h && h < high.unwrap(), "{h} in [{low}, {high:?})");
        }
        // Two successes in hour 3, two on day 3: half the mass lies below 4 hours.
        let h = from_counts([(3, 2), (25, 2)]);
        assert_eq!(median_hours(&h), Some(4.0));
        assert_eq!(median_hours(&from_counts([(53, 1)])), Some(720.0));
    }

    #[test]
    fn blocks_are_the_first_six_digits() {
        assert_eq!(block_of(77012345678), 770123);
        assert_eq!(block_of(12125550100), 121255);
        assert_eq!(block_of(12345), 0);
        assert_eq!(block_of(0), 0);
        assert_eq!(block_prefix(770123, 4), 7701);
        assert_eq!(block_prefix(770123, 6), 770123);
    }
}
