//! Dialpool's HTTP API and command line: both call the engine and nothing else.

pub mod cli;
mod cli_jobs;
mod cli_projects;
mod cli_sftp;
pub mod http;
