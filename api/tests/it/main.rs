//! The `dialpool` binary and the HTTP router against a real PostgreSQL.

mod api;
mod calls;
mod cli;
mod conversion;
mod dashboard;
mod exports;
mod http;
mod jobs;
mod numbers;
mod projects;
mod support;
mod webhooks;
