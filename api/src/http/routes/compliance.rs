//! Erasure and tombstones, and subject access. Everything here needs `privacy.manage`:
//! it reads or forgets everything about a person.

use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use dialpool_engine::compliance::erasure::{
    self, ErasureRecord, ErasureRequest, ErasureSummary, LiftInput, TombstoneState,
};
use dialpool_engine::compliance::report::{self, ComplianceReport};
use dialpool_engine::compliance::retention::{self, RetentionOverview, RetentionSettings};
use dialpool_engine::compliance::subject::{self, SubjectReport};
use dialpool_engine::intake::phone;
use dialpool_engine::platform::secret::SecretKey;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::http::AppState;
use crate::http::auth::{Allowed, PrivacyManage};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path, Query};

/// Numbers one request may erase; a longer list goes by `dialpool erase --file`.
const MAX_PHONES: usize = 100_000;

fn secret_key(state: &AppState) -> ApiResult<SecretKey> {
    Ok(SecretKey::load(&state.config.data_dir)?)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureInput {
    /// The numbers, any format (E.164 recommended); at most 100,000.
    pub phones: Vec<String>,
    /// Region for numbers written without a country code.
    pub region: Option<String>,
    /// Why; the rejects file of a later import reads "erased on DATE <reason>". Default:
    /// "at the subject's request".
    pub reason: Option<String>,
    /// When the subject asked (RFC 3339); now by default.
    pub requested_at: Option<DateTime<Utc>>,
}

/// Erase numbers: each goes with its attributes, its events and calls lose their
/// personal fields, kept export files that hold it are withdrawn, and a tombstone (a
/// keyed hash, never the number) refuses it in every later import.
#[utoipa::path(post, path = "/erasures", tag = "compliance", request_body = ErasureInput,
    responses((status = 200, body = ErasureSummary)))]
pub async fn erase(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<PrivacyManage>,
    Json(input): Json<ErasureInput>,
) -> ApiResult<Json<ErasureSummary>> {
    if input.phones.len() > MAX_PHONES {
        return Err(dialpool_engine::Error::invalid(
            "phones",
            format!(
                "{} numbers; one request erases at most {MAX_PHONES} (use `dialpool erase --file`)",
                input.phones.len()
            ),
        )
        .into());
    }
    let region = input.region.as_deref().filter(|r| !r.is_empty()).map(phone::Region::parse).transpose()?;
    let phones = input
        .phones
        .iter()
        .map(|raw| phone::parse_input("phones", raw, region))
        .collect::<dialpool_engine::Result<Vec<i64>>>()?;
    let request = ErasureRequest {
        tenant: caller.tenant(),
        phones,
        reason: input.reason.unwrap_or_else(|| erasure::DEFAULT_REASON.to_owned()),
        requested_at: input.requested_at,
        actor: caller.actor(),
    };
    let summary =
        erasure::erase(&state.pool, &state.config.data_dir, &secret_key(&state)?, request, None).await?;
    Ok(Json(summary))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ErasureListParams {
    /// 1 to 500 (default 100).
    pub limit: Option<i64>,
}

/// Erasures, newest first: who asked, why, when, how many numbers were found and how
/// many export files withdrawn. Never the numbers.
#[utoipa::path(get, path = "/erasures", tag = "compliance", params(ErasureListParams),
    responses((status = 200, body = Vec<ErasureRecord>)))]
pub async fn list_erasures(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<PrivacyManage>,
    Query(params): Query<ErasureListParams>,
) -> ApiResult<Json<Vec<ErasureRecord>>> {
    let client = state.pool.get().await?;
    Ok(Json(erasure::list(&**client, caller.tenant(), params.limit.unwrap_or(100)).await?))
}

/// Whether a number (E.164, `+` as `%2B`) was erased, when and why, and whether its
/// tombstone was lifted; 404 when it never was.
#[utoipa::path(get, path = "/tombstones/{phone}", tag = "compliance", params(("phone" = String, Path)),
    responses((status = 200, body = TombstoneState)))]
pub async fn get_tombstone(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<PrivacyManage>,
    Path(raw): Path<String>,
) -> ApiResult<Json<TombstoneState>> {
    let e164 = phone::parse_input("phone", &raw, None)?;
    let client = state.pool.get().await?;
    erasure::tombstone(&**client, caller.tenant(), &secret_key(&state)?, e164).await?.map(Json).ok_or_else(
        || dialpool_engine::Error::NotFound { entity: "tombstone", key: phone::format_e164(e164) }.into(),
    )
}

/// Lift a number's tombstone when the person asks to be contacted again: later imports
/// may bring it back. Audited; 404 when the number has no live tombstone.
#[utoipa::path(post, path = "/tombstones/lift", tag = "compliance", request_body = LiftInput,
    responses((status = 200, body = TombstoneState)))]
pub async fn lift_tombstone(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<PrivacyManage>,
    Json(input): Json<LiftInput>,
) -> ApiResult<Json<TombstoneState>> {
    let key = secret_key(&state)?;
    let mut client = state.pool.get().await?;
    Ok(Json(erasure::lift(&mut **client, caller.tenant(), &key, &input, &caller.actor()).await?))
}

/// Subject access (GDPR Art. 15): everything held about a number (E.164, `+` as `%2B`):
/// the number and its attributes, events, calls, the exports it went out in, projects,
/// its do-not-call entry and its erasure. Reading it is audited.
#[utoipa::path(get, path = "/subjects/{phone}", tag = "compliance", params(("phone" = String, Path)),
    responses((status = 200, body = SubjectReport)))]
pub async fn subject_access(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<PrivacyManage>,
    Path(raw): Path<String>,
) -> ApiResult<Json<SubjectReport>> {
    let client = state.pool.get().await?;
    let report =
        subject::report(&**client, caller.tenant(), &secret_key(&state)?, &raw, None, &caller.actor())
            .await?;
    Ok(Json(report))
}

/// The tenant's retention windows, each log's monthly partitions with the next one to be
/// dropped and when, and the partitions dropped lately.
#[utoipa::path(get, path = "/retention", tag = "compliance", responses((status = 200, body = RetentionOverview)))]
pub async fn get_retention(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<PrivacyManage>,
) -> ApiResult<Json<RetentionOverview>> {
    let client = state.pool.get().await?;
    Ok(Json(retention::overview(&**client, caller.tenant()).await?))
}

/// Set how long number events, the audit log (12 months at least) and call outcomes are
/// kept, in months, and export files in days; absent keeps for ever. The daily retention
/// job drops whole monthly partitions past the window. Audited.
#[utoipa::path(put, path = "/retention", tag = "compliance", request_body = RetentionSettings,
    responses((status = 200, body = RetentionOverview)))]
pub async fn set_retention(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<PrivacyManage>,
    Json(input): Json<RetentionSettings>,
) -> ApiResult<Json<RetentionOverview>> {
    let mut client = state.pool.get().await?;
    retention::set(&mut **client, caller.tenant(), &caller.actor(), &input).await?;
    Ok(Json(retention::overview(&**client, caller.tenant()).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ComplianceParams {
    /// First day of the period (in the project's zone); 29 days before `to` by default.
    pub from: Option<chrono::NaiveDate>,
    /// Last day of the period, included, at most 366 days after `from`; today by default.
    pub to: Option<chrono::NaiveDate>,
    /// `json` (default), `csv` or `xlsx`.
    pub format: Option<String>,
}

/// A project's compliance report for a period: leases and calls by the recipient's local
/// hour, calls per number in any 24 hours, what each gate holds back, the do-not-call
/// lists' ages, erasures and how fast they were done, and every call made outside the
/// recipient's legal hours.
#[utoipa::path(get, path = "/projects/{id}/compliance", tag = "compliance", params(("id" = i64, Path), ComplianceParams),
    responses((status = 200, description = "JSON, or the same blocks as CSV or XLSX with format=csv|xlsx", content(
        (ComplianceReport = "application/json"),
        (String = "text/csv"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))))]
pub async fn compliance_report(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<PrivacyManage>,
    Path(id): Path<i64>,
    Query(params): Query<ComplianceParams>,
) -> ApiResult<Response> {
    if caller.scope().project_filter().is_some_and(|ids| !ids.contains(&id)) {
        return Err(dialpool_engine::Error::NotFound { entity: "project", key: id.to_string() }.into());
    }
    let to = params.to.unwrap_or_else(|| chrono::Utc::now().date_naive());
    let from = params.from.unwrap_or(to - chrono::Duration::days(29));
    let report = report::report(&state.pool, &state.gates, caller.tenant(), id, from, to).await?;
    let name = format!("compliance-{id}-{from}-{to}");
    super::report_in_format(report, params.format.as_deref(), &name, report::to_csv, report::to_xlsx)
}
