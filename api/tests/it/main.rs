//! The `dialpool` binary and the HTTP router against a real PostgreSQL.

mod cli;
mod http;
