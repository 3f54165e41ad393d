//! Dialers and softphones: lease numbers, give them back, screen pop, post call outcomes;
//! and the calling hours administrators set. Dialers use API tokens with `calls.work`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use dialpool_engine::dialing::files::{self, OutcomeFileRequest, OutcomeFileSummary};
use dialpool_engine::dialing::hours::{self, CallingHours, CallingHoursInput};
use dialpool_engine::dialing::lease::{self, Lease, LeaseRequest};
use dialpool_engine::dialing::outcome::{self, OutcomeInput, OutcomeResult};
use dialpool_engine::dialing::{self, ScreenPop};
use dialpool_engine::intake::phone::{self, Region};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::AppState;
use crate::http::auth::{Allowed, CallsWork, SettingsManage};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Multipart, Path, Query};
use crate::http::routes::imports::UploadForm;

/// Lease the next numbers of a project: due retries and call-backs first, then fresh
/// ones, only inside the project's schedule and each number's local calling hours.
/// Fewer (or none) may come back; `short_reason` says why.
#[utoipa::path(post, path = "/projects/{id}/leases", tag = "calls", request_body = LeaseRequest,
    params(("id" = i64, Path)), responses((status = 200, body = Lease)))]
pub async fn lease_numbers(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<CallsWork>,
    Path(id): Path<i64>,
    Json(request): Json<LeaseRequest>,
) -> ApiResult<Json<Lease>> {
    let mut client = state.pool.get().await?;
    let lease = lease::lease(
        &mut client,
        &state.gates,
        caller.tenant(),
        caller.scope(),
        &caller.actor(),
        id,
        &request,
        Utc::now(),
    )
    .await?;
    Ok(Json(lease))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LeaseReturn {
    /// Numbers in any format; `region` reads national ones.
    pub phones: Vec<String>,
    pub region: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Returned {
    pub returned: u64,
}

/// Give leased numbers back before their lease ends (a dialer shutting down).
#[utoipa::path(post, path = "/projects/{id}/leases/return", tag = "calls", request_body = LeaseReturn,
    params(("id" = i64, Path)), responses((status = 200, body = Returned)))]
pub async fn return_leases(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<CallsWork>,
    Path(id): Path<i64>,
    Json(body): Json<LeaseReturn>,
) -> ApiResult<Json<Returned>> {
    let region = body.region.as_deref().map(Region::parse).transpose()?;
    let phones = body
        .phones
        .iter()
        .map(|raw| phone::parse_input("phones", raw, region))
        .collect::<Result<Vec<i64>, _>>()?;
    let client = state.pool.get().await?;
    let returned = lease::release(&**client, caller.tenant(), caller.scope(), id, &phones).await?;
    Ok(Json(Returned { returned }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LookupParams {
    /// Region (ISO 3166) for a number written without its country code.
    pub region: Option<String>,
}

/// Screen pop: a number in any format (URL-encode the `+`) → project, status, attempts,
/// attributes and the last calls.
#[utoipa::path(get, path = "/screen-pop/{phone}", tag = "calls", params(("phone" = String, Path), LookupParams),
    responses((status = 200, body = ScreenPop), (status = 404, description = "not a number Dialpool holds")))]
pub async fn screen_pop(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<CallsWork>,
    Path(phone): Path<String>,
    Query(params): Query<LookupParams>,
) -> ApiResult<Json<ScreenPop>> {
    let region = params.region.as_deref().map(Region::parse).transpose()?;
    let client = state.pool.get().await?;
    Ok(Json(dialing::screen_pop(&**client, caller.tenant(), caller.scope(), &phone, region).await?))
}

/// Post a call's outcome. The disposition sets the status through the tenant's map,
/// attempts count, cool-downs start, DNC lists. Posting the same `call_id` again changes
/// nothing and answers what the first post did, with `duplicate: true`.
#[utoipa::path(post, path = "/outcomes", tag = "calls", request_body = OutcomeInput,
    responses((status = 200, body = OutcomeResult), (status = 422, description = "unknown disposition, number or project")))]
pub async fn post_outcome(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<CallsWork>,
    Json(input): Json<OutcomeInput>,
) -> ApiResult<Json<OutcomeResult>> {
    let mut client = state.pool.get().await?;
    Ok(Json(outcome::post(&mut **client, caller.tenant(), caller.scope(), &caller.actor(), &input).await?))
}

/// Calling hours: the tenant's default and the rules per country and region.
#[utoipa::path(get, path = "/calling-hours", tag = "calls", responses((status = 200, body = Vec<CallingHours>)))]
pub async fn list_calling_hours(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<CallsWork>,
) -> ApiResult<Json<Vec<CallingHours>>> {
    let client = state.pool.get().await?;
    Ok(Json(hours::list(&**client, caller.tenant()).await?))
}

/// Set the calling hours of a geo (or, without `geo_id`, the default), replacing its rule.
#[utoipa::path(put, path = "/calling-hours", tag = "calls", request_body = CallingHoursInput,
    responses((status = 200, body = CallingHours)))]
pub async fn set_calling_hours(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Json(input): Json<CallingHoursInput>,
) -> ApiResult<Json<CallingHours>> {
    let mut client = state.pool.get().await?;
    Ok(Json(hours::set(&mut **client, caller.tenant(), &caller.actor(), &input).await?))
}

/// Remove a calling-hours rule; its geo falls back to the country's, the default's, or
/// 08:00–21:00.
#[utoipa::path(delete, path = "/calling-hours/{id}", tag = "calls", params(("id" = i64, Path)),
    responses((status = 204)))]
pub async fn delete_calling_hours(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let mut client = state.pool.get().await?;
    hours::delete(&mut **client, caller.tenant(), &caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The multipart form of an outcome file; `file` last, so the options are known first.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // Describes the form for the OpenAPI document; parsed field by field.
pub struct OutcomeFileUpload {
    /// `asterisk` (Master.csv, default), `vicidial` (the calls export) or `csv`.
    format: Option<String>,
    /// IANA zone of times written without one; UTC by default.
    time_zone: Option<String>,
    /// Region for numbers written without a country code.
    region: Option<String>,
    /// The project every call belongs to; by default each number's holder.
    project_id: Option<i64>,
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Apply a file of call outcomes (the same path as `POST /outcomes`, in one transaction).
/// Calls already stored change nothing; bad rows come back with row, field and reason.
#[utoipa::path(post, path = "/outcomes/files", tag = "calls",
    request_body(content = OutcomeFileUpload, content_type = "multipart/form-data"),
    responses((status = 200, body = OutcomeFileSummary), (status = 413, description = "larger than the upload limit")))]
pub async fn upload_outcomes(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<CallsWork>,
    Multipart(mut multipart): Multipart,
) -> ApiResult<Json<OutcomeFileSummary>> {
    let mut form =
        UploadForm::read(&state, &caller, &mut multipart, &["format", "time_zone", "region", "project_id"])
            .await?;
    let format = files::Format::parse(form.take("format").as_deref().unwrap_or("asterisk"));
    let format = form.keep(format).await?;
    let region = form.take("region").as_deref().map(Region::parse).transpose();
    let region = form.keep(region).await?;
    let project_id = form
        .take("project_id")
        .map(|v| v.parse::<i64>())
        .transpose()
        .map_err(|_| ApiError::BadRequest("project_id must be a project's numeric id".into()));
    let project_id = form.keep(project_id).await?;
    let time_zone = form.take("time_zone");
    let (path, original) = (form.path, form.original);
    let request = OutcomeFileRequest {
        tenant: caller.tenant(),
        scope: caller.scope().clone(),
        path: path.clone(),
        display_name: Some(original),
        format,
        time_zone,
        region,
        project_id,
        actor: caller.actor(),
    };
    let summary = files::import(&state.pool, request).await;
    let _ = tokio::fs::remove_file(&path).await;
    Ok(Json(summary?))
}
