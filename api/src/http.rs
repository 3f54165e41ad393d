//! The HTTP side: `fn router(state) -> Router`, testable without a socket.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use deadpool_postgres::Pool;
use serde_json::json;

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
}

pub fn router(state: AppState) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).with_state(state)
}

/// The process is up; says nothing of its dependencies.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Ready to serve: the database answers and its schema is what this binary expects.
async fn readyz(State(state): State<AppState>) -> Response {
    let check = async {
        let client = state.pool.get().await.map_err(|e| e.to_string())?;
        dialpool_engine::db::migrations_current(&client).await.map_err(|e| e.to_string())
    };
    match check.await {
        Ok(true) => Json(json!({ "status": "ready" })).into_response(),
        Ok(false) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "migrations pending" }))).into_response()
        }
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "database unavailable" })))
                .into_response()
        }
    }
}
