//! A project as one document: its settings, pool rules, windows and holidays, and the
//! checks it must pass.

use crate::platform::error::{Error, Result};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use crate::pool::allocate::learn::{CellSetting, Learning};

pub const ORDERS: &[&str] = &["newest", "oldest", "random"];
const WEEKDAYS: [&str; 7] = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"];

/// The English name of an ISO weekday (1 = Monday), for messages.
pub fn weekday_name(weekday: i16) -> &'static str {
    usize::try_from(weekday - 1).ok().and_then(|i| WEEKDAYS.get(i)).copied().unwrap_or("that day")
}
pub const MAX_DAILY_QUOTA: i32 = 10_000_000;

/// A pool rule: numbers of this provider in this geo; `None` means any. A country-level
/// geo also matches its regions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Set by the server; ignored on input.
    #[serde(default)]
    #[schema(read_only)]
    pub id: i64,
    pub provider_id: Option<i64>,
    pub geo_id: Option<i64>,
    /// The rule's share of the daily quota relative to the project's other rules.
    #[serde(default = "one")]
    pub weight: i32,
    /// Only numbers whose E.164 digits start with this: an operator's range or number
    /// block, e.g. `7701` for KZ +7 701 ….
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
}

/// A block prefix as stored: its digits, 1 to 14 of them (`+7 701` → `7701`).
pub fn normalise_prefix(field: &'static str, text: &str) -> Result<String> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let only_digits = text.chars().all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '(' | ')'));
    if !only_digits || digits.is_empty() || digits.len() > 14 {
        return Err(Error::invalid(
            field,
            format!("'{text}' is not a number prefix of 1 to 14 digits, e.g. +7 701"),
        ));
    }
    Ok(digits)
}

fn one() -> i32 {
    1
}

/// A calling window on one ISO weekday (1 = Monday), in the project's time zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Window {
    pub weekday: i16,
    /// `HH:MM`
    #[schema(example = "09:00")]
    pub start: String,
    /// `HH:MM`, later than `start`; `24:00` is the end of the day.
    #[schema(example = "18:00")]
    pub end: String,
}

/// Everything an administrator sets on a project.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectInput {
    pub name: String,
    /// `active` or `paused`; deleting has its own call.
    #[serde(default = "active")]
    pub status: String,
    /// IANA time zone the schedule, holidays and the daily quota are counted in.
    pub time_zone: String,
    pub daily_quota: i32,
    #[serde(default = "five")]
    pub max_attempts: i16,
    /// Higher first when projects compete for the same numbers.
    #[serde(default)]
    pub priority: i16,
    /// An exclusive project keeps every number it is given; otherwise numbers go back to
    /// the pool when the project releases them.
    #[serde(default)]
    pub exclusive: bool,
    /// Which numbers of a rule go first: `newest`, `oldest` or `random`.
    #[serde(default = "newest")]
    pub allocation_order: String,
    /// What happens to a number whose life in the project ends (a final status, or max
    /// attempts): `keep` it parked in the project, or `release` it to the pool (never for
    /// an exclusive project).
    #[serde(default = "keep")]
    pub on_final: String,
    #[serde(default)]
    pub sources: Vec<Source>,
    #[serde(default)]
    pub windows: Vec<Window>,
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
    /// Learned weights: each provider × geo cell's share follows what it converts to
    /// (the rules' fixed weights are then not used). Absent: fixed weights.
    #[serde(default)]
    pub learning: Option<Learning>,
}

fn active() -> String {
    "active".into()
}
fn five() -> i16 {
    5
}
fn newest() -> String {
    "newest".into()
}
fn keep() -> String {
    "keep".into()
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Project {
    pub id: i64,
    pub name: String,
    pub status: String,
    pub time_zone: String,
    pub daily_quota: i32,
    pub max_attempts: i16,
    pub priority: i16,
    pub exclusive: bool,
    pub allocation_order: String,
    pub on_final: String,
    pub sources: Vec<Source>,
    pub windows: Vec<Window>,
    pub holidays: Vec<NaiveDate>,
    pub learning: Option<Learning>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub deleted_at: Option<DateTime<Utc>>,
}

/// A project in a list: its settings and how far today's quota is filled (today in the
/// project's own time zone).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProjectSummary {
    #[serde(flatten)]
    pub project: Project,
    pub today: NaiveDate,
    pub allocated_today: i64,
    /// Numbers the project holds now.
    pub numbers: i64,
    /// Held numbers in a success status.
    pub successes: i64,
    /// Held numbers called since the project got them.
    pub dialed: i64,
    /// successes / dialed, when anything was dialed.
    pub conversion: Option<f64>,
}

/// What to do with the numbers a project holds when it is paused or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Release {
    /// Every number stays with the project.
    #[default]
    None,
    /// Numbers never dialled (in a fresh status, not leased) go back to the pool.
    Unworked,
    /// Every number not under a live lease goes back to the pool, keeping its status.
    All,
}

/// Where a project's numbers ended after a pause, delete or purge.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReleaseCounts {
    pub released: i64,
    pub kept: i64,
    pub events_archived: i64,
}

fn parse_minutes(text: &str, field_end: bool) -> Option<i32> {
    let (h, m) = text.split_once(':')?;
    if h.len() != 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    let max_hour = if field_end { 24 } else { 23 };
    if !(0..=max_hour).contains(&h) || !(0..60).contains(&m) || (h == 24 && m != 0) {
        return None;
    }
    Some(h * 60 + m)
}

/// Checks a project document; returns the trimmed name. Time zone and the existence of
/// providers and geos are checked against the database by [`save`].
pub(super) fn validate(input: &ProjectInput) -> Result<String> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(Error::invalid("name", "must be 1 to 200 characters"));
    }
    if !matches!(input.status.as_str(), "active" | "paused") {
        return Err(Error::invalid(
            "status",
            "must be active or paused (delete a project with its own call)",
        ));
    }
    if !(0..=MAX_DAILY_QUOTA).contains(&input.daily_quota) {
        return Err(Error::invalid("daily_quota", format!("must be between 0 and {MAX_DAILY_QUOTA}")));
    }
    if !(1..=100).contains(&input.max_attempts) {
        return Err(Error::invalid("max_attempts", "must be between 1 and 100"));
    }
    if !["keep", "release"].contains(&input.on_final.as_str()) {
        return Err(Error::invalid("on_final", format!("'{}' is not keep or release", input.on_final)));
    }
    if input.on_final == "release" && input.exclusive {
        return Err(Error::invalid(
            "on_final",
            "an exclusive project keeps its numbers; it cannot release them",
        ));
    }
    if !ORDERS.contains(&input.allocation_order.as_str()) {
        return Err(Error::invalid("allocation_order", format!("must be one of {}", ORDERS.join(", "))));
    }
    for (i, source) in input.sources.iter().enumerate() {
        if source.weight < 1 || source.weight > 1000 {
            return Err(Error::invalid(
                "sources",
                format!(
                    "rule {}: weight {} must be between 1 and 1000 (remove a rule rather than weigh it 0)",
                    i + 1,
                    source.weight
                ),
            ));
        }
        if let Some(prefix) = &source.prefix
            && normalise_prefix("sources", prefix).ok().as_ref() != Some(prefix)
        {
            return Err(Error::invalid(
                "sources",
                format!("rule {}: prefix '{prefix}' must be 1 to 14 digits, e.g. 7701", i + 1),
            ));
        }
        if input.sources[..i].iter().any(|s| {
            s.provider_id == source.provider_id && s.geo_id == source.geo_id && s.prefix == source.prefix
        }) {
            return Err(Error::invalid(
                "sources",
                format!("rule {} repeats an earlier provider, geo and prefix", i + 1),
            ));
        }
    }
    let mut by_day: Vec<(i16, i32, i32)> = Vec::new();
    for window in &input.windows {
        if !(1..=7).contains(&window.weekday) {
            return Err(Error::invalid(
                "windows",
                format!("weekday {} must be 1 (Monday) to 7 (Sunday)", window.weekday),
            ));
        }
        let day = weekday_name(window.weekday);
        let start = parse_minutes(&window.start, false).ok_or_else(|| {
            Error::invalid("windows", format!("{day}: start '{}' is not a time HH:MM", window.start))
        })?;
        let end = parse_minutes(&window.end, true).ok_or_else(|| {
            Error::invalid("windows", format!("{day}: end '{}' is not a time HH:MM", window.end))
        })?;
        if end <= start {
            return Err(Error::invalid(
                "windows",
                format!("{day}: window {}–{} ends before it starts", window.start, window.end),
            ));
        }
        by_day.push((window.weekday, start, end));
    }
    by_day.sort();
    for pair in by_day.windows(2) {
        let ((day, s1, e1), (day2, s2, e2)) = (pair[0], pair[1]);
        if day == day2 && s2 < e1 {
            let hm = |m: i32| format!("{:02}:{:02}", m / 60, m % 60);
            return Err(Error::invalid(
                "windows",
                format!("{}: window {}–{} overlaps {}–{}", weekday_name(day), hm(s1), hm(e1), hm(s2), hm(e2)),
            ));
        }
    }
    if let Some(learning) = &input.learning {
        learning.validate()?;
    }
    let mut holidays = input.holidays.clone();
    holidays.sort();
    if holidays.windows(2).any(|d| d[0] == d[1]) {
        return Err(Error::invalid("holidays", "a date is listed twice"));
    }
    Ok(name.to_owned())
}
