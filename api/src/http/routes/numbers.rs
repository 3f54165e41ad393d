//! Stored numbers: the filtered, keyset-paged list, one number's detail, bulk actions; the
//! do-not-call list; the disposition map.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use dialpool_engine::dialing::dispositions::{self, Disposition, DispositionInput};
use dialpool_engine::dialing::{self, ScreenPop};
use dialpool_engine::intake::dnc::{self, DncEntry, DncImportRequest, DncInput, DncSummary};
use dialpool_engine::intake::dnc_list::{self, DncList, DncListInput};
use dialpool_engine::intake::import::ImportProgress;
use dialpool_engine::intake::import::mapping::ColumnMapping;
use dialpool_engine::intake::import::source::SourceOptions;
use dialpool_engine::intake::phone::Region;
use dialpool_engine::platform::page::Page;
use dialpool_engine::pool::number::{self, BulkRequest, BulkResult, Filter, Number};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::PageParams;
use super::imports::UploadForm;
use crate::http::AppState;
use crate::http::auth::{Allowed, DncWrite, NumbersRead, NumbersWrite, SettingsManage};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Multipart, Path, Query};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NumberFilter {
    pub provider_id: Option<i64>,
    pub geo_id: Option<i64>,
    pub project_id: Option<i64>,
    pub status: Option<i16>,
    pub import_id: Option<i64>,
    pub attempts_min: Option<i16>,
    pub attempts_max: Option<i16>,
    /// Stored from this instant (RFC 3339) on.
    pub created_from: Option<DateTime<Utc>>,
    /// Stored before this instant.
    pub created_to: Option<DateTime<Utc>>,
    /// Last called from this instant on.
    pub called_from: Option<DateTime<Utc>>,
    pub called_to: Option<DateTime<Utc>>,
    /// Numbers of one block: digits the number starts with, e.g. `+7 701` or `7701`.
    pub prefix: Option<String>,
}

impl From<NumberFilter> for Filter {
    fn from(f: NumberFilter) -> Filter {
        Filter {
            provider_id: f.provider_id,
            geo_id: f.geo_id,
            project_id: f.project_id,
            status: f.status,
            import_id: f.import_id,
            attempts_min: f.attempts_min,
            attempts_max: f.attempts_max,
            created_from: f.created_from,
            created_to: f.created_to,
            called_from: f.called_from,
            called_to: f.called_to,
            prefix: f.prefix,
        }
    }
}

/// Numbers the caller may see, in phone order. Sort: `phone`.
#[utoipa::path(get, path = "/numbers", tag = "numbers", params(PageParams, NumberFilter),
    responses((status = 200, body = Page<Number>)))]
pub async fn list_numbers(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
    Query(page): Query<PageParams>,
    Query(filter): Query<NumberFilter>,
) -> ApiResult<Json<Page<Number>>> {
    let client = state.pool.get().await?;
    let filter = Filter::from(filter);
    Ok(Json(number::list(&**client, caller.tenant(), caller.scope(), &filter, &page.into()).await?))
}

/// How many numbers the filter matches, for the table's total: exact up to
/// 200,000, the planner's estimate above (`exact: false`).
#[utoipa::path(get, path = "/numbers/count", tag = "numbers", params(NumberFilter),
    responses((status = 200, body = number::Count)))]
pub async fn count_numbers(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
    Query(filter): Query<NumberFilter>,
) -> ApiResult<Json<number::Count>> {
    let client = state.pool.get().await?;
    Ok(Json(number::count(&**client, caller.tenant(), caller.scope(), &Filter::from(filter)).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RegionParam {
    /// Region (ISO 3166) to read a national number in.
    pub region: Option<String>,
}

/// One number: where it is, its status, attributes, DNC and its last calls (any format).
#[utoipa::path(get, path = "/numbers/{phone}", tag = "numbers", params(("phone" = String, Path), RegionParam),
    responses((status = 200, body = ScreenPop)))]
pub async fn get_number(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
    Path(phone): Path<String>,
    Query(params): Query<RegionParam>,
) -> ApiResult<Json<ScreenPop>> {
    let region = params.region.as_deref().map(Region::parse).transpose()?;
    let client = state.pool.get().await?;
    Ok(Json(dialing::screen_pop(&**client, caller.tenant(), caller.scope(), &phone, region).await?))
}

/// Change the status of, release, or list as DNC the numbers picked or everything a
/// filter matches, in the caller's scope; `dry_run` counts first. Audited with the count.
#[utoipa::path(post, path = "/numbers/bulk", tag = "numbers", request_body = BulkRequest,
    responses((status = 200, body = BulkResult)))]
pub async fn bulk_numbers(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersWrite>,
    Json(request): Json<BulkRequest>,
) -> ApiResult<Json<BulkResult>> {
    if matches!(request.action, number::BulkAction::AddToDnc { .. }) {
        caller.require("dnc.write")?;
    }
    let mut client = state.pool.get().await?;
    Ok(Json(number::bulk(&mut **client, caller.tenant(), caller.scope(), &caller.actor(), &request).await?))
}

/// Undo a bulk status change you made in the last day: numbers still in the status it set
/// get back their status and due time; numbers whose status moved on since are kept.
#[utoipa::path(post, path = "/numbers/bulk/{id}/undo", tag = "numbers",
    params(("id" = i64, Path, description = "The `undo_id` the bulk change answered with")),
    responses((status = 200, body = number::UndoResult)))]
pub async fn undo_bulk_numbers(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersWrite>,
    Path(id): Path<i64>,
) -> ApiResult<Json<number::UndoResult>> {
    let mut client = state.pool.get().await?;
    Ok(Json(number::undo_bulk(&mut **client, caller.tenant(), &caller.actor(), id).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DncFilter {
    /// Numbers starting with these digits.
    pub phone: Option<String>,
    /// One source: a file name, `api`, `call outcome`, `bulk action`.
    pub source: Option<String>,
}

/// The do-not-call list with who listed each number, when and why; newest first. Sorts:
/// `added_at`, `phone`.
#[utoipa::path(get, path = "/dnc", tag = "numbers", params(PageParams, DncFilter),
    responses((status = 200, body = Page<DncEntry>)))]
pub async fn list_dnc(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
    Query(page): Query<PageParams>,
    Query(filter): Query<DncFilter>,
) -> ApiResult<Json<Page<DncEntry>>> {
    let client = state.pool.get().await?;
    let page = dnc::list(
        &**client,
        caller.tenant(),
        filter.phone.as_deref(),
        filter.source.as_deref(),
        &page.into(),
    )
    .await?;
    Ok(Json(page))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DncAdded {
    #[serde(flatten)]
    pub entry: DncEntry,
    /// False when the number was listed already (the entry is the earlier one).
    pub added: bool,
}

/// List one number as do-not-call.
#[utoipa::path(post, path = "/dnc", tag = "numbers", request_body = DncInput, responses((status = 200, body = DncAdded)))]
pub async fn add_dnc(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<DncWrite>,
    Json(input): Json<DncInput>,
) -> ApiResult<Json<DncAdded>> {
    let mut client = state.pool.get().await?;
    let (entry, added) = dnc::add(&mut **client, caller.tenant(), &caller.actor(), &input).await?;
    Ok(Json(DncAdded { entry, added }))
}

/// The do-not-call lists by source, with when each was last loaded, its age limit and
/// whether it is stale (past the limit: load it again).
#[utoipa::path(get, path = "/dnc/lists", tag = "numbers", responses((status = 200, body = Vec<DncList>)))]
pub async fn list_dnc_lists(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
) -> ApiResult<Json<Vec<DncList>>> {
    let client = state.pool.get().await?;
    Ok(Json(dnc_list::list(&**client, caller.tenant()).await?))
}

/// Create or change a do-not-call list by name: the country it covers, how many days
/// after a load it goes stale (31 for the US national registry), and whether a stale list
/// holds back leases of that country's numbers. A file loads it through `POST /dnc/files`
/// with `list`.
#[utoipa::path(put, path = "/dnc/lists", tag = "numbers", request_body = DncListInput,
    responses((status = 200, body = DncList)))]
pub async fn set_dnc_list(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<DncWrite>,
    Json(input): Json<DncListInput>,
) -> ApiResult<Json<DncList>> {
    let mut client = state.pool.get().await?;
    Ok(Json(dnc_list::set(&mut **client, caller.tenant(), &caller.actor(), &input).await?))
}

/// Take a number off the do-not-call list (E.164).
#[utoipa::path(delete, path = "/dnc/{phone}", tag = "numbers", params(("phone" = String, Path)),
    responses((status = 204)))]
pub async fn remove_dnc(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<DncWrite>,
    Path(phone): Path<String>,
) -> ApiResult<StatusCode> {
    let mut client = state.pool.get().await?;
    dnc::remove(&mut **client, caller.tenant(), &caller.actor(), &phone).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The multipart form of a DNC file; `file` last.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Describes the form for the OpenAPI document; parsed field by field.
pub struct DncUpload {
    /// Why these numbers are listed, kept on each entry.
    reason: Option<String>,
    /// Region for numbers written without a country code.
    region: Option<String>,
    /// Which column holds the number, e.g. `phone=2` (by default the first phone-like one).
    mapping: Option<String>,
    /// The list this file is a load of (`US national registry`): it counts as fresh again.
    list: Option<String>,
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Load a DNC file (CSV, XLSX, XLS; one number per row): new numbers are listed, listed
/// ones stay as they were.
#[utoipa::path(post, path = "/dnc/files", tag = "numbers",
    request_body(content = DncUpload, content_type = "multipart/form-data"),
    responses((status = 200, body = DncSummary), (status = 413, description = "larger than the upload limit")))]
pub async fn upload_dnc(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<DncWrite>,
    Multipart(mut multipart): Multipart,
) -> ApiResult<Json<DncSummary>> {
    let mut form =
        UploadForm::read(&state, &caller, &mut multipart, &["reason", "region", "mapping", "list"]).await?;
    let region = form.take("region").as_deref().map(Region::parse).transpose();
    let region = form.keep(region).await?;
    let mapping =
        form.take("mapping").map_or_else(|| Ok(ColumnMapping::default()), |text| ColumnMapping::parse(&text));
    let mapping = form.keep(mapping).await?;
    let reason = form.take("reason");
    let list = form.take("list").filter(|l| !l.trim().is_empty());
    let (path, original) = (form.path, form.original);
    let request = DncImportRequest {
        tenant: caller.tenant(),
        path: path.clone(),
        display_name: Some(original),
        source: SourceOptions::default(),
        region,
        mapping,
        reason,
        rejects_path: Some(path.with_extension("rejects.csv")),
        actor: caller.actor(),
        list,
    };
    let summary = dnc::import_file(&state.pool, request, ImportProgress::default()).await;
    let _ = tokio::fs::remove_file(&path).await;
    let _ = tokio::fs::remove_file(path.with_extension("rejects.csv")).await;
    let mut summary = summary?;
    // The rejects file was a temporary one; its path means nothing to the caller.
    summary.rejects_file = None;
    Ok(Json(summary))
}

/// The disposition map: each dialer disposition, the status it sets, and whether it lists
/// the number as DNC.
#[utoipa::path(get, path = "/dispositions", tag = "calls", responses((status = 200, body = Vec<Disposition>)))]
pub async fn list_dispositions(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
) -> ApiResult<Json<Vec<Disposition>>> {
    let client = state.pool.get().await?;
    Ok(Json(dispositions::list(&**client, caller.tenant()).await?))
}

/// Add a disposition or change what it means (upper-cased); stored calls keep their status.
#[utoipa::path(put, path = "/dispositions", tag = "calls", request_body = DispositionInput,
    responses((status = 200, body = Disposition)))]
pub async fn set_disposition(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Json(input): Json<DispositionInput>,
) -> ApiResult<Json<Disposition>> {
    let mut client = state.pool.get().await?;
    Ok(Json(dispositions::set(&mut **client, caller.tenant(), &caller.actor(), &input).await?))
}

/// Remove a disposition; outcomes naming it are refused from then on.
#[utoipa::path(delete, path = "/dispositions/{disposition}", tag = "calls",
    params(("disposition" = String, Path)), responses((status = 204)))]
pub async fn delete_disposition(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(disposition): Path<String>,
) -> ApiResult<StatusCode> {
    let mut client = state.pool.get().await?;
    dispositions::delete(&mut **client, caller.tenant(), &caller.actor(), &disposition).await?;
    Ok(StatusCode::NO_CONTENT)
}
