//! The demo data `dialpool serve --demo` and `dialpool demo` load: three providers' files
//! and their geos, and the demo administrator.

use anyhow::Context;
use dialpool_engine::ErrorKind;
use dialpool_engine::TenantId;
use dialpool_engine::intake::import::mapping::ColumnMapping;
use dialpool_engine::intake::import::source::SourceOptions;
use dialpool_engine::intake::import::{self, ImportProgress, ImportRequest, OnDuplicate};
use dialpool_engine::intake::phone::Region;
use dialpool_engine::intake::provider::{self, NewProvider};
use dialpool_engine::platform::audit::Actor;

/// The demo's administrator; only `serve --demo` creates it, on a database with no users.
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo.dialpool.test";

pub const DEMO_ADMIN_PASSWORD: &str = "demo-password-1";

/// (provider code, name, default region, file name, contents)
const DEMO_FILES: [(&str, &str, &str, &str, &str); 3] = [
    ("demo", "Demo Leads", "RU", "demo-numbers.csv", include_str!("../../fixtures/demo/numbers.csv")),
    ("leadco", "LeadCo", "RU", "leadco.csv", include_str!("../../fixtures/demo/leadco.csv")),
    ("callpro", "CallPro", "KZ", "callpro.csv", include_str!("../../fixtures/demo/callpro.csv")),
];

/// Regional geos the demo files name (the countries are seeded with every tenant).
const DEMO_GEOS: [(&str, &str, &str, &str); 3] = [
    ("RU", "MOW", "Moscow", "Europe/Moscow"),
    ("RU", "SPE", "Saint Petersburg", "Europe/Moscow"),
    ("RU", "NVS", "Novosibirsk", "Asia/Novosibirsk"),
];

pub(crate) async fn load_demo(
    pool: &deadpool_postgres::Pool,
    tenant: TenantId,
) -> anyhow::Result<Vec<import::ImportSummary>> {
    let mut client = pool.get().await.map_err(dialpool_engine::Error::from)?;
    let actor = Actor::system("demo");
    let ignore_existing = |result: Result<(), dialpool_engine::Error>| match result {
        Err(e) if e.kind() != ErrorKind::Conflict => Err(e),
        _ => Ok(()),
    };
    for (country, region, name, zone) in DEMO_GEOS {
        let geo = dialpool_engine::intake::geo::NewGeo {
            country: country.into(),
            region: Some(region.into()),
            name: name.into(),
            time_zone: zone.into(),
        };
        ignore_existing(
            dialpool_engine::intake::geo::create(&mut **client, tenant, &actor, &geo).await.map(|_| ()),
        )?;
    }
    let dir = std::env::temp_dir().join(format!("dialpool-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).context("creating a temporary directory for the demo files")?;
    let mut summaries = Vec::new();
    for (code, name, region, file, contents) in DEMO_FILES {
        let new = NewProvider {
            code: code.into(),
            name: name.into(),
            default_region: Some(Region::parse(region)?),
            column_mapping: ColumnMapping::default(),
            reentry: None,
        };
        ignore_existing(provider::add(&mut **client, tenant, &actor, new).await.map(|_| ()))?;
        let path = dir.join(file);
        std::fs::write(&path, contents).context("writing a demo file")?;
        let request = ImportRequest {
            tenant,
            provider_code: code.into(),
            path: path.clone(),
            display_name: Some(file.into()),
            source: SourceOptions::default(),
            region: None,
            mapping: ColumnMapping::default(),
            on_duplicate: OnDuplicate::Update,
            rejects_path: Some(dir.join(format!("{file}.rejects.csv"))),
            actor: actor.clone(),
            batch_rows: None,
            // A fresh demo has erased nothing; on a database that has, the import is
            // refused rather than let an erased number back in.
            secret: None,
            reentry: None,
        };
        let summary = import::import_file(pool, request, ImportProgress::default()).await;
        match summary {
            Ok(summary) => summaries.push(summary),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e.into());
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(summaries)
}
