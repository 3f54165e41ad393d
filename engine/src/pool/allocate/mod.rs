//! Allocation: the shared pool → projects, for a day. One function serves the CLI, the
//! API, the UI's preview and the scheduled job.
//!
//! A run reads the pool once as counts per cell (provider × geo × status × attempts, and
//! who holds it, DNC, cooling down), plans in memory how many numbers each project's rule
//! takes from each cell ([`plan`]), then picks exactly those with one statement per
//! ordering: per cell the first N numbers by the order the project asked for, dealt out
//! between the cell's takers in turn, into a temp table; one `UPDATE ... FROM` it and one
//! `INSERT` of events write them. A real run locks its tenant's allocation for the
//! transaction (a second run for the same day waits, then finds the quota filled), picks
//! rows `FOR UPDATE SKIP LOCKED` so imports and leases in flight neither block it nor
//! are overwritten, and re-checks `project_id IS NULL` as it writes. A dry run reports
//! the plan from a repeatable-read snapshot, and picks the same numbers only when asked
//! to list them; it writes nothing.
//!
//! The parts: what is asked and reported ([`request`]), the projects and the pool as a run
//! sees them ([`state`]), planning and picking the numbers ([`pick`]), and the run itself
//! ([`run`]).

pub mod forecast;
pub mod learn;
mod pick;
pub mod plan;
mod request;
mod run;
pub mod simulation;
mod state;

use pick::*;
pub use request::*;
pub use run::*;
pub(crate) use state::*;
