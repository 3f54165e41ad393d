//! The consumers of the durable job queue (`dialpool_engine::platform::job`): workers that claim
//! jobs and run them, renewing their lock and reporting progress, and the ticker that
//! turns cron schedules into jobs. `dialpool serve` runs both; `dialpool jobs work` runs
//! a worker alone.

pub mod handlers;
pub mod ticker;
pub mod webhooks;
pub mod worker;

pub use worker::{Worker, WorkerConfig};
