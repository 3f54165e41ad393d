use std::path::{Path, PathBuf};

use dialpool_engine::TenantId;
use dialpool_engine::intake::import::mapping::ColumnMapping;
use dialpool_engine::intake::import::source::SourceOptions;
use dialpool_engine::intake::import::{self, ImportProgress, ImportRequest, ImportSummary, OnDuplicate};
use dialpool_engine::intake::phone::Region;
use dialpool_engine::intake::provider::{self, NewProvider};
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::platform::tenant;
use dialpool_engine::testkit::TestDb;

/// The five numbers every good fixture holds, whatever its format.
pub const FIXTURE_NUMBERS: [i64; 5] = [79161234567, 79031112233, 74951234567, 77012345678, 442079460958];

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/import").join(name)
}

pub struct Setup {
    pub db: TestDb,
    pub tenant: TenantId,
    pub dir: tempdir::Dir,
}

/// A fresh database with provider `acme` (default region RU).
pub async fn setup() -> Setup {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let tenant = tenant::find_by_slug(&**client, "default").await.unwrap();
    provider::add(
        &mut **client,
        tenant,
        &Actor::system("test"),
        NewProvider {
            code: "acme".into(),
            name: "Acme Leads".into(),
            default_region: Some(Region::parse("RU").unwrap()),
            column_mapping: ColumnMapping::default(),
            reentry: None,
        },
    )
    .await
    .unwrap();
    Setup { db, tenant, dir: tempdir::Dir::new() }
}

/// The tests' installation key (fixed, so every test process hashes alike).
pub fn secret_key() -> dialpool_engine::platform::secret::SecretKey {
    dialpool_engine::platform::secret::SecretKey::from_base64("AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=")
        .unwrap()
}

impl Setup {
    pub fn request(&self, path: &Path) -> ImportRequest {
        ImportRequest {
            tenant: self.tenant,
            provider_code: "acme".into(),
            path: path.to_owned(),
            display_name: None,
            source: SourceOptions::default(),
            region: None,
            mapping: ColumnMapping::default(),
            on_duplicate: OnDuplicate::Skip,
            rejects_path: Some(
                self.dir.path().join(format!("{}.rejects.csv", path.file_name().unwrap().to_string_lossy())),
            ),
            actor: Actor::system("test"),
            batch_rows: None,
            secret: Some(secret_key()),
            reentry: None,
        }
    }

    pub async fn import(&self, request: ImportRequest) -> dialpool_engine::Result<ImportSummary> {
        import::import_file(&self.db.pool, request, ImportProgress::default()).await
    }

    pub async fn import_fixture(&self, name: &str) -> ImportSummary {
        self.import(self.request(&fixture(name))).await.unwrap_or_else(|e| panic!("importing {name}: {e}"))
    }

    pub async fn phones(&self) -> Vec<i64> {
        let client = self.db.client().await;
        client
            .query("SELECT phone FROM phone_numbers WHERE tenant_id = $1 ORDER BY phone", &[&self.tenant.0])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.db.client().await.query_one(sql, &[]).await.unwrap().get(0)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

pub fn sorted(mut phones: Vec<i64>) -> Vec<i64> {
    phones.sort_unstable();
    phones
}

/// A temporary directory removed when dropped.
pub mod tempdir {
    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU32, Ordering};

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Dir {
            static COUNTER: AtomicU32 = AtomicU32::new(0);
            let path = std::env::temp_dir().join(format!(
                "dialpool-test-{}-{}",
                std::process::id(),
                COUNTER.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
