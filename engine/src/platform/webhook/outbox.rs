//! The outbox's sending side, as storage: claiming the deliveries that are due and
//! recording each try. The HTTP client that sends them is `dialpool_jobs::webhooks`, so
//! the engine makes no outbound requests.

use std::time::Duration;

use tokio_postgres::GenericClient;

use crate::platform::error::Result;

/// A delivery claimed for one try. No `Debug`: it holds the subscriber's secret.
pub struct DueDelivery {
    pub tenant_id: i64,
    pub id: i64,
    pub event_id: String,
    pub event: String,
    pub body: String,
    /// The try's number over the delivery's life (the log's key).
    pub attempt: i32,
    /// Its number since the delivery was last sent again by hand (what back-off and
    /// giving up count).
    pub try_in_round: i32,
    pub url: String,
    pub secret: String,
}

/// Claims up to `batch` due deliveries with `FOR UPDATE SKIP LOCKED`, pushing their next
/// try `lease_s` seconds ahead first, so two senders never try one delivery at once and
/// a sender that dies leaves its claims to come back.
pub async fn claim_due(client: &impl GenericClient, batch: i64, lease_s: f64) -> Result<Vec<DueDelivery>> {
    Ok(client
        .query(include_str!("outbox.claim_due.sql"), &[&batch, &lease_s])
        .await?
        .iter()
        .map(|r| DueDelivery {
            tenant_id: r.get(0),
            id: r.get(1),
            event_id: r.get(2),
            event: r.get(3),
            body: r.get(4),
            attempt: r.get(5),
            try_in_round: r.get(6),
            url: r.get(7),
            secret: r.get(8),
        })
        .collect())
}

/// What one try came to.
pub struct Try<'a> {
    /// The receiver's HTTP status, when it answered.
    pub status: Option<i32>,
    /// Why it failed; None is success.
    pub error: Option<&'a str>,
    pub duration_ms: i32,
    /// How long before the next try, when this one failed.
    pub wait: Duration,
    /// Tries in a round before the delivery is given up (`dead`).
    pub max_attempts: i32,
}

/// Logs the try and settles the delivery: succeeded, dead, or pending until `wait` ends.
pub async fn record_try(
    client: &mut tokio_postgres::Client,
    delivery: &DueDelivery,
    done: &Try<'_>,
) -> Result<()> {
    let tx = client.transaction().await?;
    tx.execute(
        "INSERT INTO webhook_attempts (tenant_id, delivery_id, attempt, status, error, duration_ms)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
        &[&delivery.tenant_id, &delivery.id, &delivery.attempt, &done.status, &done.error, &done.duration_ms],
    )
    .await?;
    tx.execute(
        "UPDATE webhook_deliveries
            SET last_attempt_at = now(), last_status = $3, last_error = $4,
                status = CASE WHEN $4::text IS NULL THEN 'succeeded'
                              WHEN attempts - attempts_base >= $5 THEN 'dead' ELSE 'pending' END::webhook_delivery_status,
                delivered_at = CASE WHEN $4::text IS NULL THEN now() END,
                next_attempt_at = now() + make_interval(secs => $6)
          WHERE tenant_id = $1 AND id = $2",
        &[&delivery.tenant_id, &delivery.id, &done.status, &done.error, &done.max_attempts, &done.wait.as_secs_f64()],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
