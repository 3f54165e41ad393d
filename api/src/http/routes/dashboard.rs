//! The home page: each project's today so far and the work running now, once or as a
//! stream of Server-Sent Events.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use dialpool_engine::insight::dashboard::{self, Dashboard};
use futures_util::Stream;
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::auth::{Allowed, Caller, ProjectsRead};
use crate::http::error::ApiResult;
use crate::http::extract::Json;
use crate::http::tasks::ImportTaskView;

/// How often a stream reads the figures again.
const STREAM_TICK: Duration = Duration::from_secs(3);
/// A stream ends after this long and the browser reconnects, so a signed-out session or a
/// revoked token stops receiving figures within it.
const STREAM_LIFETIME: Duration = Duration::from_secs(300);

#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardView {
    #[serde(flatten)]
    pub today: Dashboard,
    /// Imports waiting or running (on any server), of the providers the caller reaches.
    pub running_imports: Vec<ImportTaskView>,
}

async fn read(state: &AppState, caller: &Caller) -> ApiResult<DashboardView> {
    let scope = caller.scope();
    let client = state.pool.get().await?;
    let today = dashboard::today(&**client, caller.tenant(), scope.project_filter()).await?;
    let running_imports = crate::http::tasks::list(&**client, caller.tenant())
        .await?
        .into_iter()
        .filter(|t| t.is_running() && scope.allows_provider(t.provider_id))
        .collect();
    Ok(DashboardView { today, running_imports })
}

/// Today (in each project's zone) per project and in total: numbers allocated and
/// leased, calls, people reached, successes; with the exports and imports running.
/// Within the caller's projects.
#[utoipa::path(get, path = "/dashboard", tag = "projects", responses((status = 200, body = DashboardView)))]
pub async fn dashboard(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ProjectsRead>,
) -> ApiResult<Json<DashboardView>> {
    Ok(Json(read(&state, &caller).await?))
}

/// The same figures as Server-Sent Events: a `dashboard` event (data: as `GET /dashboard`)
/// at once and whenever they change, read every 3 seconds; the stream ends after 5
/// minutes (an `EventSource` reconnects by itself).
#[utoipa::path(get, path = "/dashboard/events", tag = "projects",
    responses((status = 200, content_type = "text/event-stream", body = crate::http::ServerSentEvent)))]
pub async fn dashboard_events(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<ProjectsRead>,
) -> ApiResult<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let first = read(&state, &caller).await?;
    let until = tokio::time::Instant::now() + STREAM_LIFETIME;
    let stream = futures_util::stream::unfold(
        (state, caller, Some(first), String::new()),
        move |(state, caller, pending, mut last)| async move {
            if let Some(view) = pending {
                last = figures(&view);
                return Some((Ok(event(&view)), (state, caller, None, last)));
            }
            loop {
                tokio::time::sleep(STREAM_TICK).await;
                if tokio::time::Instant::now() >= until {
                    return None;
                }
                match read(&state, &caller).await {
                    Ok(view) => {
                        let now = figures(&view);
                        if now != last {
                            return Some((Ok(event(&view)), (state, caller, None, now)));
                        }
                    }
                    // The next tick tries again; the browser keeps what it has.
                    Err(error) => tracing::warn!(?error, "reading the dashboard for a stream"),
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// The view without its reading time: what "changed" compares.
fn figures(view: &DashboardView) -> String {
    let mut value = serde_json::to_value(view).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.remove("at");
    }
    value.to_string()
}

fn event(view: &DashboardView) -> Event {
    Event::default()
        .event("dashboard")
        .json_data(view)
        .unwrap_or_else(|_| Event::default().event("dashboard"))
}
