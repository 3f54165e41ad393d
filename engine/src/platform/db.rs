//! Connecting to PostgreSQL: the pool, creating the database when it is missing, and the
//! migrations under `migrations/`.

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use sha2::{Digest, Sha256};
use tokio_postgres::GenericClient;
use tokio_postgres::NoTls;

use crate::platform::error::{Error, Result};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/dialpool";

/// The migrations, in order. A test checks that every file in `migrations/` is listed.
pub const MIGRATIONS: &[Migration] = &[
    Migration::new(1, "core", include_str!("../../../migrations/0001_core.sql")),
    Migration::new(2, "countries", include_str!("../../../migrations/0002_countries.sql")),
    Migration::new(3, "default_tenant", include_str!("../../../migrations/0003_default_tenant.sql")),
    Migration::new(4, "access", include_str!("../../../migrations/0004_access.sql")),
    Migration::new(5, "allocation", include_str!("../../../migrations/0005_allocation.sql")),
    Migration::new(6, "calls", include_str!("../../../migrations/0006_calls.sql")),
    Migration::new(7, "webhooks", include_str!("../../../migrations/0007_webhooks.sql")),
    Migration::new(
        8,
        "calling_rules_version",
        include_str!("../../../migrations/0008_calling_rules_version.sql"),
    ),
    Migration::new(9, "exports", include_str!("../../../migrations/0009_exports.sql")),
    Migration::new(10, "calls_are_events", include_str!("../../../migrations/0010_calls_are_events.sql")),
    Migration::new(11, "export_files", include_str!("../../../migrations/0011_export_files.sql")),
    Migration::new(12, "conversion", include_str!("../../../migrations/0012_conversion.sql")),
    Migration::new(13, "conversion_hours", include_str!("../../../migrations/0013_conversion_hours.sql")),
    Migration::new(14, "jobs", include_str!("../../../migrations/0014_jobs.sql")),
    Migration::new(15, "sftp", include_str!("../../../migrations/0015_sftp.sql")),
    Migration::new(16, "sftp_remotes", include_str!("../../../migrations/0016_sftp_remotes.sql")),
    Migration::new(17, "trust", include_str!("../../../migrations/0017_trust.sql")),
    Migration::new(18, "bulk_undo", include_str!("../../../migrations/0018_bulk_undo.sql")),
    Migration::new(19, "erasure", include_str!("../../../migrations/0019_erasure.sql")),
    Migration::new(20, "reentry", include_str!("../../../migrations/0020_reentry.sql")),
    Migration::new(21, "retention", include_str!("../../../migrations/0021_retention.sql")),
    Migration::new(22, "dnc_lists", include_str!("../../../migrations/0022_dnc_lists.sql")),
    Migration::new(23, "dnc_lists_in_gate", include_str!("../../../migrations/0023_dnc_lists_in_gate.sql")),
    Migration::new(24, "learning", include_str!("../../../migrations/0024_learning.sql")),
    Migration::new(25, "provider_economics", include_str!("../../../migrations/0025_provider_economics.sql")),
    Migration::new(26, "number_groups", include_str!("../../../migrations/0026_number_groups.sql")),
    Migration::new(27, "scorecard_detail", include_str!("../../../migrations/0027_scorecard_detail.sql")),
    Migration::new(28, "conversion_deltas", include_str!("../../../migrations/0028_conversion_deltas.sql")),
];

#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

impl Migration {
    const fn new(version: i32, name: &'static str, sql: &'static str) -> Self {
        Migration { version, name, sql }
    }

    fn checksum(&self) -> Vec<u8> {
        Sha256::digest(self.sql.as_bytes()).to_vec()
    }
}

/// Parses a `postgres://` URL or a key=value connection string.
pub fn parse_url(url: &str) -> Result<tokio_postgres::Config> {
    tokio_postgres::Config::from_str(url)
        .map_err(|e| Error::invalid("DATABASE_URL", format!("cannot parse it: {e}")))
}

/// A pool sized for this process; connections are checked before reuse so a restarted
/// server does not hand out dead connections.
pub fn pool(mut config: tokio_postgres::Config, max_size: usize) -> Result<Pool> {
    // A statement whose client is gone (a killed CLI, a dropped server) stops within
    // seconds instead of running to its end: PostgreSQL checks the socket while it works.
    let options = format!("{} -c client_connection_check_interval=2000", config.get_options().unwrap_or(""));
    config.options(options.trim());
    let manager =
        Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
    Pool::builder(manager).max_size(max_size).build().map_err(|e| Error::Pool(e.to_string()))
}

/// Creates the database named in `config` when it does not exist yet, connecting to the
/// server's `postgres` database to do so. Returns whether it created it.
pub async fn ensure_database(config: &tokio_postgres::Config) -> Result<bool> {
    let name = config
        .get_dbname()
        .map(str::to_owned)
        .or_else(|| config.get_user().map(str::to_owned))
        .ok_or_else(|| Error::invalid("DATABASE_URL", "names no database"))?;
    let mut admin = config.clone();
    admin.dbname("postgres");
    let (client, connection) = admin.connect(NoTls).await?;
    let connection = tokio::spawn(connection);
    let exists = client.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name]).await?.is_some();
    if !exists {
        // CREATE DATABASE takes no parameters; the name is quoted as an identifier.
        let created = client.batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name))).await;
        if let Err(e) = created {
            // Another process may have created it between our check and our CREATE.
            if !crate::platform::error::is_duplicate_database(&e) {
                return Err(e.into());
            }
        }
    }
    drop(client);
    let _ = connection.await;
    Ok(!exists)
}

/// Double-quotes an SQL identifier, for the few statements that cannot take parameters.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct MigrationReport {
    pub applied: Vec<String>,
    pub already_applied: usize,
}

/// Applies the migrations not applied yet and records them in `schema_migrations` with a
/// checksum, all in one transaction: a failing migration leaves the schema as it was. An
/// advisory lock keeps two processes from migrating at once; an applied migration whose
/// file changed is an error.
pub async fn migrate_schema(client: &mut tokio_postgres::Client) -> Result<MigrationReport> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                 version    integer PRIMARY KEY,
                 name       text NOT NULL,
                 checksum   bytea NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             )",
        )
        .await?;
    let tx = client.transaction().await?;
    // Held until the end of this transaction, which spans every migration below.
    tx.execute("SELECT pg_advisory_xact_lock(hashtext('dialpool.migrate'))", &[]).await?;
    let applied: Vec<(i32, Vec<u8>)> = tx
        .query("SELECT version, checksum FROM schema_migrations", &[])
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let mut report = MigrationReport { applied: Vec::new(), already_applied: 0 };
    for migration in MIGRATIONS {
        match applied.iter().find(|(version, _)| *version == migration.version) {
            Some((_, checksum)) if *checksum == migration.checksum() => {
                report.already_applied += 1;
            }
            Some(_) => {
                return Err(Error::MigrationChanged {
                    version: migration.version,
                    name: migration.name.to_owned(),
                });
            }
            None => {
                let label = format!("{:04}_{}", migration.version, migration.name);
                tx.batch_execute(migration.sql).await?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    &[&migration.version, &migration.name, &migration.checksum()],
                )
                .await?;
                tracing::info!(migration = %label, "applied migration");
                report.applied.push(label);
            }
        }
    }
    tx.commit().await?;
    Ok(report)
}

/// Whether every migration this binary knows has been applied.
pub async fn migrations_current(client: &tokio_postgres::Client) -> Result<bool> {
    let row = client
        .query_opt(
            "SELECT count(*) FROM schema_migrations WHERE version = ANY($1)",
            &[&MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>()],
        )
        .await;
    match row {
        Ok(Some(row)) => Ok(row.get::<_, i64>(0) as usize == MIGRATIONS.len()),
        Ok(None) => Ok(false),
        Err(e) if crate::platform::error::is_undefined_table(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// After a bulk write of about `changed` rows to `phone_numbers`: analyzes it (the parent
/// and every partition) when that is a tenth of what the planner thinks it holds, or the
/// planner has never looked at it. Autovacuum never analyzes a partitioned parent and
/// reaches the partitions only later, so the next step (an allocation right after an
/// import) would otherwise be planned for an empty table. Returns whether it analyzed.
pub async fn refresh_number_statistics(client: &impl GenericClient, changed: u64) -> Result<bool> {
    const AT_LEAST: u64 = 1_000;
    if changed < AT_LEAST {
        return Ok(false);
    }
    let row = client
        .query_one(
            "SELECT COALESCE(sum(greatest(c.reltuples, 0)), 0)::float8, COALESCE(bool_or(c.reltuples < 0), true)
               FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
              WHERE i.inhparent = 'phone_numbers'::regclass",
            &[],
        )
        .await?;
    let (known, never): (f64, bool) = (row.get(0), row.get(1));
    if !never && (changed as f64) * 10.0 < known {
        return Ok(false);
    }
    let started = std::time::Instant::now();
    client.batch_execute("ANALYZE phone_numbers").await?;
    tracing::info!(changed, known, seconds = started.elapsed().as_secs_f64(), "analyzed phone_numbers");
    Ok(true)
}

/// Before a heavy statement over `phone_numbers`: analyzes it if a tenth or more of it
/// changed since it was last analyzed (numbers loaded some other way, or a bulk write
/// whose own analysis did not run), so the statement is not planned on stale figures.
pub async fn analyze_numbers_if_stale(client: &impl GenericClient) -> Result<bool> {
    let changed: i64 = client
        .query_one(
            "SELECT COALESCE(sum(s.n_mod_since_analyze), 0)::int8
               FROM pg_inherits i JOIN pg_stat_user_tables s ON s.relid = i.inhrelid
              WHERE i.inhparent = 'phone_numbers'::regclass",
            &[],
        )
        .await?
        .get(0);
    refresh_number_statistics(client, changed.max(0) as u64).await
}
