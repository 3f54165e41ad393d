//! Connecting to the database: a pool sized for a command or a server, migrated or
//! checked first, and the tenant a command acts for.

use dialpool_engine::TenantId;
use dialpool_engine::platform::db;
use dialpool_engine::platform::tenant;

/// A pool on a database whose schema is current. `migrate` creates and migrates it
/// (serve, demo); otherwise a missing schema is an error that says what to run.
pub(crate) async fn ready_pool(
    config: &tokio_postgres::Config,
    migrate: bool,
) -> anyhow::Result<deadpool_postgres::Pool> {
    sized_pool(config, migrate, 4).await
}

pub(crate) async fn sized_pool(
    config: &tokio_postgres::Config,
    migrate: bool,
    pool_size: usize,
) -> anyhow::Result<deadpool_postgres::Pool> {
    db::ensure_database(config).await?;
    let pool = db::pool(config.clone(), pool_size)?;
    let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    if migrate {
        dialpool_engine::migrate(&mut client).await?;
    } else if !db::migrations_current(&client).await? {
        return Err(dialpool_engine::Error::invalid(
            "database",
            "its schema is missing or out of date: run `dialpool migrate`",
        )
        .into());
    }
    Ok(pool)
}

pub(crate) async fn find_tenant(pool: &deadpool_postgres::Pool, slug: &str) -> anyhow::Result<TenantId> {
    let client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    Ok(tenant::find_by_slug(&**client, slug).await?)
}
