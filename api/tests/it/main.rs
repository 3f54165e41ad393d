//! The `dialpool` binary and the HTTP router against a real PostgreSQL.

mod api;
mod calls;
mod cli;
mod compliance;
mod contract;
mod conversion;
mod dashboard;
mod exports;
mod faults;
mod hostile;
mod http;
mod jobs;
mod numbers;
mod permissions;
mod projects;
mod providers;
mod support;
mod webhooks;
