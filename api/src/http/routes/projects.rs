//! Projects (settings, pool rules, schedules; pause, delete, restore, purge) and the
//! allocation calls: run, dry run, preview of an unsaved project, forecast, explain.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use dialpool_engine::insight::explain::{self, Explanation};
use dialpool_engine::intake::phone::Region;
use dialpool_engine::platform::access::Scope;
use dialpool_engine::pool::allocate::forecast::{self, Forecast};
use dialpool_engine::pool::allocate::{self, Report, Request};
use dialpool_engine::pool::project::{self, Project, ProjectInput, ProjectSummary, Release, ReleaseCounts};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::http::AppState;
use crate::http::auth::{Allowed, Caller, NumbersRead, ProjectsRead, ProjectsWrite};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};

/// A scoped manager reaches only the projects in their scope; others are not found.
pub(crate) fn check_project(caller: &Caller, id: i64) -> ApiResult<()> {
    match caller.scope().project_filter() {
        Some(allowed) if !allowed.contains(&id) => Err(ApiError::NotFound(format!("project '{id}'"))),
        _ => Ok(()),
    }
}

/// Creating projects and allocating across the tenant reach beyond any one scope.
fn require_whole_tenant(caller: &Caller) -> ApiResult<()> {
    if *caller.scope() == Scope::All { Ok(()) } else { Err(ApiError::Forbidden("scope.all")) }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListFilter {
    /// List deleted (not yet purged) projects instead of live ones.
    #[serde(default)]
    pub deleted: bool,
}

/// Projects in the caller's scope with today's fill, held numbers and conversion.
#[utoipa::path(get, path = "/projects", tag = "projects", params(ListFilter),
    responses((status = 200, body = Vec<ProjectSummary>)))]
pub async fn list_projects(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ProjectsRead>,
    Query(filter): Query<ListFilter>,
) -> ApiResult<Json<Vec<ProjectSummary>>> {
    let client = state.pool.get().await?;
    Ok(Json(project::list(&**client, caller.tenant(), caller.scope(), filter.deleted).await?))
}

/// Create a project from its whole document: settings, pool rules, windows, holidays.
#[utoipa::path(post, path = "/projects", tag = "projects", request_body = ProjectInput,
    responses((status = 201, body = Project)))]
pub async fn create_project(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ProjectsWrite>,
    Json(input): Json<ProjectInput>,
) -> ApiResult<(StatusCode, Json<Project>)> {
    require_whole_tenant(&caller)?;
    let mut client = state.pool.get().await?;
    Ok((
        StatusCode::CREATED,
        Json(project::create(&mut **client, caller.tenant(), &caller.actor(), &input).await?),
    ))
}

#[utoipa::path(get, path = "/projects/{id}", tag = "projects", params(("id" = i64, Path)),
    responses((status = 200, body = Project)))]
pub async fn get_project(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ProjectsRead>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Project>> {
    check_project(&caller, id)?;
    let client = state.pool.get().await?;
    Ok(Json(project::get(&**client, caller.tenant(), id).await?))
}

/// Replace a project's whole document. Pausing here keeps every number; use `/pause` to
/// release them.
#[utoipa::path(put, path = "/projects/{id}", tag = "projects", params(("id" = i64, Path)), request_body = ProjectInput,
    responses((status = 200, body = Project)))]
pub async fn update_project(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ProjectsWrite>,
    Path(id): Path<i64>,
    Json(input): Json<ProjectInput>,
) -> ApiResult<Json<Project>> {
    check_project(&caller, id)?;
    let mut client = state.pool.get().await?;
    Ok(Json(project::update(&mut **client, caller.tenant(), &caller.actor(), id, &input).await?))
}

#[derive(Debug, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ReleaseParams {
    /// What happens to the project's numbers: `none` (default), `unworked`, `all`.
    #[serde(default)]
    #[param(inline)]
    pub release: Release,
}

/// Soft-delete a project; it can be restored until it is purged.
#[utoipa::path(delete, path = "/projects/{id}", tag = "projects", params(("id" = i64, Path), ReleaseParams),
    responses((status = 200, body = ReleaseCounts)))]
pub async fn delete_project(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ProjectsWrite>,
    Path(id): Path<i64>,
    Query(params): Query<ReleaseParams>,
) -> ApiResult<Json<ReleaseCounts>> {
    check_project(&caller, id)?;
    let mut client = state.pool.get().await?;
    Ok(Json(project::delete(&mut **client, caller.tenant(), &caller.actor(), id, params.release).await?))
}

/// Pause a project; `release` hands numbers back to the pool.
#[utoipa::path(post, path = "/projects/{id}/pause", tag = "projects", params(("id" = i64, Path), ReleaseParams),
    responses((status = 200, body = ReleaseCounts)))]
pub async fn pause_project(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ProjectsWrite>,
    Path(id): Path<i64>,
    Query(params): Query<ReleaseParams>,
) -> ApiResult<Json<ReleaseCounts>> {
    check_project(&caller, id)?;
    let mut client = state.pool.get().await?;
    Ok(Json(
        project::set_paused(&mut **client, caller.tenant(), &caller.actor(), id, true, params.release)
            .await?,
    ))
}

#[utoipa::path(post, path = "/projects/{id}/resume", tag = "projects", params(("id" = i64, Path)),
    responses((status = 200, body = ReleaseCounts)))]
pub async fn resume_project(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ProjectsWrite>,
    Path(id): Path<i64>,
) -> ApiResult<Json<ReleaseCounts>> {
    check_project(&caller, id)?;
    let mut client = state.pool.get().await?;
    Ok(Json(
        project::set_paused(&mut **client, caller.tenant(), &caller.actor(), id, false, Release::None)
            .await?,
    ))
}

/// Bring a deleted project back with the status it had.
#[utoipa::path(post, path = "/projects/{id}/restore", tag = "projects", params(("id" = i64, Path)),
    responses((status = 200, body = Project)))]
pub async fn restore_project(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ProjectsWrite>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Project>> {
    check_project(&caller, id)?;
    let mut client = state.pool.get().await?;
    Ok(Json(project::restore(&mut **client, caller.tenant(), &caller.actor(), id).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeInput {
    /// The project's name, repeated.
    pub confirm: String,
}

/// End a deleted project for good: its numbers go back to the pool (an exclusive
/// project's stay with it), its events move to the archive.
#[utoipa::path(post, path = "/projects/{id}/purge", tag = "projects", params(("id" = i64, Path)), request_body = PurgeInput,
    responses((status = 200, body = ReleaseCounts)))]
pub async fn purge_project(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ProjectsWrite>,
    Path(id): Path<i64>,
    Json(input): Json<PurgeInput>,
) -> ApiResult<Json<ReleaseCounts>> {
    check_project(&caller, id)?;
    let mut client = state.pool.get().await?;
    Ok(Json(project::purge(&mut **client, caller.tenant(), &caller.actor(), id, &input.confirm).await?))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocateInput {
    /// The day for every project; default: each project's today in its time zone.
    pub date: Option<NaiveDate>,
    /// Only these projects take part; default: every live project.
    pub projects: Option<Vec<i64>>,
}

async fn allocation(
    state: &AppState,
    caller: &Caller,
    input: AllocateInput,
    dry_run: bool,
) -> ApiResult<Report> {
    match (&input.projects, caller.scope().project_filter()) {
        (_, None) => {}
        (Some(ids), Some(_)) => ids.iter().try_for_each(|id| check_project(caller, *id))?,
        (None, Some(_)) => require_whole_tenant(caller)?,
    }
    let mut client = state.pool.get().await?;
    let request = Request { date: input.date, projects: input.projects, dry_run, ..Request::default() };
    Ok(allocate::run(&mut **client, caller.tenant(), &caller.actor(), &request).await?)
}

/// Allocate numbers from the pool to projects for a day. Running a day again allocates
/// only what its quotas still allow.
#[utoipa::path(post, path = "/allocation/run", tag = "projects", request_body = AllocateInput,
    responses((status = 200, body = Report)))]
pub async fn run_allocation(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ProjectsWrite>,
    Json(input): Json<AllocateInput>,
) -> ApiResult<Json<Report>> {
    Ok(Json(allocation(&state, &caller, input, false).await?))
}

/// What allocation would do now, per project and rule, and why numbers are skipped.
#[utoipa::path(post, path = "/allocation/dry-run", tag = "projects", request_body = AllocateInput,
    responses((status = 200, body = Report)))]
pub async fn dry_run_allocation(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ProjectsRead>,
    Json(input): Json<AllocateInput>,
) -> ApiResult<Json<Report>> {
    Ok(Json(allocation(&state, &caller, input, true).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewInput {
    /// The project being edited; absent for a new one.
    pub project_id: Option<i64>,
    pub project: ProjectInput,
    pub date: Option<NaiveDate>,
}

#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Preview {
    /// The id the previewed project had inside the preview (a new project's is temporary).
    pub project_id: i64,
    pub report: Report,
}

/// Dry-run allocation as if the document were saved, competing with the other projects.
/// Validation errors come back as they would from saving. Nothing is stored.
#[utoipa::path(post, path = "/allocation/preview", tag = "projects", request_body = PreviewInput,
    responses((status = 200, body = Preview)))]
pub async fn preview_allocation(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ProjectsWrite>,
    Json(input): Json<PreviewInput>,
) -> ApiResult<Json<Preview>> {
    match input.project_id {
        Some(id) => check_project(&caller, id)?,
        None => require_whole_tenant(&caller)?,
    }
    let mut client = state.pool.get().await?;
    let (report, project_id) =
        allocate::preview(&mut **client, caller.tenant(), input.project_id, &input.project, input.date)
            .await?;
    Ok(Json(Preview { project_id, report }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ForecastFilter {
    /// Only this project.
    pub project_id: Option<i64>,
}

/// Per project: eligible numbers in its pool and how many days they last at its recent rate.
#[utoipa::path(get, path = "/allocation/forecast", tag = "projects", params(ForecastFilter),
    responses((status = 200, body = Vec<Forecast>)))]
pub async fn forecast(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ProjectsRead>,
    Query(filter): Query<ForecastFilter>,
) -> ApiResult<Json<Vec<Forecast>>> {
    let only: Option<Vec<i64>> = match (filter.project_id, caller.scope().project_filter()) {
        (Some(id), _) => {
            check_project(&caller, id)?;
            Some(vec![id])
        }
        (None, scoped) => scoped.map(<[i64]>::to_vec),
    };
    let client = state.pool.get().await?;
    Ok(Json(forecast::forecast(&**client, caller.tenant(), only.as_deref(), None).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExplainParams {
    /// Region (ISO 3166) for a number written without its country code.
    pub region: Option<String>,
}

/// Where a number is, its history, and for each project why it is or is not eligible now.
/// The number may be in any format (URL-encode the `+`).
#[utoipa::path(get, path = "/numbers/{phone}/explain", tag = "numbers", params(("phone" = String, Path), ExplainParams),
    responses((status = 200, body = Explanation)))]
pub async fn explain_number(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
    Path(phone): Path<String>,
    Query(params): Query<ExplainParams>,
) -> ApiResult<Json<Explanation>> {
    caller.require("projects.read")?;
    let region = params.region.as_deref().map(Region::parse).transpose()?;
    let client = state.pool.get().await?;
    let explanation =
        explain::explain(&**client, caller.tenant(), caller.scope(), &phone, region, None).await?;
    dialpool_engine::platform::audit::record(
        &**client,
        caller.tenant(),
        &caller.actor(),
        dialpool_engine::platform::audit::Change {
            action: "number.explain",
            entity: "number",
            entity_id: explanation.phone.clone(),
            before: None,
            after: None,
        },
    )
    .await?;
    Ok(Json(explanation))
}
