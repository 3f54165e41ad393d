//! The tenant's id on its own, so that every module can name whose data it touches
//! without depending on how tenants are created (which needs users, which need the audit
//! log, which needs the id again).

/// A tenant's id: every call into the engine names one, and every table is keyed and
/// distributed by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TenantId(pub i64);
