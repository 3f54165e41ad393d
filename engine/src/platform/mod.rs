//! What every stage stands on: the database and its migrations, errors, tenants, access
//! (users, roles, tokens, sessions), the audit log, the job queue and schedules, secrets,
//! paging, the webhook outbox and the escaping of exported cells.

pub mod access;
pub mod audit;
pub mod cells;
pub mod db;
pub mod error;
pub mod job;
pub mod page;
pub mod progress;
pub mod schedule;
pub mod secret;
pub mod tenant;
mod tenant_id;
pub mod webhook;

pub use tenant_id::TenantId;
