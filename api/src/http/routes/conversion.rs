//! Conversion analytics over HTTP: the report by any dimensions, as JSON, CSV or XLSX,
//! and the weekday × hour heat map.

use axum::extract::State;
use axum::response::Response;
use dialpool_engine::insight::conversion::{self, ConversionQuery, ConversionReport, HourReport};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::http::AppState;
use crate::http::auth::{Allowed, ConversionRead};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Query};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReportParams {
    /// Comma-separated dimensions: day, weekday, project, provider, geo.
    pub by: Option<String>,
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub project_id: Option<i64>,
    pub provider_id: Option<i64>,
    pub geo_id: Option<i64>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
}

/// Conversion per day (in each project's zone) × project × provider × geo, grouped by the
/// dimensions asked for, with totals. Within a manager's projects only.
#[utoipa::path(get, path = "/conversion", tag = "conversion", params(ReportParams),
    responses((status = 200, description = "JSON, or the same rows as CSV or XLSX with format=csv|xlsx", content(
        (ConversionReport = "application/json"),
        (String = "text/csv"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))))]
pub async fn report(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ConversionRead>,
    Query(params): Query<ReportParams>,
) -> ApiResult<Response> {
    let query = ConversionQuery {
        by: params.by,
        from: params.from,
        to: params.to,
        project_id: params.project_id,
        provider_id: params.provider_id,
        geo_id: params.geo_id,
    };
    let client = state.pool.get().await?;
    let report =
        conversion::report(&**client, caller.tenant(), caller.scope().project_filter(), &query).await?;
    super::report_in_format(
        report,
        params.format.as_deref(),
        "conversion",
        conversion::report_csv,
        conversion::report_xlsx,
    )
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct HoursParams {
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub project_id: Option<i64>,
    pub provider_id: Option<i64>,
    pub geo_id: Option<i64>,
}

/// Calls by weekday × hour of the day they started (in each project's zone): dialled,
/// reached, succeeded, and the rates. Within a manager's projects only.
#[utoipa::path(get, path = "/conversion/hours", tag = "conversion", params(HoursParams),
    responses((status = 200, body = HourReport)))]
pub async fn hours(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ConversionRead>,
    Query(params): Query<HoursParams>,
) -> ApiResult<Json<HourReport>> {
    let query = ConversionQuery {
        by: None,
        from: params.from,
        to: params.to,
        project_id: params.project_id,
        provider_id: params.provider_id,
        geo_id: params.geo_id,
    };
    let client = state.pool.get().await?;
    Ok(Json(conversion::hours(&**client, caller.tenant(), caller.scope().project_filter(), &query).await?))
}
