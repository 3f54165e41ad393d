//! Dialpool's background work, between the `dialpool` binary and the engine: the workers
//! that claim jobs from the durable queue (`dialpool_engine::platform::job`) and run them,
//! renewing their lock and reporting progress ([`handlers`] dispatches each kind's typed
//! arguments to the engine); the ticker that turns cron schedules into jobs; and the
//! webhook sender, the one outbound HTTP client. `dialpool serve` runs all three under one
//! cancellation token; `dialpool jobs work` runs a worker alone. It depends on the engine
//! and on `dialpool-sftp` (for transfers with remote hosts), and calls engine functions
//! only, never the tables.

pub mod handlers;
pub mod ticker;
pub mod webhooks;
pub mod worker;

pub use worker::{Worker, WorkerConfig};
