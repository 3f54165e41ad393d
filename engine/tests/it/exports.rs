//! CSV exports against a real PostgreSQL: formula cells escaped, Windows-1251, filters and
//! limits, numbers marked and never moved, the tenant's daily limit.

use dialpool_engine::Error;
use dialpool_engine::audit::Actor;
use dialpool_engine::export::{self, CsvOptions, Encoding, ExportFilter, ExportRequest};
use dialpool_engine::tenant::{self, TenantId};
use dialpool_engine::testkit::TestDb;

struct Shop {
    db: TestDb,
    tenant: TenantId,
    project: i64,
    dir: std::path::PathBuf,
}

async fn shop() -> Shop {
    let db = TestDb::new().await;
    let client = db.client().await;
    let tenant = tenant::find_by_slug(&**client, "default").await.unwrap();
    let provider: i64 = client
        .query_one(
            "INSERT INTO providers (tenant_id, code, name) VALUES ($1, 'p', 'P') RETURNING id",
            &[&tenant.0],
        )
        .await
        .unwrap()
        .get(0);
    let project: i64 = client
        .query_one(
            "INSERT INTO projects (tenant_id, name, time_zone, daily_quota) VALUES ($1, 'Out', 'UTC', 100) RETURNING id",
            &[&tenant.0],
        )
        .await
        .unwrap()
        .get(0);
    // Names a spreadsheet would run, a Cyrillic one, and one number in the pool.
    client
        .execute(
            "INSERT INTO phone_numbers (tenant_id, phone, provider_id, project_id, allocated_at, import_id, last_import_id,
                                        attributes, attempts)
             VALUES ($1, 79160000001, $2, $3, now(), 0, 0, '{\"name\": \"=HYPERLINK(\\\"http://x\\\")\"}', 0),
                    ($1, 79160000002, $2, $3, now(), 0, 0, '{\"name\": \"Анна Петрова\"}', 2),
                    ($1, 79160000003, $2, $3, now(), 0, 0, '{\"name\": \"@SUM(A1)\", \"note\": \"-1+1\"}', 0),
                    ($1, 79160000004, $2, NULL, NULL, 0, 0, '{\"name\": \"pool\"}', 0)",
            &[&tenant.0, &provider, &project],
        )
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(format!("dialpool-export-{}", db.name));
    std::fs::create_dir_all(&dir).unwrap();
    Shop { db, tenant, project, dir }
}

impl Shop {
    fn request(&self, file: &str, filter: ExportFilter, csv: CsvOptions) -> ExportRequest {
        ExportRequest {
            tenant: self.tenant,
            project_id: self.project,
            filter,
            csv,
            out: self.dir.join(file),
            actor: Actor::system("test"),
        }
    }

    async fn scalar(&self, sql: &str) -> i64 {
        self.db.client().await.query_one(sql, &[]).await.unwrap().get(0)
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[tokio::test]
async fn a_csv_export_escapes_formulas_marks_numbers_and_keeps_them_in_the_project() {
    let shop = shop().await;
    let summary = export::export_csv(
        &shop.db.pool,
        shop.request("out.csv", ExportFilter::default(), CsvOptions::default()),
    )
    .await
    .unwrap();
    assert_eq!(summary.rows, 3, "the pool's number is not the project's");
    let text = std::fs::read_to_string(shop.dir.join("out.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(
        headers,
        ["phone", "provider", "geo", "status", "attempts", "allocated_at", "name", "attributes"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(&rows[0][0], "79160000001");
    assert_eq!(&rows[0][6], "'=HYPERLINK(\"http://x\")", "a formula is escaped");
    assert_eq!(&rows[1][6], "Анна Петрова");
    assert_eq!(&rows[2][6], "'@SUM(A1)");
    assert_eq!(summary.bytes as usize, text.len());

    assert_eq!(shop.scalar("SELECT count(*) FROM phone_numbers WHERE exported_at IS NOT NULL").await, 3);
    assert_eq!(shop.scalar("SELECT count(*) FROM number_events WHERE kind = 'exported'").await, 3);
    assert_eq!(
        shop.scalar(&format!("SELECT count(*) FROM phone_numbers WHERE project_id = {}", shop.project)).await,
        3,
        "exporting never moves a number"
    );
    assert_eq!(shop.scalar("SELECT count(*) FROM exports WHERE status = 'succeeded' AND rows = 3").await, 1);

    // Never-exported only: nothing left; a filter and a limit narrow a fresh export.
    let again = ExportFilter { never_exported: true, ..ExportFilter::default() };
    let none = export::export_csv(&shop.db.pool, shop.request("again.csv", again, CsvOptions::default()))
        .await
        .unwrap();
    assert_eq!(none.rows, 0);
    let tried = ExportFilter { attempts_min: Some(1), limit: Some(5), ..ExportFilter::default() };
    let semicolons = CsvOptions { delimiter: ';', encoding: Encoding::Windows1251 };
    let one = export::export_csv(&shop.db.pool, shop.request("1251.csv", tried, semicolons)).await.unwrap();
    assert_eq!(one.rows, 1);
    let bytes = std::fs::read(shop.dir.join("1251.csv")).unwrap();
    let (decoded, _, bad) = encoding_rs::WINDOWS_1251.decode(&bytes);
    assert!(!bad && decoded.contains("79160000002;") && decoded.contains("Анна Петрова"), "{decoded}");
}

#[tokio::test]
async fn the_daily_limit_refuses_an_export_whole_and_bad_options_are_named() {
    let shop = shop().await;
    shop.db.client().await.execute("UPDATE tenants SET max_export_rows_per_day = 2", &[]).await.unwrap();
    let error = export::export_csv(
        &shop.db.pool,
        shop.request("big.csv", ExportFilter::default(), CsvOptions::default()),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::LimitReached(_)), "{error}");
    assert!(!shop.dir.join("big.csv").exists() && !shop.dir.join("big.partial").exists(), "no file is left");
    assert_eq!(shop.scalar("SELECT count(*) FROM phone_numbers WHERE exported_at IS NOT NULL").await, 0);
    let two = ExportFilter { limit: Some(2), ..ExportFilter::default() };
    assert_eq!(
        export::export_csv(&shop.db.pool, shop.request("two.csv", two.clone(), CsvOptions::default()))
            .await
            .unwrap()
            .rows,
        2
    );
    let error = export::export_csv(&shop.db.pool, shop.request("more.csv", two, CsvOptions::default()))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("2 are exported today"), "{error}");

    let colon = CsvOptions { delimiter: ':', encoding: Encoding::Utf8 };
    let error = export::export_csv(&shop.db.pool, shop.request("x.csv", ExportFilter::default(), colon))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidArgument { field: "delimiter", .. }), "{error}");
    assert!(matches!(Encoding::parse("latin1"), Err(Error::InvalidArgument { field: "encoding", .. })));
}
