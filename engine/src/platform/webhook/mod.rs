//! Outbound webhooks. A subscriber (URL + secret) chooses events; each event becomes one
//! delivery row per subscriber, written in the transaction that makes the change, so
//! what is announced is exactly what was committed. [`send`] delivers them: signed JSON,
//! retried with back-off, every try kept for the delivery log.

pub mod outbox;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio_postgres::{GenericClient, Row};

use crate::platform::TenantId;
use crate::platform::audit::{self, Actor, Change};
use crate::platform::error::{Error, Result};
use crate::platform::page::{Keyset, Page, PageRequest, SortKey};

/// The events a subscriber may choose, with what each carries.
pub const EVENTS: &[(&str, &str)] = &[
    (
        "number.status_changed",
        "Call outcomes moved numbers to another status; up to 500 changes per delivery",
    ),
    ("import.finished", "An import ended (succeeded or failed), with its counts"),
    ("export.finished", "An export ended, with its row count and file"),
    (
        "sftp.transfer_failed",
        "A pull from or push to a remote SFTP host failed, with the error and the failures in a row",
    ),
    ("ping", "Sent by the test button; only to the subscriber tested"),
];

/// Status changes per delivery: one call is one small body, a million-row outcome file
/// a few thousand deliveries rather than a million.
pub const CHANGES_PER_DELIVERY: i64 = 500;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Subscription {
    pub id: i64,
    pub url: String,
    pub description: String,
    pub events: Vec<String>,
    pub active: bool,
    /// The first characters of the secret, to tell secrets apart; never the secret.
    pub secret_hint: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Deliveries still waiting (first try or a retry) and given up on.
    pub pending: i64,
    pub dead: i64,
}

/// A new subscription and, this once, its secret.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedSubscription {
    #[serde(flatten)]
    pub subscription: Subscription,
    /// Shown only now: the receiver verifies signatures with it.
    pub secret: String,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionInput {
    #[schema(example = "https://crm.example.com/hooks/dialpool")]
    pub url: String,
    #[serde(default)]
    pub description: String,
    #[schema(example = json!(["number.status_changed", "import.finished"]))]
    pub events: Vec<String>,
    #[serde(default = "active_by_default")]
    pub active: bool,
}

fn active_by_default() -> bool {
    true
}

const SUBSCRIPTION_COLUMNS: &str =
    "w.id, w.url, w.description, w.events, w.active, left(w.secret, 10) AS secret_hint,
        w.created_at, w.updated_at,
        (SELECT count(*) FROM webhook_deliveries d
          WHERE d.tenant_id = w.tenant_id AND d.subscription_id = w.id AND d.status = 'pending') AS pending,
        (SELECT count(*) FROM webhook_deliveries d
          WHERE d.tenant_id = w.tenant_id AND d.subscription_id = w.id AND d.status = 'dead') AS dead";

fn subscription(row: &Row) -> Subscription {
    Subscription {
        id: row.get("id"),
        url: row.get("url"),
        description: row.get("description"),
        events: row.get("events"),
        active: row.get("active"),
        secret_hint: format!("{}…", row.get::<_, String>("secret_hint")),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        pending: row.get("pending"),
        dead: row.get("dead"),
    }
}

fn validate(input: &SubscriptionInput) -> Result<()> {
    let url = input.url.trim();
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| Error::invalid("url", format!("'{url}' must start with https:// or http://")))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains('@') || url.chars().any(char::is_whitespace) {
        return Err(Error::invalid("url", format!("'{url}' has no host, or carries credentials or spaces")));
    }
    if input.events.is_empty() {
        return Err(Error::invalid("events", "choose at least one event"));
    }
    if let Some(unknown) = input.events.iter().find(|e| !EVENTS.iter().any(|(name, _)| name == e)) {
        let names: Vec<&str> = EVENTS.iter().map(|(name, _)| *name).collect();
        return Err(Error::invalid("events", format!("'{unknown}' is not one of {}", names.join(", "))));
    }
    Ok(())
}

fn new_secret() -> Result<String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| Error::Worker(format!("no randomness for a secret: {e}")))?;
    Ok(format!("whsec_{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()))
}

pub async fn list(client: &impl GenericClient, tenant: TenantId) -> Result<Vec<Subscription>> {
    Ok(client
        .query(
            &format!("SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions w WHERE w.tenant_id = $1 ORDER BY w.id"),
            &[&tenant.0],
        )
        .await?
        .iter()
        .map(subscription)
        .collect())
}

pub async fn get(client: &impl GenericClient, tenant: TenantId, id: i64) -> Result<Subscription> {
    client
        .query_opt(
            &format!("SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions w WHERE w.tenant_id = $1 AND w.id = $2"),
            &[&tenant.0, &id],
        )
        .await?
        .map(|r| subscription(&r))
        .ok_or_else(|| Error::NotFound { entity: "webhook", key: id.to_string() })
}

pub async fn create(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    input: &SubscriptionInput,
) -> Result<CreatedSubscription> {
    validate(input)?;
    let secret = new_secret()?;
    let tx = client.transaction().await?;
    let id: i64 = tx
        .query_one(
            "INSERT INTO webhook_subscriptions (tenant_id, url, description, secret, events, active, created_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            &[&tenant.0, &input.url.trim(), &input.description, &secret, &input.events, &input.active, &actor.user_id],
        )
        .await?
        .get(0);
    let created = get(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::created("webhook.create", "webhook", id, &created)).await?;
    tx.commit().await?;
    Ok(CreatedSubscription { subscription: created, secret })
}

pub async fn update(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
    input: &SubscriptionInput,
) -> Result<Subscription> {
    validate(input)?;
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, id).await?;
    tx.execute(
        "UPDATE webhook_subscriptions SET url = $3, description = $4, events = $5, active = $6, updated_at = now()
          WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &id, &input.url.trim(), &input.description, &input.events, &input.active],
    )
    .await?;
    let after = get(&tx, tenant, id).await?;
    audit::record(&tx, tenant, actor, Change::updated("webhook.update", "webhook", id, &before, &after))
        .await?;
    tx.commit().await?;
    Ok(after)
}

/// A new secret, effective for the next try of every delivery; the old one stops working.
pub async fn rotate_secret(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
) -> Result<CreatedSubscription> {
    let secret = new_secret()?;
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, id).await?;
    tx.execute(
        "UPDATE webhook_subscriptions SET secret = $3, updated_at = now() WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &id, &secret],
    )
    .await?;
    let after = get(&tx, tenant, id).await?;
    audit::record(
        &tx,
        tenant,
        actor,
        Change::updated("webhook.rotate_secret", "webhook", id, &before, &after),
    )
    .await?;
    tx.commit().await?;
    Ok(CreatedSubscription { subscription: after, secret })
}

/// Removes the subscriber with its delivery log.
pub async fn delete(client: &mut impl GenericClient, tenant: TenantId, actor: &Actor, id: i64) -> Result<()> {
    let tx = client.transaction().await?;
    let before = get(&tx, tenant, id).await?;
    tx.execute("DELETE FROM webhook_subscriptions WHERE tenant_id = $1 AND id = $2", &[&tenant.0, &id])
        .await?;
    audit::record(&tx, tenant, actor, Change::deleted("webhook.delete", "webhook", id, &before)).await?;
    tx.commit().await?;
    Ok(())
}

/// Queues `data` as event `event` for every active subscriber that chose it; returns how
/// many deliveries were queued. Call it inside the transaction that makes the change.
pub async fn enqueue(
    client: &impl GenericClient,
    tenant: TenantId,
    event: &str,
    data: &serde_json::Value,
) -> Result<u64> {
    Ok(client
        .execute(
            "WITH e AS (SELECT gen_random_uuid() AS id, now() AS at)
             INSERT INTO webhook_deliveries (tenant_id, subscription_id, event_id, event, payload)
             SELECT $1, w.id, e.id, $2,
                    jsonb_build_object('id', e.id, 'type', $2::text, 'created_at', e.at, 'tenant_id', $1::bigint,
                                       'data', $3::jsonb)
               FROM webhook_subscriptions w CROSS JOIN e
              WHERE w.tenant_id = $1 AND w.active AND $2 = ANY(w.events)",
            &[&tenant.0, &event, data],
        )
        .await?)
}

/// Queues `number.status_changed` for the calls in the temp table `outcome_new` whose
/// status differs from the one before, in chunks of [`CHANGES_PER_DELIVERY`].
pub(crate) async fn enqueue_status_changes(client: &impl GenericClient, tenant: TenantId) -> Result<u64> {
    let subscribed: bool = client
        .query_one(
            "SELECT EXISTS (SELECT FROM webhook_subscriptions
                             WHERE tenant_id = $1 AND active AND 'number.status_changed' = ANY(events))",
            &[&tenant.0],
        )
        .await?
        .get(0);
    if !subscribed {
        return Ok(0);
    }
    Ok(client
        .execute(include_str!("webhook.enqueue_status_changes.sql"), &[&tenant.0, &CHANGES_PER_DELIVERY])
        .await?)
}

/// Queues a `ping` to one subscriber, active or not, so its receiver can be checked.
pub async fn ping(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
) -> Result<Delivery> {
    let tx = client.transaction().await?;
    get(&tx, tenant, id).await?;
    let delivery_id: i64 = tx
        .query_one(
            "WITH e AS (SELECT gen_random_uuid() AS id, now() AS at)
             INSERT INTO webhook_deliveries (tenant_id, subscription_id, event_id, event, payload)
             SELECT $1, $2, e.id, 'ping',
                    jsonb_build_object('id', e.id, 'type', 'ping', 'created_at', e.at, 'tenant_id', $1::bigint,
                                       'data', jsonb_build_object('requested_by', $3::text))
               FROM e RETURNING id",
            &[&tenant.0, &id, &actor.label],
        )
        .await?
        .get(0);
    let delivery = delivery(&tx, tenant, delivery_id).await?;
    tx.commit().await?;
    Ok(delivery)
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    pub id: i64,
    pub subscription_id: i64,
    pub event_id: String,
    pub event: String,
    /// `pending` (waiting for its first try or a retry), `succeeded` or `dead` (given up).
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's HTTP status on the last try; absent if it did not answer.
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    #[schema(value_type = Object)]
    pub payload: serde_json::Value,
    /// Every try, oldest first; only on a single delivery.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tries: Vec<Attempt>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Attempt {
    pub attempt: i32,
    pub at: DateTime<Utc>,
    pub status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i32,
}

const DELIVERY_COLUMNS: &str =
    "d.id, d.subscription_id, d.event_id::text AS event_id, d.event, d.status::text AS status,
        d.attempts, CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at,
        d.last_attempt_at, d.last_status, d.last_error, d.delivered_at, d.created_at, d.payload";

fn delivery_from(row: &Row) -> Result<Delivery> {
    Ok(Delivery {
        id: row.get("id"),
        subscription_id: row.get("subscription_id"),
        event_id: row.get("event_id"),
        event: row.get("event"),
        status: row.get("status"),
        attempts: row.get("attempts"),
        next_attempt_at: row.get("next_attempt_at"),
        last_attempt_at: row.get("last_attempt_at"),
        last_status: row.get("last_status"),
        last_error: row.get("last_error"),
        delivered_at: row.get("delivered_at"),
        created_at: row.get("created_at"),
        payload: row.get("payload"),
        tries: Vec::new(),
    })
}

/// One delivery with every try.
pub async fn delivery(client: &impl GenericClient, tenant: TenantId, id: i64) -> Result<Delivery> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d WHERE d.tenant_id = $1 AND d.id = $2"
            ),
            &[&tenant.0, &id],
        )
        .await?
        .ok_or_else(|| Error::NotFound { entity: "webhook delivery", key: id.to_string() })?;
    let mut delivery = delivery_from(&row)?;
    delivery.tries = client
        .query(
            "SELECT attempt, at, status, error, duration_ms FROM webhook_attempts
              WHERE tenant_id = $1 AND delivery_id = $2 ORDER BY attempt",
            &[&tenant.0, &id],
        )
        .await?
        .iter()
        .map(|r| Attempt {
            attempt: r.get(0),
            at: r.get(1),
            status: r.get(2),
            error: r.get(3),
            duration_ms: r.get(4),
        })
        .collect();
    Ok(delivery)
}

const DELIVERY_SORTS: &[SortKey] = &[SortKey { name: "id", column: "d.id", sql_type: "bigint" }];

#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<String>,
    pub event: Option<String>,
}

/// A subscriber's delivery log, newest first unless sorted `id`.
pub async fn deliveries(
    client: &impl GenericClient,
    tenant: TenantId,
    subscription_id: i64,
    filter: &DeliveryFilter,
    page: &PageRequest,
) -> Result<Page<Delivery>> {
    get(client, tenant, subscription_id).await?;
    if let Some(status) = &filter.status
        && !["pending", "succeeded", "dead"].contains(&status.as_str())
    {
        return Err(Error::invalid("status", format!("'{status}' is not one of pending, succeeded, dead")));
    }
    let page = PageRequest { sort: Some(page.sort.clone().unwrap_or_else(|| "-id".into())), ..page.clone() };
    let keyset = Keyset::resolve(&page, DELIVERY_SORTS)?;
    let sql = format!(
        "SELECT {DELIVERY_COLUMNS}, d.id::text AS sort_value FROM webhook_deliveries d
          WHERE d.tenant_id = $1 AND d.subscription_id = $5
            AND ($6::text IS NULL OR d.status::text = $6) AND ($7::text IS NULL OR d.event = $7)
            {clause} {order} LIMIT $4",
        clause = keyset.clause("d.id", 2, 3),
        order = keyset.order_by("d.id"),
    );
    let (v, id) = keyset.after();
    let rows = client
        .query(
            &sql,
            &[&tenant.0, &v, &id, &keyset.fetch_limit(), &subscription_id, &filter.status, &filter.event],
        )
        .await?;
    keyset.page_of(&rows, "id", delivery_from)
}

/// Sends a delivery again now: a dead one gets a fresh set of tries, a succeeded one is
/// sent once more (receivers deduplicate by event id).
pub async fn redeliver(
    client: &mut impl GenericClient,
    tenant: TenantId,
    actor: &Actor,
    id: i64,
) -> Result<Delivery> {
    let tx = client.transaction().await?;
    let before = delivery(&tx, tenant, id).await?;
    tx.execute(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), delivered_at = NULL,
                attempts_base = attempts
          WHERE tenant_id = $1 AND id = $2",
        &[&tenant.0, &id],
    )
    .await?;
    audit::record(
        &tx,
        tenant,
        actor,
        Change {
            action: "webhook.redeliver",
            entity: "webhook_delivery",
            entity_id: id.to_string(),
            before: Some(serde_json::json!({ "status": before.status, "attempts": before.attempts })),
            after: None,
        },
    )
    .await?;
    let after = delivery(&tx, tenant, id).await?;
    tx.commit().await?;
    Ok(after)
}
