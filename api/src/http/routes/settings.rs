//! Providers (with default region and saved column mapping), geos and number statuses.

use axum::extract::State;
use axum::http::StatusCode;
use dialpool_engine::intake::geo::{self, Geo, GeoUpdate, NewGeo};
use dialpool_engine::intake::provider::{self, Provider, ProviderInput};
use dialpool_engine::platform::page::Page;
use dialpool_engine::pool::status::{self, Status, StatusInput};
use serde::Deserialize;
use utoipa::IntoParams;

use super::PageParams;
use crate::http::AppState;
use crate::http::auth::{Allowed, Caller, NumbersRead, SettingsManage};
use crate::http::error::{ApiError, ApiResult};
use crate::http::extract::{Json, Path, Query};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchFilter {
    /// Part of the code or name.
    pub q: Option<String>,
}

/// Providers the caller may see (a scoped manager: only theirs). Sorts: `code`, `name`, `created_at`.
#[utoipa::path(get, path = "/providers", tag = "settings", params(PageParams, SearchFilter),
    responses((status = 200, body = Page<Provider>)))]
pub async fn list_providers(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
    Query(page): Query<PageParams>,
    Query(filter): Query<SearchFilter>,
) -> ApiResult<Json<Page<Provider>>> {
    let client = state.pool.get().await?;
    let only = caller.scope().provider_filter();
    Ok(Json(provider::list_page(&**client, caller.tenant(), only, filter.q.as_deref(), &page.into()).await?))
}

/// Add a provider. The mapping is `field=column` pairs, e.g. `phone=3,geo=Region`.
#[utoipa::path(post, path = "/providers", tag = "settings", request_body = ProviderInput,
    responses((status = 201, body = Provider)))]
pub async fn create_provider(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Json(input): Json<ProviderInput>,
) -> ApiResult<(StatusCode, Json<Provider>)> {
    let mut client = state.pool.get().await?;
    let new = input.into_new()?;
    Ok((
        StatusCode::CREATED,
        Json(provider::add(&mut **client, caller.tenant(), &caller.actor(), new).await?),
    ))
}

pub(crate) fn check_provider_scope(caller: &Caller, id: i64) -> ApiResult<()> {
    if caller.scope().allows_provider(id) {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("provider '{id}'")))
    }
}

#[utoipa::path(get, path = "/providers/{id}", tag = "settings", params(("id" = i64, Path)),
    responses((status = 200, body = Provider)))]
pub async fn get_provider(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Provider>> {
    check_provider_scope(&caller, id)?;
    let client = state.pool.get().await?;
    Ok(Json(provider::get(&**client, caller.tenant(), id).await?))
}

/// Replace a provider's name, default region and mapping (the code is fixed).
#[utoipa::path(put, path = "/providers/{id}", tag = "settings", params(("id" = i64, Path)), request_body = ProviderInput,
    responses((status = 200, body = Provider)))]
pub async fn update_provider(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
    Json(input): Json<ProviderInput>,
) -> ApiResult<Json<Provider>> {
    check_provider_scope(&caller, id)?;
    let mut client = state.pool.get().await?;
    Ok(Json(provider::update(&mut **client, caller.tenant(), &caller.actor(), id, input).await?))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct GeoFilter {
    /// Part of the code or name.
    pub q: Option<String>,
    /// ISO 3166 country code.
    pub country: Option<String>,
}

/// Geos. Sorts: `code`, `name`.
#[utoipa::path(get, path = "/geos", tag = "settings", params(PageParams, GeoFilter),
    responses((status = 200, body = Page<Geo>)))]
pub async fn list_geos(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
    Query(page): Query<PageParams>,
    Query(filter): Query<GeoFilter>,
) -> ApiResult<Json<Page<Geo>>> {
    let client = state.pool.get().await?;
    Ok(Json(
        geo::list(&**client, caller.tenant(), filter.q.as_deref(), filter.country.as_deref(), &page.into())
            .await?,
    ))
}

#[utoipa::path(post, path = "/geos", tag = "settings", request_body = NewGeo, responses((status = 201, body = Geo)))]
pub async fn create_geo(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Json(input): Json<NewGeo>,
) -> ApiResult<(StatusCode, Json<Geo>)> {
    let mut client = state.pool.get().await?;
    Ok((
        StatusCode::CREATED,
        Json(geo::create(&mut **client, caller.tenant(), &caller.actor(), &input).await?),
    ))
}

#[utoipa::path(get, path = "/geos/{id}", tag = "settings", params(("id" = i64, Path)), responses((status = 200, body = Geo)))]
pub async fn get_geo(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Geo>> {
    let client = state.pool.get().await?;
    Ok(Json(geo::get(&**client, caller.tenant(), id).await?))
}

#[utoipa::path(patch, path = "/geos/{id}", tag = "settings", params(("id" = i64, Path)), request_body = GeoUpdate,
    responses((status = 200, body = Geo)))]
pub async fn update_geo(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
    Json(input): Json<GeoUpdate>,
) -> ApiResult<Json<Geo>> {
    let mut client = state.pool.get().await?;
    Ok(Json(geo::update(&mut **client, caller.tenant(), &caller.actor(), id, &input).await?))
}

#[utoipa::path(delete, path = "/geos/{id}", tag = "settings", params(("id" = i64, Path)), responses((status = 204)))]
pub async fn delete_geo(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let mut client = state.pool.get().await?;
    geo::delete(&mut **client, caller.tenant(), &caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Number statuses, in id order (a tenant has a handful).
#[utoipa::path(get, path = "/statuses", tag = "settings", responses((status = 200, body = Vec<Status>)))]
pub async fn list_statuses(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
) -> ApiResult<Json<Vec<Status>>> {
    let client = state.pool.get().await?;
    Ok(Json(status::list(&**client, caller.tenant()).await?))
}

#[utoipa::path(post, path = "/statuses", tag = "settings", request_body = StatusInput,
    responses((status = 201, body = Status)))]
pub async fn create_status(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Json(input): Json<StatusInput>,
) -> ApiResult<(StatusCode, Json<Status>)> {
    let mut client = state.pool.get().await?;
    Ok((
        StatusCode::CREATED,
        Json(status::create(&mut **client, caller.tenant(), &caller.actor(), &input).await?),
    ))
}

#[utoipa::path(put, path = "/statuses/{id}", tag = "settings", params(("id" = i16, Path)), request_body = StatusInput,
    responses((status = 200, body = Status)))]
pub async fn update_status(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i16>,
    Json(input): Json<StatusInput>,
) -> ApiResult<Json<Status>> {
    let mut client = state.pool.get().await?;
    Ok(Json(status::update(&mut **client, caller.tenant(), &caller.actor(), id, &input).await?))
}

#[utoipa::path(delete, path = "/statuses/{id}", tag = "settings", params(("id" = i16, Path)), responses((status = 204)))]
pub async fn delete_status(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i16>,
) -> ApiResult<StatusCode> {
    let mut client = state.pool.get().await?;
    status::delete(&mut **client, caller.tenant(), &caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}
