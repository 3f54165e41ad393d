//! The job queue and the schedules over HTTP: list jobs, cancel and retry them; list,
//! create, edit and delete schedules. Needs `settings.manage`; the installation's own
//! jobs and schedules (no tenant) are shown to platform administrators only.

use axum::extract::State;
use axum::http::StatusCode;
use dialpool_engine::platform::job::{self, JobFilter, JobRecord, JobScope};
use dialpool_engine::platform::schedule::{self, Schedule, ScheduleInput};

use crate::http::AppState;
use crate::http::auth::{Allowed, Caller, SettingsManage};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path, Query};

fn scope(caller: &Caller) -> JobScope {
    JobScope { tenant: caller.tenant(), system: caller.principal.is_platform_admin }
}

/// Jobs, newest first, with their progress, result and the error of each failed attempt.
#[utoipa::path(get, path = "/jobs", tag = "jobs", params(JobFilter), responses((status = 200, body = Vec<JobRecord>)))]
pub async fn list_jobs(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Query(filter): Query<JobFilter>,
) -> ApiResult<Json<Vec<JobRecord>>> {
    let client = state.pool.get().await?;
    Ok(Json(job::list(&**client, scope(&caller), &filter).await?))
}

#[utoipa::path(get, path = "/jobs/{id}", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, body = JobRecord)))]
pub async fn get_job(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<Json<JobRecord>> {
    let client = state.pool.get().await?;
    Ok(Json(job::get(&**client, scope(&caller), id).await?))
}

/// Cancel a waiting job at once, or ask a running one to stop (within a few seconds; its
/// work rolls back). 409 when it has ended.
#[utoipa::path(post, path = "/jobs/{id}/cancel", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, body = JobRecord)))]
pub async fn cancel_job(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<Json<JobRecord>> {
    let mut client = state.pool.get().await?;
    Ok(Json(job::cancel(&mut **client, scope(&caller), &caller.actor(), id).await?))
}

/// Queue a dead or cancelled job again (attempts reset, errors kept). 409 otherwise.
#[utoipa::path(post, path = "/jobs/{id}/retry", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 200, body = JobRecord)))]
pub async fn retry_job(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<Json<JobRecord>> {
    let mut client = state.pool.get().await?;
    Ok(Json(job::retry(&mut **client, scope(&caller), &caller.actor(), id).await?))
}

/// Schedules with their next fire time.
#[utoipa::path(get, path = "/schedules", tag = "jobs", responses((status = 200, body = Vec<Schedule>)))]
pub async fn list_schedules(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
) -> ApiResult<Json<Vec<Schedule>>> {
    let client = state.pool.get().await?;
    Ok(Json(schedule::list(&**client, scope(&caller)).await?))
}

/// Add a schedule: a cron expression (5 fields, or 6 with seconds first) in a time zone,
/// and the job it enqueues at each fire time.
#[utoipa::path(post, path = "/schedules", tag = "jobs", request_body = ScheduleInput,
    responses((status = 201, body = Schedule)))]
pub async fn create_schedule(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Json(input): Json<ScheduleInput>,
) -> ApiResult<(StatusCode, Json<Schedule>)> {
    let mut client = state.pool.get().await?;
    let created = schedule::create(&mut **client, caller.tenant(), &caller.actor(), &input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Replace a schedule; every server follows at its next tick. A default schedule keeps
/// its kind and arguments.
#[utoipa::path(put, path = "/schedules/{id}", tag = "jobs", params(("id" = i64, Path)),
    request_body = ScheduleInput, responses((status = 200, body = Schedule)))]
pub async fn update_schedule(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
    Json(input): Json<ScheduleInput>,
) -> ApiResult<Json<Schedule>> {
    let mut client = state.pool.get().await?;
    Ok(Json(schedule::update(&mut **client, scope(&caller), &caller.actor(), id, &input).await?))
}

/// Delete a schedule of one's own; a default one is disabled instead (409).
#[utoipa::path(delete, path = "/schedules/{id}", tag = "jobs", params(("id" = i64, Path)),
    responses((status = 204)))]
pub async fn delete_schedule(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let mut client = state.pool.get().await?;
    schedule::delete(&mut **client, scope(&caller), &caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
