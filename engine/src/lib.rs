//! Dialpool's engine: everything a phone number lives through, from a partner's file to
//! a dialer and back to a conversion figure, over PostgreSQL. It knows nothing of HTTP or
//! SSH; the `api`, `sftp` and `jobs` crates call it with a connection pool and plain Rust
//! types, and never reach its tables themselves.
//!
//! The folders follow a number's life, and each depends only on those before it and on
//! `platform`: [`intake`] → [`pool`] → [`dialing`] → [`delivery`] → [`insight`] →
//! [`compliance`].
//! `ARCHITECTURE.md` at the repository's root walks one number through them.

pub mod compliance;
pub mod delivery;
pub mod dialing;
pub mod insight;
pub mod intake;
pub mod platform;
pub mod pool;

pub use platform::TenantId;
pub use platform::error::{Error, ErrorKind, Location, Result};

/// Brings the database up to date: the schema's migrations, then the data steps a newly
/// applied migration asks for and that need the engine's own code (placing every number
/// in its time zones needs the phone-prefix data). Runs them here, at the root, so that
/// `platform::db` stays below the stages.
pub async fn migrate(client: &mut tokio_postgres::Client) -> Result<platform::db::MigrationReport> {
    let report = platform::db::migrate_schema(client).await?;
    if report.applied.iter().any(|m| m.starts_with("0017_")) {
        let placed = intake::phone::zones::backfill(client).await?;
        tracing::info!(placed, "numbers placed in their time zones");
    }
    Ok(report)
}

#[cfg(feature = "testkit")]
pub mod testkit;
