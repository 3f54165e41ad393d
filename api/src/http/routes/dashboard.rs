//! The home page: each project's today so far and the work running now.

use axum::extract::State;
use dialpool_engine::dashboard::{self, Dashboard};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::auth::{Allowed, ProjectsRead};
use crate::http::error::ApiResult;
use crate::http::extract::Json;
use crate::http::tasks::ImportTaskView;

#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardView {
    #[serde(flatten)]
    pub today: Dashboard,
    /// Imports this server is running, of the providers the caller reaches.
    pub running_imports: Vec<ImportTaskView>,
}

/// Today (in each project's zone) per project and in total: numbers allocated and
/// leased, calls, people reached, successes; with the exports and imports running.
/// Within the caller's projects; poll it for a live view.
#[utoipa::path(get, path = "/dashboard", tag = "projects", responses((status = 200, body = DashboardView)))]
pub async fn dashboard(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ProjectsRead>,
) -> ApiResult<Json<DashboardView>> {
    let scope = caller.scope();
    let client = state.pool.get().await?;
    let today = dashboard::today(&**client, caller.tenant(), scope.project_filter()).await?;
    let running_imports = state
        .tasks
        .list(caller.tenant())
        .iter()
        .filter(|t| t.is_running() && scope.allows_provider(t.provider_id))
        .map(|t| t.view())
        .collect();
    Ok(Json(DashboardView { today, running_imports }))
}
