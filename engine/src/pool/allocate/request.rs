//! What an allocation is asked for, as a job or a call, and what it reports.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// The `allocation` job: the daily allocation of one project, or of every live one.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AllocationJob {
    pub project_id: Option<i64>,
}

impl crate::platform::job::JobArgs for AllocationJob {
    const KIND: crate::platform::job::JobKind = crate::platform::job::JobKind::Allocation;
}

/// What to allocate.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The day to allocate for, the same for every project; by default each project's
    /// own today (the date at `at` in its time zone).
    pub date: Option<NaiveDate>,
    /// The moment cool-downs are measured against and, without `date`, today is taken
    /// from; now by default.
    pub at: Option<DateTime<Utc>>,
    /// Only these projects take part (the others do not compete); all live ones if None.
    pub projects: Option<Vec<i64>>,
    pub dry_run: bool,
    /// Return the phone numbers each project gets (for tests and small previews).
    pub include_numbers: bool,
}

/// What a project did (or would do) in a run.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ProjectRun {
    pub project_id: i64,
    pub name: String,
    /// The project's day for this run, and its ISO weekday (1 = Monday).
    pub day: NaiveDate,
    pub weekday: i16,
    /// `allocating`, `paused`, `holiday` or `not_scheduled`.
    pub state: String,
    pub daily_quota: i32,
    /// Allocated earlier on the same day.
    pub allocated_before: i64,
    pub allocated: i64,
    /// Numbers of the shared pool this project could take now.
    pub eligible: i64,
    pub rules: Vec<RuleRun>,
    pub skipped: Skipped,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub numbers: Option<Vec<String>>,
    /// For a project with learned weights: each provider × geo cell's share and the
    /// evidence for it (empty with fixed weights, or when the project does not allocate).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learned: Vec<super::learn::LearnedWeight>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RuleRun {
    pub source_id: i64,
    pub provider_id: Option<i64>,
    pub geo_id: Option<i64>,
    pub weight: i32,
    pub allocated: i64,
}

/// Numbers that match a project's rules but that it does not get, by the first reason
/// that holds, in this order.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct Skipped {
    pub held_by_other_project: i64,
    pub dnc: i64,
    /// In a status nobody draws from (success, failure, invalid, in work ...).
    pub status: i64,
    pub max_attempts: i64,
    pub cooling_down: i64,
    /// Eligible, but the project does not run on this day.
    pub outside_schedule: i64,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Report {
    pub dry_run: bool,
    pub at: DateTime<Utc>,
    pub allocated: i64,
    pub projects: Vec<ProjectRun>,
    pub elapsed_ms: u64,
}
