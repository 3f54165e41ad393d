//! Dialpool as an SFTP client of remote hosts: pulling providers' number files or
//! dialers' outcome files, pushing exports, and testing a connection.
//!
//! A host is trusted only by the key an administrator confirmed. Before one is
//! confirmed, and whenever the host offers another, the connection stops at the key
//! exchange, so no password or key signature ever reaches an unconfirmed host; the key
//! it offered is recorded for the administrator to compare.
//!
//! A pull downloads each new file that matches the remote's pattern to a hidden local
//! name while hashing it, checks the remote file did not change meanwhile, and then in
//! one transaction records its fingerprint and queues its import. Only after that commit
//! is the remote file deleted or moved, so a crash in between leaves the file to be
//! recognised (fingerprint) and tidied on the next pull, never imported twice.
//!
//! The parts: signing in with the confirmed key only ([`connect`]), the transfer and its
//! lock ([`transfer`]), pulling ([`pull`]) and pushing ([`push`]).

mod connect;
mod pull;
mod push;
mod transfer;

pub use connect::*;
use pull::*;
use push::*;
pub use transfer::*;

#[cfg(test)]
mod tests;
