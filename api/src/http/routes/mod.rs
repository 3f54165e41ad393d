//! The `/api/v1` routes, one module per area. Every handler takes a [`Caller`] (401
//! without one), checks a permission (403), and reads and writes only the caller's tenant
//! (another tenant's ids are simply not found: 404).
//!
//! [`Caller`]: super::auth::Caller

pub mod audit;
pub mod calls;
pub mod compliance;
pub mod conversion;
pub mod dashboard;
pub mod exports;
pub mod imports;
pub mod jobs;
pub mod numbers;
pub mod projects;
pub mod settings;
pub mod sftp;
pub mod tenants;
pub mod tokens;
pub mod users;
pub mod webhooks;

use dialpool_engine::platform::page::PageRequest;
use serde::Deserialize;
use utoipa::IntoParams;

/// Keyset paging: pass `next_cursor` of one page as `cursor` to get the next.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Rows per page, 1 to 500 (default 50).
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// A sort key of the list; prefix `-` for descending.
    pub sort: Option<String>,
}

impl From<PageParams> for PageRequest {
    fn from(p: PageParams) -> Self {
        PageRequest { limit: p.limit, cursor: p.cursor, sort: p.sort }
    }
}
