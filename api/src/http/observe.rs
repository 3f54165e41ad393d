//! Request ids, request logs and Prometheus metrics.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use super::AppState;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn new_request_id() -> String {
    let mut bytes = [0u8; 12];
    getrandom::fill(&mut bytes).expect("the operating system's random source");
    bytes.iter().fold(String::with_capacity(24), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Takes the caller's `X-Request-Id` when it is sane (a proxy's), else makes one; puts it
/// in the request's extensions, the log span and the response.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(new_request_id, str::to_owned);
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %request.method(), path = %request.uri().path());
    let mut response = next.run(request).instrument(span).await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    response
}

const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum_s: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Counters kept in memory and rendered in the Prometheus text format; a few dozen series,
/// so one mutex is cheaper than a metrics framework.
#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), Series>>,
    sign_ins: Mutex<BTreeMap<&'static str, u64>>,
    pub imports_started: AtomicU64,
}

impl Metrics {
    pub fn sign_in(&self, outcome: &'static str) {
        *self.sign_ins.lock().unwrap_or_else(|e| e.into_inner()).entry(outcome).or_default() += 1;
    }

    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        let series = requests.entry((method.to_owned(), route.to_owned(), status)).or_default();
        series.count += 1;
        series.sum_s += seconds;
        for (bucket, le) in series.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= le {
                *bucket += 1;
            }
        }
    }
}

/// Logs each request and counts it under its route template (`/api/v1/users/{id}`), so
/// ids do not explode the number of series.
pub async fn track(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || if request.uri().path().starts_with("/api/") { "unmatched" } else { "ui" }.to_owned(),
        |m| m.as_str().to_owned(),
    );
    let response = next.run(request).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    tracing::info!(status, ms = (seconds * 1000.0).round() as u64, route = %route, "request");
    state.metrics.observe(&method, &route, status, seconds);
    response
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// Prometheus text exposition of the HTTP, sign-in, import and connection-pool figures.
pub async fn metrics(State(state): State<AppState>) -> Response {
    // Read from the queue, so every server reports the installation's figure.
    let running_imports = match state.pool.get().await {
        Ok(client) => crate::http::tasks::running_count(&**client).await.ok(),
        Err(_) => None,
    };
    let mut out = String::new();
    out.push_str("# HELP dialpool_http_requests_total HTTP requests by method, route and status.\n");
    out.push_str("# TYPE dialpool_http_requests_total counter\n");
    let requests = state.metrics.requests.lock().unwrap_or_else(|e| e.into_inner());
    for ((method, route, status), s) in requests.iter() {
        let _ = writeln!(
            out,
            "dialpool_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {}",
            escape_label(route),
            s.count
        );
    }
    out.push_str("# HELP dialpool_http_request_duration_seconds HTTP request latency.\n");
    out.push_str("# TYPE dialpool_http_request_duration_seconds histogram\n");
    let mut by_route: BTreeMap<(String, String), Series> = BTreeMap::new();
    for ((method, route, _), s) in requests.iter() {
        let agg = by_route.entry((method.clone(), route.clone())).or_default();
        agg.count += s.count;
        agg.sum_s += s.sum_s;
        for (a, b) in agg.buckets.iter_mut().zip(s.buckets) {
            *a += b;
        }
    }
    drop(requests);
    for ((method, route), s) in &by_route {
        let labels = format!("method=\"{method}\",route=\"{}\"", escape_label(route));
        for (le, n) in BUCKETS.iter().zip(s.buckets) {
            let _ =
                writeln!(out, "dialpool_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "dialpool_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
            s.count
        );
        let _ = writeln!(out, "dialpool_http_request_duration_seconds_sum{{{labels}}} {}", s.sum_s);
        let _ = writeln!(out, "dialpool_http_request_duration_seconds_count{{{labels}}} {}", s.count);
    }
    out.push_str("# HELP dialpool_sign_ins_total Sign-in attempts by outcome.\n# TYPE dialpool_sign_ins_total counter\n");
    for (outcome, n) in state.metrics.sign_ins.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let _ = writeln!(out, "dialpool_sign_ins_total{{outcome=\"{outcome}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP dialpool_imports_started_total Imports started through the API.\n# TYPE dialpool_imports_started_total counter\ndialpool_imports_started_total {}",
        state.metrics.imports_started.load(Ordering::Relaxed)
    );
    if let Some(running) = running_imports {
        let _ = writeln!(
            out,
            "# HELP dialpool_imports_running Import jobs running, on every server.\n# TYPE dialpool_imports_running gauge\ndialpool_imports_running {running}"
        );
    }
    let pool = state.pool.status();
    let _ = writeln!(
        out,
        "# HELP dialpool_db_pool_connections Database connections by state.\n# TYPE dialpool_db_pool_connections gauge\ndialpool_db_pool_connections{{state=\"idle\"}} {}\ndialpool_db_pool_connections{{state=\"in_use\"}} {}",
        pool.available,
        pool.size.saturating_sub(pool.available)
    );
    let mut response = out.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}
