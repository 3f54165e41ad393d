//! Outbound webhooks: administrators manage subscribers, test them, read the delivery log
//! and send a delivery again. Needs `settings.manage`.

use axum::extract::State;
use axum::http::StatusCode;
use dialpool_engine::platform::page::Page;
use dialpool_engine::platform::webhook::{
    self, CreatedSubscription, Delivery, DeliveryFilter, Subscription, SubscriptionInput,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::http::AppState;
use crate::http::auth::{Allowed, SettingsManage};
use crate::http::error::ApiResult;
use crate::http::extract::{Json, Path, Query};
use crate::http::routes::PageParams;

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookEvent {
    pub name: &'static str,
    pub description: &'static str,
}

/// The events a subscriber can choose.
#[utoipa::path(get, path = "/webhooks/events", tag = "webhooks", responses((status = 200, body = Vec<WebhookEvent>)))]
pub async fn list_events(_allowed: Allowed<SettingsManage>) -> Json<Vec<WebhookEvent>> {
    Json(webhook::EVENTS.iter().map(|&(name, description)| WebhookEvent { name, description }).collect())
}

/// Subscribers, with how many deliveries wait and how many were given up.
#[utoipa::path(get, path = "/webhooks", tag = "webhooks", responses((status = 200, body = Vec<Subscription>)))]
pub async fn list_webhooks(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
) -> ApiResult<Json<Vec<Subscription>>> {
    let client = state.pool.get().await?;
    Ok(Json(webhook::list(&**client, caller.tenant()).await?))
}

/// Add a subscriber. The answer holds its signing secret, shown this once.
#[utoipa::path(post, path = "/webhooks", tag = "webhooks", request_body = SubscriptionInput,
    responses((status = 201, body = CreatedSubscription)))]
pub async fn create_webhook(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Json(input): Json<SubscriptionInput>,
) -> ApiResult<(StatusCode, Json<CreatedSubscription>)> {
    let mut client = state.pool.get().await?;
    let created = webhook::create(&mut **client, caller.tenant(), &caller.actor(), &input).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(get, path = "/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = Subscription)))]
pub async fn get_webhook(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Subscription>> {
    let client = state.pool.get().await?;
    Ok(Json(webhook::get(&**client, caller.tenant(), id).await?))
}

/// Change the URL, events or description, or pause (`active: false`) a subscriber. A
/// paused subscriber's deliveries wait and go out when it is active again.
#[utoipa::path(put, path = "/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    request_body = SubscriptionInput, responses((status = 200, body = Subscription)))]
pub async fn update_webhook(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
    Json(input): Json<SubscriptionInput>,
) -> ApiResult<Json<Subscription>> {
    let mut client = state.pool.get().await?;
    Ok(Json(webhook::update(&mut **client, caller.tenant(), &caller.actor(), id, &input).await?))
}

/// Remove a subscriber and its delivery log.
#[utoipa::path(delete, path = "/webhooks/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 204)))]
pub async fn delete_webhook(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    let mut client = state.pool.get().await?;
    webhook::delete(&mut **client, caller.tenant(), &caller.actor(), id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing secret, shown this once; the old one stops working at once.
#[utoipa::path(post, path = "/webhooks/{id}/rotate-secret", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = CreatedSubscription)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<Json<CreatedSubscription>> {
    let mut client = state.pool.get().await?;
    Ok(Json(webhook::rotate_secret(&mut **client, caller.tenant(), &caller.actor(), id).await?))
}

/// Send a `ping` event to this subscriber (also when paused); watch it in the log.
#[utoipa::path(post, path = "/webhooks/{id}/ping", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 202, body = Delivery)))]
pub async fn ping_webhook(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    let mut client = state.pool.get().await?;
    let delivery = webhook::ping(&mut **client, caller.tenant(), &caller.actor(), id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryParams {
    /// `pending`, `succeeded` or `dead`.
    pub status: Option<String>,
    /// An event name, e.g. `import.finished`.
    pub event: Option<String>,
}

/// A subscriber's delivery log, newest first (`sort=id` for oldest first).
#[utoipa::path(get, path = "/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = i64, Path), PageParams, DeliveryParams), responses((status = 200, body = Page<Delivery>)))]
pub async fn list_deliveries(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
    Query(page): Query<PageParams>,
    Query(filter): Query<DeliveryParams>,
) -> ApiResult<Json<Page<Delivery>>> {
    let client = state.pool.get().await?;
    let filter = DeliveryFilter { status: filter.status, event: filter.event };
    Ok(Json(webhook::deliveries(&**client, caller.tenant(), id, &filter, &page.into()).await?))
}

/// One delivery with every try: when, what the receiver answered, how long it took.
#[utoipa::path(get, path = "/webhooks/deliveries/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = Delivery)))]
pub async fn get_delivery(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<Json<Delivery>> {
    let client = state.pool.get().await?;
    Ok(Json(webhook::delivery(&**client, caller.tenant(), id).await?))
}

/// Send a delivery again now (a given-up one gets a fresh set of tries).
#[utoipa::path(post, path = "/webhooks/deliveries/{id}/redeliver", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 202, body = Delivery)))]
pub async fn redeliver(
    State(state): State<AppState>,
    Allowed(caller, _): Allowed<SettingsManage>,
    Path(id): Path<i64>,
) -> ApiResult<(StatusCode, Json<Delivery>)> {
    let mut client = state.pool.get().await?;
    let delivery = webhook::redeliver(&mut **client, caller.tenant(), &caller.actor(), id).await?;
    Ok((StatusCode::ACCEPTED, Json(delivery)))
}
