//! Users, their roles and scopes; roles as named permission sets.

use axum::extract::State;
use axum::http::StatusCode;
use dialpool_engine::platform::access::{self, NewUser, Role, RoleInput, User, UserUpdate};
use dialpool_engine::platform::page::Page;
use serde::Deserialize;
use utoipa::IntoParams;

use super::PageParams;
use crate::http::AppState;
use crate::http::auth::{Allowed, UsersManage};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path, Query};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserFilter {
    /// Part of the e-mail or name.
    pub q: Option<String>,
}

/// Users of the tenant. Sorts: `email`, `name`, `created_at`.
#[utoipa::path(get, path = "/users", tag = "users", params(PageParams, UserFilter),
    responses((status = 200, body = Page<User>)))]
pub async fn list_users(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<UsersManage>,
    Query(page): Query<PageParams>,
    Query(filter): Query<UserFilter>,
) -> ApiResult<Json<Page<User>>> {
    let client = state.pool.get().await?;
    Ok(Json(access::list_users(&**client, caller.tenant(), filter.q.as_deref(), &page.into()).await?))
}

#[utoipa::path(post, path = "/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = User)))]
pub async fn create_user(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<UsersManage>,
    Json(input): Json<NewUser>,
) -> ApiResult<(StatusCode, Json<User>)> {
    let mut client = state.pool.get().await?;
    let user = access::create_user(&mut **client, caller.tenant(), &caller.actor(), &input).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[utoipa::path(get, path = "/users/{id}", tag = "users", params(("id" = i64, Path)),
    responses((status = 200, body = User)))]
pub async fn get_user(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<UsersManage>,
    Path(id): Path<i64>,
) -> ApiResult<Json<User>> {
    let client = state.pool.get().await?;
    Ok(Json(access::get_user(&**client, caller.tenant(), id).await?))
}

/// Change a user's name, role, locale, scopes; disable or re-enable; reset the password.
#[utoipa::path(patch, path = "/users/{id}", tag = "users", params(("id" = i64, Path)), request_body = UserUpdate,
    responses((status = 200, body = User)))]
pub async fn update_user(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<UsersManage>,
    Path(id): Path<i64>,
    Json(update): Json<UserUpdate>,
) -> ApiResult<Json<User>> {
    let mut client = state.pool.get().await?;
    Ok(Json(access::update_user(&mut **client, caller.tenant(), &caller.actor(), id, &update).await?))
}

/// Roles. Sorts: `name`, `created_at`.
#[utoipa::path(get, path = "/roles", tag = "users", params(PageParams), responses((status = 200, body = Page<Role>)))]
pub async fn list_roles(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<UsersManage>,
    Query(page): Query<PageParams>,
) -> ApiResult<Json<Page<Role>>> {
    let client = state.pool.get().await?;
    Ok(Json(access::list_roles(&**client, caller.tenant(), &page.into()).await?))
}

#[utoipa::path(post, path = "/roles", tag = "users", request_body = RoleInput, responses((status = 201, body = Role)))]
pub async fn create_role(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<UsersManage>,
    Json(input): Json<RoleInput>,
) -> ApiResult<(StatusCode, Json<Role>)> {
    let mut client = state.pool.get().await?;
    Ok((
        StatusCode::CREATED,
        Json(access::create_role(&mut **client, caller.tenant(), &caller.actor(), &input).await?),
    ))
}

#[utoipa::path(get, path = "/roles/{id}", tag = "users", params(("id" = i64, Path)), responses((status = 200, body = Role)))]
pub async fn get_role(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<UsersManage>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Role>> {
    let client = state.pool.get().await?;
    Ok(Json(access::get_role(&**client, caller.tenant(), id).await?))
}

#[utoipa::path(put, path = "/roles/{id}", tag = "users", params(("id" = i64, Path)), request_body = RoleInput,
    responses((status = 200, body = Role)))]
pub async fn update_role(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<UsersManage>,
    Path(id): Path<i64>,
    Json(input): Json<RoleInput>,
) -> ApiResult<Json<Role>> {
    let mut client = state.pool.get().await?;
    Ok(Json(access::update_role(&mut **client, caller.tenant(), &caller.actor(), id, &input).await?))
}

#[utoipa::path(delete, path = "/roles/{id}", tag = "users", params(("id" = i64, Path)), responses((status = 204)))]
pub async fn delete_role(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<UsersManage>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let mut client = state.pool.get().await?;
    access::delete_role(&mut **client, caller.tenant(), &caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
