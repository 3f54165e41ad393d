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
pub mod groups;
pub mod imports;
pub mod jobs;
pub mod numbers;
pub mod projects;
pub mod providers;
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

/// A report as JSON, or as the CSV or XLSX file `format` asks for, downloaded as
/// `<name>.<csv|xlsx>`; another format is refused, naming the field.
pub(crate) fn report_in_format<T: serde::Serialize>(
    report: T,
    format: Option<&str>,
    name: &str,
    csv: impl FnOnce(&T) -> dialpool_engine::Result<Vec<u8>>,
    xlsx: impl FnOnce(&T) -> dialpool_engine::Result<Vec<u8>>,
) -> crate::http::error::ApiResult<axum::response::Response> {
    use axum::http::HeaderValue;
    use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
    use axum::response::IntoResponse;
    let (bytes, content_type, extension) = match format.unwrap_or("json") {
        "json" => return Ok(crate::http::extract::Json(report).into_response()),
        "csv" => (csv(&report)?, "text/csv; charset=utf-8", "csv"),
        "xlsx" => {
            (xlsx(&report)?, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx")
        }
        other => {
            return Err(dialpool_engine::Error::invalid(
                "format",
                format!("'{other}' is not json, csv or xlsx"),
            )
            .into());
        }
    };
    let mut response = axum::body::Body::from(bytes).into_response();
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"{name}.{extension}\"")) {
        response.headers_mut().insert(CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
