//! Who is calling: a browser session (HttpOnly cookie plus a CSRF token echoed in a
//! header on every state-changing request) or a bearer API token. Sign-in, sign-out and
//! the caller's own account.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dialpool_engine::TenantId;
use dialpool_engine::platform::access::{self, Credential, Principal, Scope, SignIn};
use dialpool_engine::platform::audit::{self, Actor, Change};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, ApiResult};
use super::extract::Json;
use tower_http::request_id::RequestId;

pub const SESSION_COOKIE: &str = "dialpool_session";
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub principal: Principal,
    pub request_id: Option<String>,
    pub address: Option<IpAddr>,
}

impl Caller {
    pub fn tenant(&self) -> TenantId {
        self.principal.tenant
    }

    pub fn require(&self, permission: &'static str) -> ApiResult<()> {
        if self.principal.has(permission) { Ok(()) } else { Err(ApiError::Forbidden(permission)) }
    }

    pub fn require_platform_admin(&self) -> ApiResult<()> {
        // A token is for integrations; managing tenants takes a person at a browser.
        match (&self.principal.credential, self.principal.is_platform_admin) {
            (Credential::Session { .. }, true) => Ok(()),
            _ => Err(ApiError::PlatformOnly),
        }
    }

    pub fn scope(&self) -> &Scope {
        &self.principal.scope
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.principal.user_id),
            token_id: match self.principal.credential {
                Credential::Token { token_id } => Some(token_id),
                Credential::Session { .. } => None,
            },
            label: self.principal.email.clone(),
            request_id: self.request_id.clone(),
            address: self.address,
        }
    }
}

pub fn peer_address(parts: &Parts) -> Option<IpAddr> {
    // Tests stand in for the socket with MockConnectInfo, which axum's own extractor reads.
    let mock =
        || parts.extensions.get::<axum::extract::connect_info::MockConnectInfo<SocketAddr>>().map(|m| m.0);
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0).or_else(mock).map(|a| a.ip())
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Compares without an early exit, so timing does not reveal how much of a guess matched.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Routes a user whose password must change may still call.
const ALLOWED_BEFORE_PASSWORD_CHANGE: &[&str] = &["/api/v1/me", "/api/v1/me/password", "/api/v1/auth/logout"];

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let client = state.pool.get().await?;
        let principal = if let Some(token) = bearer(&parts.headers) {
            access::authenticate_token(&client, token).await?.ok_or(ApiError::Unauthenticated)?
        } else if let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) {
            let principal =
                access::authenticate_session(&**client, secret).await?.ok_or(ApiError::Unauthenticated)?;
            let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
            if let Credential::Session { csrf_token } = &principal.credential
                && !safe
            {
                let sent = parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
                if !same_secret(sent, csrf_token) {
                    return Err(ApiError::Csrf);
                }
            }
            principal
        } else {
            return Err(ApiError::Unauthenticated);
        };
        // Nested routers see their own part of the path; the original has the prefix.
        let path =
            parts.extensions.get::<axum::extract::OriginalUri>().map_or(parts.uri.path(), |o| o.0.path());
        if principal.password_must_change && !ALLOWED_BEFORE_PASSWORD_CHANGE.contains(&path) {
            return Err(ApiError::PasswordChangeRequired);
        }
        Ok(Caller {
            principal,
            request_id: super::observe::request_id(&parts.extensions).map(str::to_owned),
            address: peer_address(parts),
        })
    }
}

/// The signed-in user as the UI needs it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user_id: i64,
    pub email: String,
    pub display_name: String,
    pub locale: String,
    pub tenant_id: i64,
    pub tenant_slug: String,
    pub role: String,
    pub permissions: Vec<String>,
    pub scope: Scope,
    pub is_platform_admin: bool,
    pub password_must_change: bool,
    /// Echo it in `X-CSRF-Token` on every state-changing request made with the session
    /// cookie. Absent for API tokens, which need none.
    pub csrf_token: Option<String>,
}

impl From<&Principal> for Me {
    fn from(p: &Principal) -> Self {
        Me {
            user_id: p.user_id,
            email: p.email.clone(),
            display_name: p.display_name.clone(),
            locale: p.locale.clone(),
            tenant_id: p.tenant.0,
            tenant_slug: p.tenant_slug.clone(),
            role: p.role.clone(),
            permissions: p.permissions.clone(),
            scope: p.scope.clone(),
            is_platform_admin: p.is_platform_admin,
            password_must_change: p.password_must_change,
            csrf_token: match &p.credential {
                Credential::Session { csrf_token } => Some(csrf_token.clone()),
                Credential::Token { .. } => None,
            },
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

fn session_cookie(state: &AppState, headers: &HeaderMap, value: &str, max_age_s: i64) -> HeaderValue {
    let behind_tls = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()) == Some("https");
    let secure = if state.config.secure_cookies || behind_tls { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_s}{secure}"
    ))
    .expect("a cookie of URL-safe characters")
}

/// Sign in with e-mail and password; sets the session cookie.
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = Me), (status = 401, description = "wrong e-mail or password"),
              (status = 429, description = "too many failures; see Retry-After")))]
pub async fn login(
    State(state): State<AppState>,
    ConnectInfoOpt(address): ConnectInfoOpt,
    request_id: Option<axum::Extension<RequestId>>,
    headers: HeaderMap,
    Json(request): Json<LoginRequest>,
) -> ApiResult<Response> {
    let client = state.pool.get().await?;
    let agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok());
    match access::sign_in(&**client, &request.email, &request.password, address, agent).await? {
        SignIn::Ok { session_secret, principal, .. } => {
            state.metrics.sign_in("ok");
            let request_id = request_id.and_then(|r| super::observe::id_text(&r.0).map(str::to_owned));
            audit_sign_in(&state, &principal, address, request_id).await;
            let cookie = session_cookie(&state, &headers, &session_secret, access::SESSION_MAX.num_seconds());
            let mut response = axum::Json(Me::from(&*principal)).into_response();
            response.headers_mut().insert(header::SET_COOKIE, cookie);
            Ok(response)
        }
        SignIn::Rejected => {
            state.metrics.sign_in("rejected");
            tracing::info!(address = ?address, "sign-in rejected");
            Err(ApiError::BadCredentials)
        }
        SignIn::Throttled { retry_after_s } => {
            state.metrics.sign_in("throttled");
            Err(ApiError::Throttled(retry_after_s))
        }
    }
}

/// Sign out: ends the session and clears the cookie.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
) -> ApiResult<Response> {
    if let Some(secret) = cookie(&headers, SESSION_COOKIE) {
        let client = state.pool.get().await?;
        access::sign_out(&**client, secret).await?;
    }
    tracing::debug!(user = caller.principal.user_id, "signed out");
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(header::SET_COOKIE, session_cookie(&state, &headers, "", 0));
    Ok(response)
}

/// The caller: user, tenant, permissions, scope, and the CSRF token of the session.
#[utoipa::path(get, path = "/me", tag = "auth", responses((status = 200, body = Me)))]
pub async fn me(caller: Caller) -> Json<Me> {
    Json(Me::from(&caller.principal))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    pub current_password: String,
    pub new_password: String,
}

/// Change one's own password (required after a one-time or reset password).
#[utoipa::path(post, path = "/me/password", tag = "auth", request_body = PasswordChange,
    responses((status = 204)))]
pub async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    Json(change): Json<PasswordChange>,
) -> ApiResult<StatusCode> {
    let mut client = state.pool.get().await?;
    access::change_own_password(
        &mut **client,
        caller.tenant(),
        &caller.actor(),
        caller.principal.user_id,
        &change.current_password,
        &change.new_password,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionInfo {
    pub name: String,
    pub description: String,
}

/// Every permission a role can hold.
#[utoipa::path(get, path = "/permissions", tag = "auth", responses((status = 200, body = Vec<PermissionInfo>)))]
pub async fn permissions(_caller: Caller) -> Json<Vec<PermissionInfo>> {
    Json(
        access::PERMISSIONS
            .iter()
            .map(|(name, description)| PermissionInfo {
                name: (*name).into(),
                description: (*description).into(),
            })
            .collect(),
    )
}

/// The peer address when the server runs with connection info (always, in `serve`).
pub struct ConnectInfoOpt(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ConnectInfoOpt {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(ConnectInfoOpt(peer_address(parts)))
    }
}

/// Successful sign-ins go to the audit log ("who was in"); failures are counted in the
/// metrics and throttled instead, so a password-guessing run cannot flood the log.
async fn audit_sign_in(
    state: &AppState,
    principal: &Principal,
    address: Option<IpAddr>,
    request_id: Option<String>,
) {
    let Ok(client) = state.pool.get().await else { return };
    let actor = Actor {
        user_id: Some(principal.user_id),
        token_id: None,
        label: principal.email.clone(),
        request_id,
        address,
    };
    let change = Change {
        action: "session.create",
        entity: "user",
        entity_id: principal.user_id.to_string(),
        before: None,
        after: None,
    };
    if let Err(error) = audit::record(&**client, principal.tenant, &actor, change).await {
        tracing::warn!(%error, "could not record the sign-in");
    }
}

/// A permission as a type, so a route states what it needs in its signature and the check
/// runs before the request body is read.
pub trait Permission {
    const NAME: &'static str;
}

macro_rules! permissions {
    ($($ty:ident => $name:literal),* $(,)?) => {
        $(
            #[doc = concat!("The `", $name, "` permission.")]
            pub struct $ty;
            impl Permission for $ty {
                const NAME: &'static str = $name;
            }
        )*
    };
}

permissions! {
    NumbersRead => "numbers.read",
    ImportsCreate => "imports.create",
    UsersManage => "users.manage",
    TokensCreate => "tokens.create",
    AuditRead => "audit.read",
    SettingsManage => "settings.manage",
    ProjectsRead => "projects.read",
    ProjectsWrite => "projects.write",
    CallsWork => "calls.work",
    NumbersWrite => "numbers.write",
    DncWrite => "dnc.write",
    ExportsCreate => "exports.create",
    ConversionRead => "conversion.read",
    PrivacyManage => "privacy.manage",
}

/// A caller holding permission `P`; 401 without a caller, 403 without the permission.
pub struct Allowed<P>(pub Caller, pub std::marker::PhantomData<P>);

impl<P: Permission> FromRequestParts<AppState> for Allowed<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(P::NAME)?;
        Ok(Allowed(caller, std::marker::PhantomData))
    }
}

/// A platform administrator signed in through a browser session.
pub struct PlatformAdmin(pub Caller);

impl FromRequestParts<AppState> for PlatformAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require_platform_admin()?;
        Ok(PlatformAdmin(caller))
    }
}
