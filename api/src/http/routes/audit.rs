//! The audit log: who changed what, filterable, and as CSV.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use dialpool_engine::platform::audit::{self, Entry, Filter};
use dialpool_engine::platform::cells::escape_formula;
use dialpool_engine::platform::page::{Page, PageRequest};
use serde::Deserialize;
use utoipa::IntoParams;

use super::PageParams;
use crate::http::AppState;
use crate::http::auth::{Allowed, AuditRead};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Query};

#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditFilter {
    /// From this instant (inclusive), RFC 3339.
    pub from: Option<DateTime<Utc>>,
    /// Up to this instant (exclusive), RFC 3339.
    pub to: Option<DateTime<Utc>>,
    /// The acting user's id.
    pub actor: Option<i64>,
    /// An action (`user.create`) or a prefix ending in a dot (`user.`).
    pub action: Option<String>,
    pub entity: Option<String>,
    pub entity_id: Option<String>,
}

impl From<AuditFilter> for Filter {
    fn from(f: AuditFilter) -> Self {
        let blank = |s: Option<String>| s.filter(|v| !v.trim().is_empty());
        Filter {
            from: f.from,
            to: f.to,
            actor_user_id: f.actor,
            action: blank(f.action),
            entity: blank(f.entity),
            entity_id: blank(f.entity_id),
        }
    }
}

/// Audit entries, newest first. Sort: `at` (`-at` by default).
#[utoipa::path(get, path = "/audit", tag = "audit", params(PageParams, AuditFilter),
    responses((status = 200, body = Page<Entry>)))]
pub async fn list(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<AuditRead>,
    Query(page): Query<PageParams>,
    Query(filter): Query<AuditFilter>,
) -> ApiResult<Json<Page<Entry>>> {
    let client = state.pool.get().await?;
    Ok(Json(audit::list(&**client, caller.tenant(), &filter.into(), &page.into()).await?))
}

const CSV_HEADER: [&str; 12] = [
    "id",
    "at",
    "actor_user_id",
    "actor",
    "actor_token_id",
    "action",
    "entity",
    "entity_id",
    "before",
    "after",
    "request_id",
    "address",
];

fn csv_row(entry: &Entry) -> ApiResult<Vec<u8>> {
    let json = |v: &Option<serde_json::Value>| v.as_ref().map(|v| v.to_string()).unwrap_or_default();
    let actor = entry.actor_email.clone().unwrap_or_else(|| entry.actor_label.clone());
    let fields = [
        entry.id.to_string(),
        entry.at.to_rfc3339(),
        entry.actor_user_id.map(|v| v.to_string()).unwrap_or_default(),
        actor,
        entry.actor_token_id.map(|v| v.to_string()).unwrap_or_default(),
        entry.action.clone(),
        entry.entity.clone(),
        entry.entity_id.clone().unwrap_or_default(),
        json(&entry.before),
        json(&entry.after),
        entry.request_id.clone().unwrap_or_default(),
        entry.address.clone().unwrap_or_default(),
    ];
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer
        .write_record(fields.iter().map(|f| escape_formula(f).into_owned()))
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    writer.into_inner().map_err(|e| ApiError::Internal(e.to_string()))
}

/// The filtered audit log as CSV, streamed page by page; cells are escaped against
/// spreadsheet formula injection.
#[utoipa::path(get, path = "/audit/export", tag = "audit", params(AuditFilter),
    responses((status = 200, content_type = "text/csv", body = String)))]
pub async fn export(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<AuditRead>,
    Query(filter): Query<AuditFilter>,
) -> ApiResult<Response> {
    let filter: Filter = filter.into();
    let tenant = caller.tenant();
    let pool = state.pool.clone();
    let header = {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(CSV_HEADER).map_err(|e| ApiError::Internal(e.to_string()))?;
        writer.into_inner().map_err(|e| ApiError::Internal(e.to_string()))?
    };
    // State: (cursor, finished). Each step fetches one page and yields its CSV bytes.
    let pages = futures_util::stream::unfold((None::<String>, false), move |(cursor, finished)| {
        let pool = pool.clone();
        let filter = filter.clone();
        async move {
            if finished {
                return None;
            }
            let page = async {
                let client = pool.get().await?;
                let request = PageRequest { limit: Some(500), cursor, sort: None };
                let page = audit::list(&**client, tenant, &filter, &request).await?;
                let mut bytes = Vec::new();
                for entry in &page.items {
                    bytes.extend(csv_row(entry)?);
                }
                Ok::<_, ApiError>((bytes, page.next_cursor))
            }
            .await;
            match page {
                Ok((bytes, next)) => {
                    let done = next.is_none();
                    Some((Ok::<_, std::io::Error>(bytes), (next, done)))
                }
                Err(error) => {
                    tracing::error!(?error, "audit export failed part-way");
                    Some((Err(std::io::Error::other("audit export failed")), (None, true)))
                }
            }
        }
    });
    let body = futures_util::stream::once(async move { Ok::<_, std::io::Error>(header) });
    let mut response = Body::from_stream(futures_util::StreamExt::chain(body, pages)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"audit-log.csv\""),
    );
    Ok(response)
}
