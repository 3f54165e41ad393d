//! Importing a provider's file of numbers: stream and normalise it on a reader thread,
//! binary-COPY each batch into a temporary staging table and merge it with one set-based
//! statement, all in one transaction. Killed half-way, an import leaves nothing behind.
//!
//! The parts: what is asked and reported ([`request`]), the run ([`pipeline`]), writing
//! batches ([`merge`]) and the end ([`finish`]); reading files is [`source`], rows become
//! batches in [`batch`].

pub mod batch;
mod finish;
pub mod history;
pub mod jobs;
pub mod layout;
pub mod mapping;
mod merge;
mod options;
mod pipeline;
pub mod reentry;
pub mod rejects;
mod request;
pub mod source;

use finish::*;
pub use merge::*;
pub use options::{Deliver, ImportJob, ImportOptions, stored_options};
pub use pipeline::*;
pub use request::*;
