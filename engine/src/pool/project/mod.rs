//! Projects: calling campaigns with a pool (which providers and geos they draw from), a
//! weekly schedule in their own time zone, and a daily quota. A project is configured as
//! one document (settings, pool rules, windows, holidays) and saved whole, so what the
//! admin previews is exactly what gets stored.
//!
//! The parts: the document and its checks ([`model`]), reading and saving it ([`store`]),
//! and its life: pausing, deleting, restoring, purging, and the numbers it releases
//! ([`lifecycle`]).

mod lifecycle;
mod model;
mod store;

pub use lifecycle::*;
pub use model::*;
pub use store::*;

#[cfg(test)]
mod tests;
