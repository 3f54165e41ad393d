//! Dialpool's HTTP API and command line: both call the engine and nothing else. `serve`
//! runs the HTTP API, the SFTP server and the background workers in one process.

pub mod cli;
mod connect;
mod demo;
pub mod http;
pub mod serve;
