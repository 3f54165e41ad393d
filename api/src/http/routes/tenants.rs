//! Tenants (companies) and their limits; only a platform administrator sees these.

use axum::extract::State;
use axum::http::StatusCode;
use dialpool_engine::platform::tenant::{self, NewTenant, Tenant, TenantUpdate};

use crate::http::AppState;
use crate::http::auth::PlatformAdmin;
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};

#[utoipa::path(get, path = "/tenants", tag = "tenants", responses((status = 200, body = Vec<Tenant>)))]
pub async fn list_tenants(
    State(state): State<AppState>,
    PlatformAdmin(_caller): PlatformAdmin,
) -> ApiResult<Json<Vec<Tenant>>> {
    let client = state.pool.get().await?;
    Ok(Json(tenant::list(&**client).await?))
}

/// Create a tenant with its first administrator.
#[utoipa::path(post, path = "/tenants", tag = "tenants", request_body = NewTenant,
    responses((status = 201, body = Tenant)))]
pub async fn create_tenant(
    State(state): State<AppState>,
    PlatformAdmin(caller): PlatformAdmin,
    Json(input): Json<NewTenant>,
) -> ApiResult<(StatusCode, Json<Tenant>)> {
    let mut client = state.pool.get().await?;
    Ok((
        StatusCode::CREATED,
        Json(tenant::create(&mut **client, caller.tenant(), &caller.actor(), &input).await?),
    ))
}

/// Change a tenant's name or limits, or disable it (its users can no longer sign in).
#[utoipa::path(patch, path = "/tenants/{id}", tag = "tenants", params(("id" = i64, Path)), request_body = TenantUpdate,
    responses((status = 200, body = Tenant)))]
pub async fn update_tenant(
    State(state): State<AppState>,
    PlatformAdmin(caller): PlatformAdmin,
    Path(id): Path<i64>,
    Json(input): Json<TenantUpdate>,
) -> ApiResult<Json<Tenant>> {
    let mut client = state.pool.get().await?;
    Ok(Json(tenant::update(&mut **client, caller.tenant(), &caller.actor(), id, &input).await?))
}
