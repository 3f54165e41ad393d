//! Stored numbers, keyset-paged by phone.

use axum::extract::State;
use dialpool_engine::number::{self, Filter, Number};
use dialpool_engine::page::Page;
use serde::Deserialize;
use utoipa::IntoParams;

use super::PageParams;
use crate::http::AppState;
use crate::http::auth::{Allowed, NumbersRead};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Query};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NumberFilter {
    pub provider_id: Option<i64>,
    pub geo_id: Option<i64>,
    pub project_id: Option<i64>,
    pub status: Option<i16>,
    pub import_id: Option<i64>,
}

/// Numbers the caller may see, in phone order. Sort: `phone`.
#[utoipa::path(get, path = "/numbers", tag = "numbers", params(PageParams, NumberFilter),
    responses((status = 200, body = Page<Number>)))]
pub async fn list_numbers(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
    Query(page): Query<PageParams>,
    Query(filter): Query<NumberFilter>,
) -> ApiResult<Json<Page<Number>>> {
    let client = state.pool.get().await?;
    let filter = Filter {
        provider_id: filter.provider_id,
        geo_id: filter.geo_id,
        project_id: filter.project_id,
        status: filter.status,
        import_id: filter.import_id,
    };
    Ok(Json(number::list(&**client, caller.tenant(), caller.scope(), &filter, &page.into()).await?))
}
