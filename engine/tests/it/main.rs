//! Engine integration tests against a real PostgreSQL; each test has its own database.

mod allocation;
mod bad_input;
mod calls;
mod compliance;
mod conversion;
mod exports;
mod formats;
mod groups;
mod migrations;
mod phones;
mod pipeline;
mod reentry;
mod retention;
mod scorecard;
mod support;
mod zones;
