//! Conversion analytics: per day (in the project's time zone) × project × provider × geo,
//! how many numbers were allocated, exported and leased, and how many calls were dialled,
//! reached a person, succeeded, failed or went unanswered; and the calls of each of those
//! cells split by the hour they started (the weekday × hour heat map).
//!
//! The refresh ([`refresh`]) reads the source rows (allocation and lease events, the
//! exports' batches, the calls) with one binary `COPY`, aggregates them in Polars, and
//! writes the cells back with `COPY`, in one transaction. An incremental refresh reads only
//! the rows committed since the last refresh (by transaction id against the last
//! refresh's snapshot, never by clock) and adds them to their cells: its cost is what
//! changed, and each row counts once. The report ([`report`]) reads the cells, and writes
//! them as CSV or XLSX.
//!
//! The same refresh writes `provider_outcomes` for the provider scorecard: per day and
//! provider, by geo, by batch and by number block, with histograms of the attempts and
//! hours successes took ([`histogram`]).

pub mod histogram;
mod refresh;
mod report;

pub use refresh::*;
pub use report::*;
