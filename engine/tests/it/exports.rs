//! Exports against a real PostgreSQL: formula cells escaped in CSV and XLSX, Windows-1251,
//! VICIdial's layout, Parquet, filters and limits, the export's numbers recorded and never moved,
//! an optional status move, the tenant's daily limit, and a round trip into a fresh
//! database.

use calamine::{Data, Reader, Xlsx};
use dialpool_engine::Error;
use dialpool_engine::TenantId;
use dialpool_engine::delivery::export::{
    self, CsvOptions, Encoding, ExportFilter, ExportFormat, ExportOptions, ExportRequest,
};
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::platform::tenant;
use dialpool_engine::testkit::TestDb;

use crate::support;

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
    fn request(&self, file: &str, filter: ExportFilter, options: ExportOptions) -> ExportRequest {
        ExportRequest {
            tenant: self.tenant,
            project_id: self.project,
            filter,
            options,
            out: self.dir.join(file),
            stored_path: None,
            expires_at: None,
            actor: Actor::system("test"),
        }
    }

    async fn export(
        &self,
        file: &str,
        filter: ExportFilter,
        options: ExportOptions,
    ) -> export::ExportSummary {
        export::export(&self.db.pool, self.request(file, filter, options)).await.unwrap()
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

fn csv(delimiter: char, encoding: Encoding) -> ExportOptions {
    ExportOptions { csv: CsvOptions { delimiter, encoding }, ..ExportOptions::default() }
}

#[tokio::test]
async fn a_csv_export_escapes_formulas_records_its_numbers_and_keeps_them_in_the_project() {
    let shop = shop().await;
    let summary = shop.export("out.csv", ExportFilter::default(), ExportOptions::default()).await;
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

    assert_eq!(shop.scalar("SELECT sum(cardinality(phones))::bigint FROM export_batches").await, 3);
    assert_eq!(
        shop.scalar(&format!("SELECT count(*) FROM phone_numbers WHERE project_id = {}", shop.project)).await,
        3,
        "exporting never moves a number"
    );
    assert_eq!(
        shop.scalar("SELECT count(*) FROM phone_numbers WHERE status <> 0").await,
        0,
        "nor its status"
    );
    assert_eq!(
        shop.scalar(
            "SELECT count(*) FROM exports WHERE status = 'succeeded' AND rows = 3 AND rows_total = 3"
        )
        .await,
        1
    );
    let client = shop.db.client().await;
    let explained = dialpool_engine::insight::explain::explain(
        &**client,
        shop.tenant,
        &dialpool_engine::platform::access::Scope::All,
        "+79160000002",
        None,
        None,
    )
    .await
    .unwrap();
    let exported: Vec<_> = explained.history.iter().filter(|e| e.kind == "exported").collect();
    assert_eq!(exported.len(), 1, "{:?}", explained.history);
    assert_eq!(exported[0].data.as_ref().unwrap()["export_id"], summary.export_id);
    drop(client);

    // Never-exported only: nothing left; a filter and a limit narrow a fresh export.
    let again = ExportFilter { never_exported: true, ..ExportFilter::default() };
    assert_eq!(shop.export("again.csv", again.clone(), ExportOptions::default()).await.rows, 0);
    shop.db
        .client()
        .await
        .execute(
            "INSERT INTO phone_numbers (tenant_id, phone, provider_id, project_id, allocated_at, import_id, last_import_id)
             SELECT tenant_id, 79160000009, provider_id, project_id, now(), 0, 0 FROM phone_numbers WHERE phone = 79160000001",
            &[],
        )
        .await
        .unwrap();
    let fresh = shop.export("fresh.csv", again, ExportOptions::default()).await;
    assert_eq!(fresh.rows, 1, "only the number allocated since");
    let tried = ExportFilter { attempts_min: Some(1), limit: Some(5), ..ExportFilter::default() };
    let one = shop.export("1251.csv", tried, csv(';', Encoding::Windows1251)).await;
    assert_eq!(one.rows, 1);
    let bytes = std::fs::read(shop.dir.join("1251.csv")).unwrap();
    let (decoded, _, bad) = encoding_rs::WINDOWS_1251.decode(&bytes);
    assert!(!bad && decoded.contains("79160000002;") && decoded.contains("Анна Петрова"), "{decoded}");
}

#[tokio::test]
async fn an_xlsx_export_writes_text_cells_never_formulas() {
    let shop = shop().await;
    let options = ExportOptions { format: ExportFormat::Xlsx, ..ExportOptions::default() };
    let summary = shop.export("out.xlsx", ExportFilter::default(), options).await;
    assert_eq!(summary.rows, 3);
    let path = shop.dir.join("out.xlsx");
    assert_eq!(summary.bytes as u64, std::fs::metadata(&path).unwrap().len());
    let mut book: Xlsx<_> = calamine::open_workbook(&path).unwrap();
    assert_eq!(book.sheet_names(), ["Numbers"]);
    let cells = book.worksheet_range("Numbers").unwrap();
    let rows: Vec<&[Data]> = cells.rows().collect();
    assert_eq!(rows[0][0], Data::String("phone".into()));
    assert_eq!(rows[1][0], Data::String("79160000001".into()), "the phone is text");
    assert_eq!(rows[1][6], Data::String("'=HYPERLINK(\"http://x\")".into()));
    assert_eq!(rows[3][6], Data::String("'@SUM(A1)".into()));
    assert_eq!(rows[2][4], Data::Float(2.0), "attempts are a number");
    assert!(matches!(rows[1][5], Data::DateTime(_)), "allocated_at is a date: {:?}", rows[1][5]);
    let formulas = book.worksheet_formula("Numbers").unwrap();
    assert!(formulas.used_cells().all(|(_, _, f)| f.is_empty()), "no cell holds a formula");
}

#[tokio::test]
async fn a_parquet_export_holds_the_values_typed_and_unescaped() {
    use polars::prelude::*;
    let shop = shop().await;
    let options = ExportOptions { format: ExportFormat::Parquet, ..ExportOptions::default() };
    let summary = shop.export("out.parquet", ExportFilter::default(), options.clone()).await;
    assert_eq!(summary.rows, 3);
    let path = shop.dir.join("out.parquet");
    assert_eq!(summary.bytes as u64, std::fs::metadata(&path).unwrap().len());
    let frame = ParquetReader::new(std::fs::File::open(&path).unwrap()).finish().unwrap();
    assert_eq!(frame.height(), 3);
    let phones: Vec<i64> = frame.column("phone").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(phones, [79160000001, 79160000002, 79160000003]);
    let names: Vec<Option<&str>> = frame.column("name").unwrap().str().unwrap().iter().collect();
    assert_eq!(
        names,
        [Some("=HYPERLINK(\"http://x\")"), Some("Анна Петрова"), Some("@SUM(A1)")],
        "analysts get the values as the provider sent them"
    );
    let attempts: Vec<i16> = frame.column("attempts").unwrap().i16().unwrap().into_no_null_iter().collect();
    assert_eq!(attempts, [0, 2, 0]);
    assert_eq!(
        frame.column("allocated_at").unwrap().dtype(),
        &DataType::Datetime(TimeUnit::Microseconds, Some(TimeZone::UTC))
    );
    let stored_micros =
        shop.scalar("SELECT (extract(epoch FROM allocated_at) * 1000000)::bigint FROM phone_numbers WHERE phone = 79160000002").await;
    let written = frame.column("allocated_at").unwrap().datetime().unwrap().physical().get(1);
    assert_eq!(written, Some(stored_micros));
    assert!(frame.column("geo").unwrap().is_null().all(), "no geo was set");

    // Nothing left to export still makes a file a reader opens, with the columns.
    let again = ExportFilter { never_exported: true, ..ExportFilter::default() };
    assert_eq!(shop.export("empty.parquet", again, options).await.rows, 0);
    let empty =
        ParquetReader::new(std::fs::File::open(shop.dir.join("empty.parquet")).unwrap()).finish().unwrap();
    assert_eq!(empty.height(), 0);
    assert_eq!(empty.width(), 8);
}

#[tokio::test]
async fn a_vicidial_export_follows_the_standard_lead_layout() {
    let shop = shop().await;
    let options = ExportOptions {
        format: ExportFormat::Vicidial,
        vicidial_list_id: Some(1001),
        ..ExportOptions::default()
    };
    assert_eq!(shop.export("leads.txt", ExportFilter::default(), options).await.rows, 3);
    let text = std::fs::read_to_string(shop.dir.join("leads.txt")).unwrap();
    let lines: Vec<Vec<&str>> = text.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(lines.len(), 3, "no header: {text}");
    assert!(lines.iter().all(|l| l.len() == 25), "25 fields each");
    let anna = &lines[1];
    assert_eq!(
        (anna[0], anna[1], anna[2], anna[3], anna[4], anna[6], anna[8]),
        ("79160000002", "p", "1001", "7", "9160000002", "Анна", "Петрова")
    );
    assert_eq!(lines[0][6], "=HYPERLINK( http://x )", "the loader's quotes are blanked");
}

#[tokio::test]
async fn an_export_can_move_its_numbers_to_an_in_work_status() {
    let shop = shop().await;
    let in_work = shop.scalar("SELECT id::bigint FROM number_statuses WHERE code = 'in_work'").await as i16;
    let options = ExportOptions { set_status: Some(in_work), ..ExportOptions::default() };
    let summary = shop.export("work.csv", ExportFilter::default(), options).await;
    assert_eq!((summary.rows, summary.status_changed), (3, 3));
    assert_eq!(shop.scalar(&format!("SELECT count(*) FROM phone_numbers WHERE status = {in_work}")).await, 3);
    assert_eq!(
        shop.scalar(
            "SELECT count(*) FROM number_events WHERE kind = 'status_changed' AND data->>'source' = 'export'"
        )
        .await,
        3
    );
}

#[tokio::test]
async fn the_daily_limit_refuses_an_export_whole_and_bad_options_are_named() {
    let shop = shop().await;
    shop.db.client().await.execute("UPDATE tenants SET max_export_rows_per_day = 2", &[]).await.unwrap();
    let error = export::export(
        &shop.db.pool,
        shop.request("big.csv", ExportFilter::default(), ExportOptions::default()),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::LimitReached(_)), "{error}");
    assert!(!shop.dir.join("big.csv").exists() && !shop.dir.join("big.partial").exists(), "no file is left");
    assert_eq!(shop.scalar("SELECT count(*) FROM export_batches").await, 0);
    assert_eq!(
        shop.scalar(
            "SELECT count(*) FROM exports WHERE status = 'failed' AND error LIKE '%may export 2 rows a day%'"
        )
        .await,
        1,
        "the refusal is in the history"
    );
    let two = ExportFilter { limit: Some(2), ..ExportFilter::default() };
    assert_eq!(shop.export("two.csv", two.clone(), ExportOptions::default()).await.rows, 2);
    let error = export::export(&shop.db.pool, shop.request("more.csv", two, ExportOptions::default()))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("2 are exported today"), "{error}");

    let error = export::export(
        &shop.db.pool,
        shop.request("x.csv", ExportFilter::default(), csv(':', Encoding::Utf8)),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::InvalidArgument { field: "delimiter", .. }), "{error}");
    assert!(matches!(Encoding::parse("latin1"), Err(Error::InvalidArgument { field: "encoding", .. })));
    assert!(matches!(ExportFormat::parse("pdf"), Err(Error::InvalidArgument { field: "format", .. })));
    let list_on_csv = ExportOptions { vicidial_list_id: Some(1), ..ExportOptions::default() };
    let error = export::export(&shop.db.pool, shop.request("y.csv", ExportFilter::default(), list_on_csv))
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidArgument { field: "vicidial_list_id", .. }), "{error}");
}

#[tokio::test]
async fn an_exported_file_imports_into_a_fresh_database_as_the_same_numbers() {
    let shop = shop().await;
    shop.export("trip.csv", ExportFilter::default(), ExportOptions::default()).await;
    let exported: Vec<(i64, Option<String>)> = shop
        .db
        .client()
        .await
        .query(
            "SELECT phone, attributes->>'name' FROM phone_numbers WHERE project_id IS NOT NULL ORDER BY phone",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();

    let fresh = support::setup().await;
    let summary = fresh.import(fresh.request(&shop.dir.join("trip.csv"))).await.unwrap();
    assert_eq!((summary.counts.inserted, summary.counts.invalid), (3, 0), "{summary:?}");
    let imported: Vec<(i64, Option<String>)> = fresh
        .db
        .client()
        .await
        .query("SELECT phone, attributes->>'name' FROM phone_numbers ORDER BY phone", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        imported.iter().map(|i| i.0).collect::<Vec<_>>(),
        exported.iter().map(|e| e.0).collect::<Vec<_>>()
    );
    assert_eq!(imported[1].1.as_deref(), Some("Анна Петрова"));
}

#[tokio::test]
async fn a_value_holding_line_breaks_and_delimiters_stays_one_row() {
    let shop = shop().await;
    shop.db
        .client()
        .await
        .execute(
            "UPDATE phone_numbers SET attributes = '{\"name\": \"79160000777\\nsecond, line\"}' WHERE phone = 79160000002",
            &[],
        )
        .await
        .unwrap();
    let summary = shop.export("lines.csv", ExportFilter::default(), ExportOptions::default()).await;
    assert_eq!(summary.rows, 3);
    let text = std::fs::read_to_string(shop.dir.join("lines.csv")).unwrap();
    let rows: Vec<csv::StringRecord> =
        csv::Reader::from_reader(text.as_bytes()).records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(&rows[1][6], "79160000777\nsecond, line");
    let recorded: Vec<i64> =
        shop.db.client().await.query_one("SELECT phones FROM export_batches", &[]).await.unwrap().get(0);
    assert_eq!(recorded, [79160000001, 79160000002, 79160000003], "the name's digits are not a phone");
}

#[tokio::test]
async fn a_do_not_call_number_never_leaves_in_any_format_and_the_export_says_how_many_it_withheld() {
    let shop = shop().await;
    let client = shop.db.client().await;
    // Listed after it was allocated, as a complaint arrives; another given a DNC status.
    let mut writer = shop.db.client().await;
    let input = dialpool_engine::intake::dnc::DncInput {
        phone: "+79160000002".into(),
        region: None,
        reason: Some("asked on the phone".into()),
    };
    dialpool_engine::intake::dnc::add(&mut **writer, shop.tenant, &Actor::system("test"), &input)
        .await
        .unwrap();
    client
        .execute(
            "UPDATE phone_numbers SET status = (SELECT id FROM number_statuses WHERE tenant_id = $1 AND category = 'dnc' LIMIT 1)
              WHERE phone = 79160000003",
            &[&shop.tenant.0],
        )
        .await
        .unwrap();
    for (file, format) in [
        ("dnc.csv", ExportFormat::Csv),
        ("dnc.xlsx", ExportFormat::Xlsx),
        ("dnc.txt", ExportFormat::Vicidial),
        ("dnc.parquet", ExportFormat::Parquet),
    ] {
        let options = ExportOptions { format, ..ExportOptions::default() };
        let summary = shop.export(file, ExportFilter::default(), options).await;
        assert_eq!((summary.rows, summary.withheld_dnc), (1, 2), "{file}");
        let bytes = std::fs::read(shop.dir.join(file)).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        if matches!(format, ExportFormat::Csv | ExportFormat::Vicidial) {
            assert!(text.contains("79160000001"), "{file}: {text}");
            assert!(!text.contains("79160000002") && !text.contains("79160000003"), "{file}: {text}");
        }
    }
    let frame = {
        use polars::prelude::*;
        ParquetReader::new(std::fs::File::open(shop.dir.join("dnc.parquet")).unwrap()).finish().unwrap()
    };
    let phones: Vec<i64> = frame.column("phone").unwrap().i64().unwrap().into_no_null_iter().collect();
    assert_eq!(phones, [79160000001]);
    let mut book: Xlsx<_> = calamine::open_workbook(shop.dir.join("dnc.xlsx")).unwrap();
    let sheet = book.worksheet_range_at(0).unwrap().unwrap();
    let cells: Vec<String> = sheet.rows().skip(1).map(|r| r[0].to_string()).collect();
    assert_eq!(cells, ["79160000001"]);
    // The history says it too, and the withheld numbers are not recorded as exported.
    assert_eq!(shop.scalar("SELECT min(withheld_dnc) FROM exports").await, 2);
    assert_eq!(shop.scalar("SELECT count(*) FROM export_batches WHERE 79160000002 = ANY(phones)").await, 0);
}

#[tokio::test]
async fn a_vicidial_export_gives_back_the_lead_fields_a_vicidial_file_brought() {
    let shop = shop().await;
    shop.db
        .client()
        .await
        .execute(
            "UPDATE phone_numbers SET attributes = '{\"first_name\": \"Ann\", \"middle_initial\": \"Q\", \"last_name\": \"Lee\",
               \"state\": \"CA\", \"gender\": \"F\", \"province\": \"Bay\", \"date_of_birth\": \"1970-01-02\",
               \"alt_phone\": \"4155550100\", \"security_phrase\": \"blue\", \"address2\": \"Suite 5\"}'
              WHERE phone = 79160000001",
            &[],
        )
        .await
        .unwrap();
    let options = ExportOptions { format: ExportFormat::Vicidial, ..ExportOptions::default() };
    shop.export("leads.txt", ExportFilter::default(), options).await;
    let text = std::fs::read_to_string(shop.dir.join("leads.txt")).unwrap();
    let lead: Vec<&str> = text.lines().next().unwrap().split('\t').collect();
    assert_eq!(
        (lead[6], lead[7], lead[8], lead[10], lead[13], lead[14], lead[17], lead[18], lead[19], lead[21]),
        ("Ann", "Q", "Lee", "Suite 5", "CA", "Bay", "F", "1970-01-02", "4155550100", "blue")
    );
}
