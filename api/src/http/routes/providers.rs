//! What providers' numbers are worth: the scorecard, prices on imports, return rules and
//! return batches.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use dialpool_engine::insight::scorecard::{self, Scorecard, ScorecardQuery};
use dialpool_engine::intake::import::history::{self, ImportRecord, Price};
use dialpool_engine::intake::returns::{self, ProviderReturn, ReturnRequest, ReturnRules, ReturnSummary};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::AppState;
use crate::http::auth::{Allowed, Caller, ConversionRead, SettingsManage};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};

/// The scorecard spans every project of the tenant: a caller scoped to some projects or
/// providers does not get other projects' figures.
fn tenant_wide(caller: &Caller) -> ApiResult<()> {
    if caller.scope().provider_filter().is_some() || caller.scope().project_filter().is_some() {
        return Err(ApiError::Forbidden("scope.all"));
    }
    Ok(())
}

/// Per provider (or provider × month, geo or batch): delivered, valid, duplicates, DNC,
/// erased and returned numbers, contact and success rates, attempts and hours to a
/// success, cost and credit, cost per contact and per success, against the tenant's
/// average, with a monthly trend. From the import receipts and the conversion
/// aggregates (run `conversion refresh` for the latest calls).
#[utoipa::path(get, path = "/providers/scorecard", tag = "providers", params(ScorecardQuery),
    responses((status = 200, description = "JSON, or the rows as CSV or XLSX with format=csv|xlsx", content(
        (Scorecard = "application/json"),
        (String = "text/csv"),
        (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")))))]
pub async fn get_scorecard(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ConversionRead>,
    Query(query): Query<ScorecardQuery>,
) -> ApiResult<Response> {
    tenant_wide(&caller)?;
    let client = state.pool.get().await?;
    let card = scorecard::scorecard(&**client, caller.tenant(), &query).await?;
    let name = format!(
        "scorecard-{}",
        serde_json::to_value(card.by).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
    );
    super::report_in_format(card, query.format.as_deref(), &name, scorecard::to_csv, scorecard::to_xlsx)
}

/// Record what a delivered batch cost: per row delivered, for the whole file, or both
/// (null clears).
#[utoipa::path(put, path = "/imports/{id}/price", tag = "providers", params(("id" = i64, Path)), request_body = Price,
    responses((status = 200, body = ImportRecord)))]
pub async fn set_import_price(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
    Json(price): Json<Price>,
) -> ApiResult<Json<ImportRecord>> {
    let mut client = state.pool.get().await?;
    let only = caller.scope().provider_filter();
    Ok(Json(history::set_price(&mut **client, caller.tenant(), &caller.actor(), only, id, price).await?))
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReturnRulesDocument {
    /// null: the provider takes no returns.
    pub rules: Option<ReturnRules>,
}

use super::settings::check_provider_scope as check_provider;

/// A provider's return rules: how many days after delivery, and which statuses qualify.
#[utoipa::path(get, path = "/providers/{id}/returns", tag = "providers", params(("id" = i64, Path)),
    responses((status = 200, body = ReturnRulesDocument)))]
pub async fn get_return_rules(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<Json<ReturnRulesDocument>> {
    check_provider(&caller, id)?;
    let client = state.pool.get().await?;
    Ok(Json(ReturnRulesDocument { rules: returns::rules_of(&**client, caller.tenant(), id).await? }))
}

#[utoipa::path(put, path = "/providers/{id}/returns", tag = "providers", params(("id" = i64, Path)),
    request_body = ReturnRulesDocument, responses((status = 200, body = ReturnRulesDocument)))]
pub async fn set_return_rules(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
    Json(doc): Json<ReturnRulesDocument>,
) -> ApiResult<Json<ReturnRulesDocument>> {
    check_provider(&caller, id)?;
    let mut client = state.pool.get().await?;
    let rules = returns::set_rules(&mut **client, caller.tenant(), &caller.actor(), id, doc.rules).await?;
    Ok(Json(ReturnRulesDocument { rules }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReturnsFilter {
    pub provider_id: Option<i64>,
}

/// Return batches, newest first (the last 500).
#[utoipa::path(get, path = "/returns", tag = "providers", params(ReturnsFilter),
    responses((status = 200, body = Vec<ProviderReturn>)))]
pub async fn list_returns(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Query(filter): Query<ReturnsFilter>,
) -> ApiResult<Json<Vec<ProviderReturn>>> {
    let client = state.pool.get().await?;
    let mut list = returns::list(&**client, caller.tenant(), filter.provider_id).await?;
    list.retain(|r| caller.scope().allows_provider(r.provider_id));
    Ok(Json(list))
}

/// Send back a provider's numbers that proved bad within its return window: a batch with
/// the reason per number as CSV or XLSX (in the partner's SFTP outbox with
/// `sftp_account_id`), credited at the import's price; the numbers leave every pool.
/// `dry_run` counts them and writes nothing.
#[utoipa::path(post, path = "/returns", tag = "providers", request_body = ReturnRequest,
    responses((status = 201, body = ReturnSummary), (status = 200, body = ReturnSummary, description = "dry run, or nothing qualified")))]
pub async fn create_return(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Json(request): Json<ReturnRequest>,
) -> ApiResult<(StatusCode, Json<ReturnSummary>)> {
    check_provider(&caller, request.provider_id)?;
    let mut client = state.pool.get().await?;
    let summary =
        returns::create(&mut **client, caller.tenant(), &caller.actor(), &state.config.data_dir, &request)
            .await?;
    let status = if summary.return_id.is_some() { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(summary)))
}
