//! Remote SFTP hosts Dialpool signs in to: to pull providers' number files or dialers'
//! outcome files, or to push exports. This module owns their storage: the remotes with
//! their sealed credentials and pinned host key, their schedule ([`config`]), the host key
//! and how to reach them ([`host_key`]), the fingerprints of files pulled and the transfer
//! log, `sftp_jobs` ([`transfers`]). The SSH side is `dialpool-sftp`'s.
//!
//! A host key is never learnt silently: a connection records the key the host offered,
//! an administrator confirms it by its fingerprint, and from then on any other key is
//! refused.

mod config;
mod host_key;
mod transfers;

pub use config::*;
pub use host_key::*;
pub use transfers::*;
