//! Test databases: each test gets its own, cloned in milliseconds from a template that
//! is migrated once per migration set. Only for tests (feature `testkit`).

use std::sync::atomic::{AtomicU32, Ordering};

use deadpool_postgres::Pool;
use sha2::{Digest, Sha256};
use tokio_postgres::NoTls;

use crate::platform::db::{self, MIGRATIONS, quote_ident};

/// The server tests run against: `DIALPOOL_TEST_DATABASE_URL`, else `DATABASE_URL`, else
/// the local default. Its database part is ignored.
pub fn server_config() -> tokio_postgres::Config {
    let url = std::env::var("DIALPOOL_TEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .unwrap_or_else(|_| db::DEFAULT_DATABASE_URL.to_owned());
    let mut config = db::parse_url(&url).expect("a valid test database URL");
    config.dbname("postgres");
    config
}

pub struct TestDb {
    pub name: String,
    pub config: tokio_postgres::Config,
    pub pool: Pool,
}

impl TestDb {
    pub async fn new() -> TestDb {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let admin_config = server_config();
        let (admin, connection) =
            admin_config.connect(NoTls).await.expect("connect to the test PostgreSQL server");
        tokio::spawn(connection);
        let template = ensure_template(&admin, &admin_config).await;
        let name = format!(
            "dialpool_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos()
        );
        let create = format!("CREATE DATABASE {} TEMPLATE {}", quote_ident(&name), quote_ident(&template));
        // Cloning fails while another session is connected to the template; those
        // moments are short, so try again.
        let mut attempts = 0;
        loop {
            match admin.batch_execute(&create).await {
                Ok(()) => break,
                Err(e) if attempts < 100 => {
                    attempts += 1;
                    tracing::debug!(error = %e, "retrying test database creation");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot create test database {name}: {e}"),
            }
        }
        let mut config = admin_config.clone();
        config.dbname(&name);
        let pool = db::pool(config.clone(), 8).expect("a pool");
        TestDb { name, config, pool }
    }

    pub fn url(&self) -> String {
        let host = match self.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let user = self.config.get_user().unwrap_or("postgres");
        format!("postgres://{user}@{host}:{port}/{}", self.name)
    }

    pub async fn client(&self) -> deadpool_postgres::Object {
        self.pool.get().await.expect("a connection to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.pool.close();
        let name = self.name.clone();
        // Drop runs outside async context; a small runtime of its own does the drop.
        let dropper = std::thread::spawn(move || {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
            runtime.block_on(async move {
                if let Ok((admin, connection)) = server_config().connect(NoTls).await {
                    tokio::spawn(connection);
                    let _ = admin
                        .batch_execute(&format!(
                            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                            quote_ident(&name)
                        ))
                        .await;
                }
            });
        });
        let _ = dropper.join();
    }
}

/// The migrated template for this set of migrations, built once by whichever test
/// process gets there first.
async fn ensure_template(admin: &tokio_postgres::Client, admin_config: &tokio_postgres::Config) -> String {
    let mut hasher = Sha256::new();
    for migration in MIGRATIONS {
        hasher.update(migration.sql.as_bytes());
    }
    let digest = hasher.finalize();
    let template = format!(
        "dialpool_template_{}",
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect::<String>()
    );
    if template_exists(admin, &template).await {
        return template;
    }
    admin
        .execute("SELECT pg_advisory_lock(hashtext('dialpool.test_template'))", &[])
        .await
        .expect("advisory lock");
    if !template_exists(admin, &template).await {
        let building = format!("{template}_building");
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(&building)))
            .await
            .expect("drop stale template");
        admin
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&building)))
            .await
            .expect("create template");
        let mut config = admin_config.clone();
        config.dbname(&building);
        let (mut client, connection) = config.connect(NoTls).await.expect("connect to template");
        let connection = tokio::spawn(connection);
        crate::migrate(&mut client).await.expect("migrate the template");
        drop(client);
        let _ = connection.await;
        // Renamed only when complete, so no test ever clones a half-migrated template.
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {} RENAME TO {}",
                quote_ident(&building),
                quote_ident(&template)
            ))
            .await
            .expect("publish template");
    }
    admin
        .execute("SELECT pg_advisory_unlock(hashtext('dialpool.test_template'))", &[])
        .await
        .expect("advisory unlock");
    template
}

async fn template_exists(admin: &tokio_postgres::Client, template: &str) -> bool {
    admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
        .await
        .expect("query pg_database")
        .is_some()
}
