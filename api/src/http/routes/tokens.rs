//! API tokens for integrations: shown once, stored hashed, scoped, expiring, revocable.

use axum::extract::State;
use axum::http::StatusCode;
use dialpool_engine::platform::access::{self, ApiToken, NewApiToken};
use dialpool_engine::platform::page::Page;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::PageParams;
use crate::http::AppState;
use crate::http::auth::{Allowed, Caller, TokensCreate};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TokenFilter {
    /// Everyone's tokens (needs `users.manage`); one's own otherwise.
    #[serde(default)]
    pub all: bool,
}

/// Tokens. Sorts: `created_at`, `name`.
#[utoipa::path(get, path = "/tokens", tag = "tokens", params(PageParams, TokenFilter),
    responses((status = 200, body = Page<ApiToken>)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    caller: Caller,
    Query(page): Query<PageParams>,
    Query(filter): Query<TokenFilter>,
) -> ApiResult<Json<Page<ApiToken>>> {
    let user = if filter.all {
        caller.require("users.manage")?;
        None
    } else {
        caller.require("tokens.create")?;
        Some(caller.principal.user_id)
    };
    let client = state.pool.get().await?;
    Ok(Json(access::list_tokens(&**client, caller.tenant(), user, &page.into()).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    pub token: ApiToken,
    /// The bearer secret. It is shown this once and cannot be recovered.
    pub secret: String,
}

/// Create a token for oneself with some of one's own permissions.
#[utoipa::path(post, path = "/tokens", tag = "tokens", request_body = NewApiToken,
    responses((status = 201, body = CreatedToken)))]
pub async fn create_token(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<TokensCreate>,
    Json(input): Json<NewApiToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    let mut client = state.pool.get().await?;
    let (token, secret) =
        access::create_token(&mut **client, caller.tenant(), &caller.actor(), &caller.principal, &input)
            .await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { token, secret })))
}

/// Revoke a token: one's own, or anyone's with `users.manage`.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", params(("id" = i64, Path)),
    responses((status = 200, body = ApiToken)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<ApiToken>> {
    caller.require("tokens.create").or_else(|_| caller.require("users.manage"))?;
    let mut client = state.pool.get().await?;
    let token = access::get_token(&**client, caller.tenant(), id).await?;
    if token.user_id != caller.principal.user_id && !caller.principal.has("users.manage") {
        // Another user's token is not the caller's business, not even its existence.
        return Err(ApiError::NotFound(format!("API token '{id}'")));
    }
    Ok(Json(access::revoke_token(&mut **client, caller.tenant(), &caller.actor(), id).await?))
}
