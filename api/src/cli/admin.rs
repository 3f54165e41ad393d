//! `dialpool migrate` and `dialpool demo`.

use dialpool_engine::platform::db;

use super::common::{JsonFlag, print};
use crate::connect::{find_tenant, ready_pool};
use crate::demo::load_demo;

pub(super) async fn migrate(
    config: &tokio_postgres::Config,
    _tenant: &str,
    flag: JsonFlag,
) -> anyhow::Result<()> {
    let created = db::ensure_database(config).await?;
    let (mut client, connection) =
        config.connect(tokio_postgres::NoTls).await.map_err(dialpool_engine::Error::from)?;
    let connection = tokio::spawn(connection);
    let report = dialpool_engine::migrate(&mut client).await?;
    drop(client);
    let _ = connection.await;
    print(
        flag.json,
        &serde_json::json!({ "database_created": created, "applied": report.applied, "already_applied": report.already_applied }),
        || {
            if report.applied.is_empty() {
                format!("database is up to date ({} migrations applied before)", report.already_applied)
            } else {
                format!("applied {} migration(s): {}", report.applied.len(), report.applied.join(", "))
            }
        },
    )
}

pub(super) async fn demo(
    config: &tokio_postgres::Config,
    tenant: &str,
    flag: JsonFlag,
) -> anyhow::Result<()> {
    let pool = ready_pool(config, true).await?;
    let tenant = find_tenant(&pool, tenant).await?;
    let summaries = load_demo(&pool, tenant).await?;
    print(flag.json, &summaries, || {
        let lines: Vec<String> = summaries
            .iter()
            .map(|s| {
                format!(
                    "  {:<8} {:>5} new, {:>5} already stored",
                    s.provider,
                    s.counts.inserted,
                    s.counts.total - s.counts.inserted
                )
            })
            .collect();
        format!("demo data loaded:\n{}", lines.join("\n"))
    })
}
