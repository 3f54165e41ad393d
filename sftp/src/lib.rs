//! The embedded SFTP drop server and the client for remote partner hosts (issue 7). It
//! will depend on `dialpool-engine` only, turning finished uploads into import jobs.
