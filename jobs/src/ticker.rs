//! The schedule ticker: every few seconds it keeps the default schedules and enqueues
//! the schedules' due fire times. Several processes may tick at once; a fire time's
//! unique key lets one of them enqueue it.

use std::future::Future;
use std::time::Duration;

use dialpool_engine::Result;
use dialpool_engine::platform::schedule;

/// Ticks every `every` until `shutdown` resolves.
pub async fn run(pool: deadpool_postgres::Pool, every: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticks.tick() => {}
            () = &mut shutdown => return,
        }
        match tick(&pool).await {
            Ok(0) => {}
            Ok(enqueued) => tracing::info!(enqueued, "scheduled jobs enqueued"),
            Err(error) => tracing::warn!(%error, "ticking the schedules"),
        }
    }
}

/// One tick: returns the jobs this process enqueued.
pub async fn tick(pool: &deadpool_postgres::Pool) -> Result<u32> {
    let client = pool.get().await?;
    schedule::ensure_defaults(&**client).await?;
    schedule::enqueue_due(&**client, chrono::Utc::now()).await
}
