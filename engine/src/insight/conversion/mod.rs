//! Conversion analytics: per day (in the project's time zone) × project × provider × geo,
//! how many numbers were allocated, exported and leased, and how many calls were dialled,
//! reached a person, succeeded, failed or went unanswered; and the calls of each of those
//! cells split by the hour they started (the weekday × hour heat map).
//!
//! The refresh ([`refresh`]) reads the source rows (allocation and lease events, the
//! exports' batches, the calls) with one binary `COPY`, aggregates them in Polars, and
//! writes the cells back with `COPY`, in one transaction. An incremental refresh recomputes
//! only the cells the rows stamped since the last watermark touch, each from all of its
//! rows, so running it twice, or over an overlap, changes nothing, and it equals a full
//! rebuild. The report ([`report`]) reads the cells, and writes them as CSV or XLSX.
//!
//! The same refresh writes `provider_outcomes` for the provider scorecard: per day and
//! provider, by geo, by batch and by number block, with histograms of the attempts and
//! hours successes took ([`histogram`]).

pub mod histogram;
mod refresh;
mod report;

pub use refresh::*;
pub use report::*;
