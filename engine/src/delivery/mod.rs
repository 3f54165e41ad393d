//! What leaves Dialpool: exports of a project's numbers in the dialers' formats, and the
//! SFTP accounts (partners' inboxes and outboxes) and remote hosts that carry files.

pub mod export;
pub mod sftp;
