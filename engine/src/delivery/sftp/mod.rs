//! Files over SFTP: partners' accounts on our server, and remote hosts we pull from and
//! push to.

pub mod account;
pub mod remote;
