//! The durable job queue in PostgreSQL and cron schedules (issue 7). The `jobs` table and
//! `dialpool_ensure_monthly_partitions()` it will call already exist in the schema.
