//! Where numbers come in: reading a partner's file (CSV, XLSX, Parquet, VICIdial),
//! mapping its columns, normalising each number ([`phone`]), and merging it into the
//! tenant's pool with its provider and geo; the DNC lists come in the same way.

pub mod dnc;
pub mod dnc_list;
pub mod geo;
pub mod import;
pub mod phone;
pub mod provider;
pub mod returns;
pub mod tombstone;
