//! The HTTP side: `fn router(state) -> Router`, testable without a socket. The API lives
//! under `/api/v1`, described by the OpenAPI document built from the handlers themselves.

pub mod auth;
pub mod error;
pub mod extract;
pub mod observe;
pub mod routes;
pub mod tasks;
pub mod ui;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use deadpool_postgres::Pool;
use serde_json::json;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as OpenApiDoc, RefOr, ResponseBuilder, content::ContentBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use self::error::{PROBLEM_JSON, Problem};
use self::observe::Metrics;
use tower_http::request_id::{PropagateRequestIdLayer, SetRequestIdLayer};

/// Settings of the HTTP server that are not the database.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Uploads and rejects files live under here.
    pub data_dir: PathBuf,
    pub max_upload_bytes: u64,
    /// Mark the session cookie Secure even without `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
    /// How long an export's file is kept for download.
    pub exports_keep: chrono::Duration,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            data_dir: PathBuf::from("data"),
            max_upload_bytes: 512 * 1024 * 1024,
            secure_cookies: false,
            exports_keep: chrono::Duration::hours(72),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub pool: Pool,
    pub config: Arc<HttpConfig>,
    pub metrics: Arc<Metrics>,
    /// Calling-hours gates leases share for the minute.
    pub gates: Arc<dialpool_engine::dialing::hours::GateCache>,
}

impl AppState {
    pub fn new(pool: Pool, config: HttpConfig) -> Self {
        AppState { pool, config: Arc::new(config), metrics: Arc::default(), gates: Arc::default() }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Dialpool API", description = "Phone-number distribution for call centres. \
        Authenticate with the session cookie from `POST /api/v1/auth/login` (and send its CSRF token \
        in `X-CSRF-Token` on every state-changing request) or with `Authorization: Bearer <API token>`. \
        Errors are `application/problem+json`. Lists are keyset-paged: pass `next_cursor` back as `cursor`."),
    modifiers(&Conventions),
    tags(
        (name = "auth", description = "Signing in, the caller, permissions"),
        (name = "users", description = "Users, roles and scopes"),
        (name = "tokens", description = "API tokens for integrations"),
        (name = "settings", description = "Providers, geos, number statuses"),
        (name = "imports", description = "Number file imports"),
        (name = "providers", description = "Provider scorecards, prices on imports, return rules and return batches"),
        (name = "numbers", description = "Stored numbers"),
        (name = "projects", description = "Projects, pools, schedules and allocation"),
        (name = "sftp", description = "Partner SFTP accounts and their uploads"),
        (name = "jobs", description = "The job queue and the cron schedules that fill it"),
        (name = "conversion", description = "Conversion analytics by day, weekday, project, provider and geo"),
        (name = "exports", description = "Number batches out to files: start, follow, history, download"),
        (name = "calls", description = "Dialers and softphones: leases, screen pop, call outcomes, calling hours"),
        (name = "webhooks", description = "Outbound webhooks: signed events to subscribers, retries, delivery log"),
        (name = "audit", description = "The audit log"),
        (name = "compliance", description = "Erasure and tombstones, subject access, retention, compliance reports"),
        (name = "tenants", description = "Tenants (platform administrators only)"),
    )
)]
struct ApiDoc;

/// What every operation shares: both ways to authenticate, and the problem+json shape of
/// every error response.
struct Conventions;

impl Modify for Conventions {
    fn modify(&self, openapi: &mut OpenApiDoc) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::SESSION_COOKIE))),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let problem = ResponseBuilder::new()
            .description("An error, as RFC 9457 problem details")
            .content(
                PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("Problem"))))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete]
                .into_iter()
                .flatten()
            {
                operation
                    .responses
                    .responses
                    .entry("default".into())
                    .or_insert_with(|| problem.clone().into());
                if operation.operation_id.as_deref() != Some("login") {
                    operation.security = Some(vec![
                        utoipa::openapi::security::SecurityRequirement::new("session", Vec::<String>::new()),
                        utoipa::openapi::security::SecurityRequirement::new("token", Vec::<String>::new()),
                    ]);
                }
            }
        }
    }
}

fn api_v1() -> OpenApiRouter<AppState> {
    use routes::{
        audit, calls, compliance, conversion, dashboard, exports, groups, imports, jobs, numbers, projects,
        providers, settings, sftp, tenants, tokens, users, webhooks,
    };
    let upload = OpenApiRouter::new().routes(routes!(imports::upload, imports::list_imports));
    OpenApiRouter::new()
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(auth::change_password))
        .routes(routes!(auth::permissions))
        .routes(routes!(users::list_users, users::create_user))
        .routes(routes!(users::get_user, users::update_user))
        .routes(routes!(users::list_roles, users::create_role))
        .routes(routes!(users::get_role, users::update_role, users::delete_role))
        .routes(routes!(tokens::list_tokens, tokens::create_token))
        .routes(routes!(tokens::revoke_token))
        .routes(routes!(settings::list_providers, settings::create_provider))
        .routes(routes!(settings::get_provider, settings::update_provider))
        .routes(routes!(providers::get_scorecard))
        .routes(routes!(providers::get_return_rules, providers::set_return_rules))
        .routes(routes!(providers::list_returns, providers::create_return))
        .routes(routes!(providers::set_import_price))
        .routes(routes!(groups::list_groups, groups::create_group))
        .routes(routes!(groups::delete_group))
        .routes(routes!(settings::list_geos, settings::create_geo))
        .routes(routes!(settings::get_geo, settings::update_geo, settings::delete_geo))
        .routes(routes!(settings::list_statuses, settings::create_status))
        .routes(routes!(settings::update_status, settings::delete_status))
        .merge(upload)
        .routes(routes!(imports::get_import))
        .routes(routes!(imports::download_rejects))
        .routes(routes!(imports::list_tasks))
        .routes(routes!(imports::get_task))
        .routes(routes!(imports::task_events))
        .routes(routes!(numbers::list_numbers))
        .routes(routes!(numbers::count_numbers))
        .routes(routes!(numbers::get_number))
        .routes(routes!(numbers::bulk_numbers))
        .routes(routes!(numbers::undo_bulk_numbers))
        .routes(routes!(numbers::list_dnc, numbers::add_dnc))
        .routes(routes!(numbers::remove_dnc))
        .routes(routes!(numbers::list_dnc_lists, numbers::set_dnc_list))
        .routes(routes!(numbers::upload_dnc))
        .routes(routes!(numbers::list_dispositions, numbers::set_disposition))
        .routes(routes!(numbers::delete_disposition))
        .routes(routes!(projects::explain_number))
        .routes(routes!(projects::list_projects, projects::create_project))
        .routes(routes!(projects::get_project, projects::update_project, projects::delete_project))
        .routes(routes!(projects::pause_project))
        .routes(routes!(projects::resume_project))
        .routes(routes!(projects::restore_project))
        .routes(routes!(projects::purge_project))
        .routes(routes!(projects::run_allocation))
        .routes(routes!(projects::dry_run_allocation))
        .routes(routes!(projects::preview_allocation))
        .routes(routes!(projects::forecast))
        .routes(routes!(conversion::report))
        .routes(routes!(conversion::hours))
        .routes(routes!(dashboard::dashboard))
        .routes(routes!(dashboard::dashboard_events))
        .routes(routes!(jobs::list_jobs))
        .routes(routes!(jobs::get_job))
        .routes(routes!(jobs::cancel_job))
        .routes(routes!(jobs::retry_job))
        .routes(routes!(jobs::list_schedules, jobs::create_schedule))
        .routes(routes!(jobs::update_schedule, jobs::delete_schedule))
        .routes(routes!(sftp::list_accounts, sftp::create_account))
        .routes(routes!(sftp::list_uploads))
        .routes(routes!(sftp::list_remotes, sftp::create_remote))
        .routes(routes!(sftp::get_remote, sftp::update_remote, sftp::delete_remote))
        .routes(routes!(sftp::test_remote))
        .routes(routes!(sftp::confirm_host_key))
        .routes(routes!(sftp::run_remote))
        .routes(routes!(sftp::list_transfers))
        .routes(routes!(compliance::list_erasures, compliance::erase))
        .routes(routes!(compliance::get_tombstone))
        .routes(routes!(compliance::lift_tombstone))
        .routes(routes!(compliance::subject_access))
        .routes(routes!(compliance::get_retention, compliance::set_retention))
        .routes(routes!(compliance::compliance_report))
        .routes(routes!(exports::start_export))
        .routes(routes!(exports::list_exports))
        .routes(routes!(exports::get_export))
        .routes(routes!(exports::download_export))
        .routes(routes!(calls::lease_numbers))
        .routes(routes!(calls::return_leases))
        .routes(routes!(calls::screen_pop))
        .routes(routes!(calls::post_outcome))
        .routes(routes!(calls::upload_outcomes))
        .routes(routes!(calls::list_calling_hours, calls::set_calling_hours))
        .routes(routes!(calls::delete_calling_hours))
        .routes(routes!(webhooks::list_events))
        .routes(routes!(webhooks::list_webhooks, webhooks::create_webhook))
        .routes(routes!(webhooks::get_webhook, webhooks::update_webhook, webhooks::delete_webhook))
        .routes(routes!(webhooks::rotate_secret))
        .routes(routes!(webhooks::ping_webhook))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::get_delivery))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(audit::list))
        .routes(routes!(audit::export))
        .routes(routes!(tenants::list_tenants, tenants::create_tenant))
        .routes(routes!(tenants::update_tenant))
}

/// The OpenAPI document the server serves at `/api/openapi.json`; `api/openapi.json` in
/// the repository is this, and a test fails when the two differ.
pub fn openapi() -> OpenApiDoc {
    let (_, mut doc) = OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi())
        .nest("/api/v1", api_v1())
        .split_for_parts();
    Conventions.modify(&mut doc);
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    let components = doc.components.get_or_insert_with(Default::default);
    components.schemas.insert("Problem".into(), <Problem as utoipa::PartialSchema>::schema());
    doc
}

pub fn openapi_json() -> String {
    let mut text = serde_json::to_string_pretty(&openapi()).expect("the OpenAPI document serialises");
    text.push('\n');
    text
}

/// One event of a `text/event-stream` response, as the document describes each: its name
/// and its data (JSON text of the schema the route's description names).
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ServerSentEvent {
    pub event: String,
    pub data: String,
}

pub fn router(state: AppState) -> Router {
    let max_upload = state.config.max_upload_bytes;
    let (api, _) = OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", api_v1()).split_for_parts();
    let doc = openapi();
    let api = api.route_layer(axum::middleware::from_fn(extract::refuse_nul)).route_layer(
        DefaultBodyLimit::max(usize::try_from(max_upload).unwrap_or(usize::MAX).saturating_add(64 * 1024)),
    );
    Router::new()
        .merge(api)
        .merge(SwaggerUi::new("/api/docs").url("/api/openapi.json", doc))
        .route("/api/{*rest}", axum::routing::any(error::fallback_not_found))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(observe::metrics))
        .fallback(ui::serve)
        .layer(axum::middleware::from_fn_with_state(state.clone(), observe::track))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(observe::RandomId))
        .layer(axum::middleware::from_fn(observe::drop_odd_request_id))
        .with_state(state)
}

/// The process is up; says nothing of its dependencies.
async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// Ready to serve: the database answers and its schema is what this binary expects.
async fn readyz(State(state): State<AppState>) -> Response {
    let check = async {
        let client = state.pool.get().await.map_err(|e| e.to_string())?;
        dialpool_engine::platform::db::migrations_current(&client).await.map_err(|e| e.to_string())
    };
    match check.await {
        Ok(true) => axum::Json(json!({ "status": "ready" })).into_response(),
        Ok(false) => (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({ "status": "migrations pending" })))
            .into_response(),
        Err(error) => {
            tracing::warn!(%error, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({ "status": "database unavailable" })))
                .into_response()
        }
    }
}
