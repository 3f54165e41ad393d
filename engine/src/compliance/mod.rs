//! A number's life under the law: erasure with tombstones, subject access, retention of
//! events and the audit log by partition, and the compliance report. It reads and
//! rewrites what every earlier stage stored, so it comes last.

pub mod erasure;
pub mod report;
pub mod retention;
pub mod subject;
