//! Number group rules (households and related numbers).

use axum::extract::State;
use axum::http::StatusCode;
use dialpool_engine::pool::groups::{self, GroupRule, GroupRuleInput};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::AppState;
use crate::http::auth::{Allowed, NumbersRead, SettingsManage};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path};

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupRuleCreated {
    pub rule: GroupRule,
    /// Numbers whose group changed with the new rule.
    pub regrouped: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Regrouped {
    pub regrouped: i64,
}

/// The tenant's group rules, in the order they apply (a number joins the first rule's
/// group whose attributes it all has).
#[utoipa::path(get, path = "/groups", tag = "numbers", responses((status = 200, body = Vec<GroupRule>)))]
pub async fn list_groups(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<NumbersRead>,
) -> ApiResult<Json<Vec<GroupRule>>> {
    let client = state.pool.get().await?;
    Ok(Json(groups::list(&**client, caller.tenant()).await?))
}

/// Add a group rule: numbers whose named attributes have the same values (trimmed, spaces
/// collapsed, any case) form a group; the tenant's numbers are regrouped at once.
#[utoipa::path(post, path = "/groups", tag = "numbers", request_body = GroupRuleInput,
    responses((status = 201, body = GroupRuleCreated)))]
pub async fn create_group(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Json(input): Json<GroupRuleInput>,
) -> ApiResult<(StatusCode, Json<GroupRuleCreated>)> {
    let mut client = state.pool.get().await?;
    let (rule, regrouped) = groups::create(&mut **client, caller.tenant(), &caller.actor(), &input).await?;
    Ok((StatusCode::CREATED, Json(GroupRuleCreated { rule, regrouped })))
}

/// Remove a group rule; its numbers leave their groups (or join a later rule's).
#[utoipa::path(delete, path = "/groups/{id}", tag = "numbers", params(("id" = i64, Path)),
    responses((status = 200, body = Regrouped)))]
pub async fn delete_group(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Regrouped>> {
    let mut client = state.pool.get().await?;
    Ok(Json(Regrouped {
        regrouped: groups::delete(&mut **client, caller.tenant(), &caller.actor(), id).await?,
    }))
}
