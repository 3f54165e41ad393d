//! Dialpool's engine: the schema, the import pipeline and, later, allocation, leases,
//! exports and conversion. It knows nothing of HTTP or SSH; it takes a connection pool and
//! plain Rust types.

pub mod access;
pub mod allocate;
pub mod audit;
pub mod calls;
pub mod cells;
pub mod conversion;
pub mod dashboard;
pub mod db;
pub mod dnc;
pub mod error;
pub mod export;
pub mod geo;
pub mod import;
pub mod job;
pub mod number;
pub mod page;
pub mod phone;
pub mod project;
pub mod provider;
pub mod schedule;
pub mod secret;
pub mod sftp_account;
pub mod sftp_remote;
pub mod status;
pub mod tenant;
pub mod webhook;

pub use error::{Error, ErrorKind, Location, Result};

#[cfg(feature = "testkit")]
pub mod testkit;
