//! Dialpool's HTTP API and command line. The API grows in issue 3; for now it answers the
//! health checks that deployments and the demo need.

pub mod cli;
pub mod http;
