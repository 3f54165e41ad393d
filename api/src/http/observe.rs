//! Request ids, request logs and Prometheus metrics. The ids are tower-http's
//! (`SetRequestId` and `PropagateRequestId` on `X-Request-Id`); the figures are recorded
//! with the `metrics` crate into a Prometheus recorder of this app's own, rather than the
//! process-wide one, so two apps in one process (the tests start many) keep their counts
//! apart.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusRecorder};
use tower_http::request_id::{MakeRequestId, RequestId};
use tracing::Instrument;

use super::AppState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Random ids: 24 hex digits.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomId;

impl MakeRequestId for RandomId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let mut bytes = [0u8; 12];
        getrandom::fill(&mut bytes).ok()?;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        HeaderValue::from_str(&hex).ok().map(RequestId::new)
    }
}

/// A caller's `X-Request-Id` (a proxy's) is kept only when it is sane: short, and letters,
/// digits, `-` and `_`; any other is dropped, so that `SetRequestId` makes one instead of
/// logging what a client chose to write.
pub async fn drop_odd_request_id(mut request: Request, next: Next) -> Response {
    let sane = request.headers().get(REQUEST_ID_HEADER).is_none_or(|value| {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= 64
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    });
    if !sane {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
    next.run(request).await
}

/// The request's id, as `SetRequestId` put it in the extensions.
pub fn request_id(extensions: &axum::http::Extensions) -> Option<&str> {
    extensions.get::<RequestId>().and_then(id_text)
}

/// A request id as text (`SetRequestId` only keeps or makes ASCII ones).
pub fn id_text(id: &RequestId) -> Option<&str> {
    id.header_value().to_str().ok()
}

/// HTTP latency buckets, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// This app's recorder.
pub struct Metrics {
    recorder: PrometheusRecorder,
}

impl Default for Metrics {
    fn default() -> Self {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&BUCKETS)
            .expect("the latency buckets are not empty")
            .build_recorder();
        let metrics = Metrics { recorder };
        metrics.record(|| {
            metrics::describe_counter!(
                "dialpool_http_requests_total",
                "HTTP requests by method, route and status."
            );
            metrics::describe_histogram!(
                "dialpool_http_request_duration_seconds",
                metrics::Unit::Seconds,
                "HTTP request latency."
            );
            metrics::describe_counter!("dialpool_sign_ins_total", "Sign-in attempts by outcome.");
            metrics::describe_counter!("dialpool_imports_started_total", "Imports started through the API.");
            metrics::describe_gauge!("dialpool_imports_running", "Import jobs running, on every server.");
            metrics::describe_gauge!("dialpool_db_pool_connections", "Database connections by state.");
        });
        metrics
    }
}

impl Metrics {
    /// Runs `f` with this app's recorder as the one the `metrics` macros record into.
    fn record<T>(&self, f: impl FnOnce() -> T) -> T {
        metrics::with_local_recorder(&self.recorder, f)
    }

    pub fn sign_in(&self, outcome: &'static str) {
        self.record(|| metrics::counter!("dialpool_sign_ins_total", "outcome" => outcome).increment(1));
    }

    pub fn import_started(&self) {
        self.record(|| metrics::counter!("dialpool_imports_started_total").increment(1));
    }

    fn request(&self, method: String, route: String, status: u16, seconds: f64) {
        self.record(|| {
            metrics::counter!("dialpool_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status.to_string())
                .increment(1);
            metrics::histogram!("dialpool_http_request_duration_seconds", "method" => method, "route" => route)
                .record(seconds);
        });
    }
}

/// Logs each request under its id and counts it under its route template
/// (`/api/v1/users/{id}`), so ids do not explode the number of series.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || if request.uri().path().starts_with("/api/") { "unmatched" } else { "ui" }.to_owned(),
        |m| m.as_str().to_owned(),
    );
    let id = request_id(request.extensions()).unwrap_or("");
    let span =
        tracing::info_span!("request", request_id = %id, method = %method, path = %request.uri().path());
    let response = next.run(request).instrument(span.clone()).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    span.in_scope(
        || tracing::info!(status, ms = (seconds * 1000.0).round() as u64, route = %route, "request"),
    );
    state.metrics.request(method, route, status, seconds);
    response
}

/// Prometheus text exposition of the HTTP, sign-in, import and connection-pool figures.
pub async fn metrics(State(state): State<AppState>) -> Response {
    // Read from the queue, so every server reports the installation's figure.
    let running_imports = match state.pool.get().await {
        Ok(client) => dialpool_engine::intake::import::jobs::running_count(&**client).await.ok(),
        Err(_) => None,
    };
    let pool = state.pool.status();
    let recorded: &Arc<Metrics> = &state.metrics;
    recorded.record(|| {
        if let Some(running) = running_imports {
            metrics::gauge!("dialpool_imports_running").set(running as f64);
        }
        metrics::gauge!("dialpool_db_pool_connections", "state" => "idle").set(pool.available as f64);
        metrics::gauge!("dialpool_db_pool_connections", "state" => "in_use")
            .set(pool.size.saturating_sub(pool.available) as f64);
    });
    let mut response = recorded.recorder.handle().render().into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}
