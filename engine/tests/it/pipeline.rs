use std::fmt::Write;

use dialpool_engine::ErrorKind;
use dialpool_engine::intake::dnc::{self, DncImportRequest};
use dialpool_engine::intake::import::mapping::ColumnMapping;
use dialpool_engine::intake::import::{ImportProgress, OnDuplicate};
use dialpool_engine::platform::audit::Actor;

/// Small batches, so that small files cross batch boundaries.
const BATCH_ROWS: usize = 2_000;

use crate::support::{fixture, setup};

#[tokio::test]
async fn duplicates_and_invalid_rows_are_counted_rejected_with_reasons_and_reconcile() {
    let setup = setup().await;
    setup.import_fixture("utf8-comma.csv").await;
    let summary = setup.import_fixture("duplicates-and-invalid.csv").await;
    let c = &summary.counts;
    // 7 data rows (one blank row is not data): the first +7 916 is already stored, the
    // next two are the same number again, three are not numbers, +7 903 is stored.
    assert_eq!((c.total, c.inserted, c.duplicate_in_file, c.duplicate_existing, c.invalid), (7, 0, 2, 2, 3));
    assert!(c.reconciles());
    let rejects = std::fs::read_to_string(summary.rejects_file.unwrap()).unwrap();
    let lines: Vec<&str> = rejects.lines().collect();
    assert_eq!(lines[0], "row,raw_value,reason,detail");
    assert_eq!(lines[1], "2,'+7 916 123-45-67,duplicate_existing,duplicate: the number is already stored");
    assert_eq!(lines[2], "3,89161234567,duplicate_in_file,duplicate: the same number as row 2");
    assert!(lines[4].starts_with("5,12345,invalid,"), "{rejects}");
    assert_eq!(lines[5], "6,call me,invalid,not a phone number: contains 'c'");
    assert_eq!(lines.len(), 8);

    let stored = setup.db.client().await.query_one(
        "SELECT status, total, inserted, updated, duplicate_in_file, duplicate_existing, invalid, dnc, length(file_sha256)
         FROM imports WHERE id = $1", &[&summary.import_id]).await.unwrap();
    assert_eq!(stored.get::<_, String>(0), "succeeded");
    let counts: Vec<i64> = (1..8).map(|i| stored.get(i)).collect();
    assert_eq!(counts, vec![7, 0, 0, 2, 2, 3, 0]);
    assert_eq!(stored.get::<_, i32>(8), 32);
}

#[tokio::test]
async fn the_update_policy_refreshes_attributes_but_never_project_or_status() {
    let setup = setup().await;
    setup.import_fixture("utf8-comma.csv").await;
    let client = setup.db.client().await;
    client
        .batch_execute(
            "INSERT INTO projects (tenant_id, name) VALUES (1, 'Sales');
             UPDATE phone_numbers SET project_id = (SELECT id FROM projects LIMIT 1), status = 5,
                    attributes = attributes || '{\"kept\": \"yes\"}' WHERE phone = 79031112233",
        )
        .await
        .unwrap();
    let path = setup.write("update.csv", "phone;name;region\n+7 903 111-22-33;Анна Петрова-Сидорова;KZ\n");
    let mut request = setup.request(&path);
    request.on_duplicate = OnDuplicate::Update;
    let summary = setup.import(request).await.unwrap();
    assert_eq!((summary.counts.updated, summary.counts.inserted), (1, 0));
    let row = client
        .query_one(
            "SELECT p.project_id IS NOT NULL, p.status, p.attributes, g.code, p.import_id <> p.last_import_id
             FROM phone_numbers p JOIN geos g ON g.tenant_id = p.tenant_id AND g.id = p.geo_id WHERE phone = 79031112233",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0), "still in its project");
    assert_eq!(row.get::<_, i16>(1), 5, "status untouched");
    let attributes: serde_json::Value = row.get(2);
    assert_eq!(attributes["name"], "Анна Петрова-Сидорова");
    assert_eq!(attributes["kept"], "yes");
    assert_eq!(row.get::<_, String>(3), "KZ", "a geo column updates the geo");
    assert!(row.get::<_, bool>(4), "last_import_id points at the update");

    // With skip, the same file changes nothing.
    let summary = setup.import(setup.request(&path)).await.unwrap();
    assert_eq!((summary.counts.duplicate_existing, summary.counts.updated), (1, 0));
}

#[tokio::test]
async fn numbers_on_the_dnc_list_are_not_imported() {
    let setup = setup().await;
    let request = DncImportRequest {
        tenant: setup.tenant,
        path: fixture("dnc.csv"),
        display_name: None,
        source: Default::default(),
        region: Some(dialpool_engine::intake::phone::Region::parse("RU").unwrap()),
        mapping: ColumnMapping::default(),
        reason: Some("regulator list".into()),
        rejects_path: Some(setup.dir.path().join("dnc.rejects.csv")),
        actor: Actor::system("test"),
        list: None,
    };
    let summary = dnc::import_file(&setup.db.pool, request.clone(), ImportProgress::default()).await.unwrap();
    assert_eq!((summary.total, summary.added, summary.invalid, summary.already_listed), (3, 2, 1, 0));
    let again = dnc::import_file(&setup.db.pool, request, ImportProgress::default()).await.unwrap();
    assert_eq!((again.added, again.already_listed), (0, 2));

    let summary = setup.import_fixture("utf8-comma.csv").await;
    assert_eq!((summary.counts.inserted, summary.counts.dnc), (3, 2));
    let phones = setup.phones().await;
    assert!(!phones.contains(&79031112233) && !phones.contains(&74951234567));
    let rejects = std::fs::read_to_string(summary.rejects_file.unwrap()).unwrap();
    assert!(rejects.contains("3,'+7 903 111-22-33,dnc,on the do-not-call list"), "{rejects}");
}

/// Numbers spread over several batches: a repeat in a later batch is still a duplicate
/// in the file, not a number that was already stored.
#[tokio::test]
async fn a_duplicate_in_a_later_batch_counts_as_in_file_and_totals_reconcile() {
    let setup = setup().await;
    let rows = BATCH_ROWS * 2 + 10;
    let mut csv = String::from("phone,seq\n");
    for i in 0..rows {
        writeln!(csv, "+7916{:07},{i}", i).unwrap();
    }
    // The first number again, two batches later, and an invalid one.
    csv.push_str("+79160000000,again\nnonsense,bad\n");
    let path = setup.write("big.csv", csv);
    let mut request = setup.request(&path);
    request.batch_rows = Some(BATCH_ROWS);
    let summary = setup.import(request).await.unwrap();
    let c = &summary.counts;
    assert_eq!(c.total, rows as i64 + 2);
    assert_eq!(c.inserted, rows as i64);
    assert_eq!((c.duplicate_in_file, c.duplicate_existing, c.invalid), (1, 0, 1));
    assert_eq!(setup.count("SELECT count(*) FROM phone_numbers").await, rows as i64);
}

#[tokio::test]
async fn an_import_that_fails_half_way_stores_nothing_and_can_run_again() {
    let setup = setup().await;
    let mut csv = String::from("phone\n");
    for i in 0..(BATCH_ROWS * 2) {
        writeln!(csv, "+7916{:07}", i).unwrap();
    }
    let good_part = csv.clone();
    // Past the first two batches, a line no CSV has.
    csv.push_str(&"9".repeat(2 << 20));
    csv.push('\n');
    let path = setup.write("fails-late.csv", csv);
    let mut request = setup.request(&path);
    request.batch_rows = Some(BATCH_ROWS);
    let error = setup.import(request.clone()).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput);
    assert!(error.to_string().contains(&format!("row {}", BATCH_ROWS * 2 + 2)), "{error}");
    assert_eq!(setup.count("SELECT count(*) FROM phone_numbers").await, 0);
    assert_eq!(setup.count("SELECT count(*) FROM imports WHERE status = 'succeeded'").await, 0);
    assert_eq!(
        setup
            .count("SELECT count(*) FROM imports WHERE status = 'failed' AND error LIKE '%longer than%'")
            .await,
        1
    );
    assert!(!setup.dir.path().join("fails-late.csv.rejects.csv").exists());

    std::fs::write(&path, good_part).unwrap();
    let summary = setup.import(request).await.unwrap();
    assert_eq!(summary.counts.inserted, (BATCH_ROWS * 2) as i64);
}

#[tokio::test]
async fn the_tenant_number_limit_refuses_the_whole_import() {
    let setup = setup().await;
    setup.db.client().await.execute("UPDATE tenants SET max_numbers = 3 WHERE id = 1", &[]).await.unwrap();
    let error = setup.import(setup.request(&fixture("utf8-comma.csv"))).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Conflict);
    assert_eq!(setup.count("SELECT count(*) FROM phone_numbers").await, 0);
}

#[tokio::test]
async fn two_imports_at_once_never_store_a_number_twice_and_each_reconciles() {
    let setup = setup().await;
    let mut a = String::from("phone\n");
    let mut b = String::from("phone\n");
    for i in 0..30_000 {
        writeln!(a, "+7916{:07}", i).unwrap();
        writeln!(b, "+7916{:07}", i + 15_000).unwrap();
    }
    let (path_a, path_b) = (setup.write("a.csv", a), setup.write("b.csv", b));
    let (mut request_a, mut request_b) = (setup.request(&path_a), setup.request(&path_b));
    request_a.batch_rows = Some(BATCH_ROWS);
    request_b.batch_rows = Some(BATCH_ROWS);
    let (ra, rb) = tokio::join!(setup.import(request_a), setup.import(request_b));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert!(ra.counts.reconciles() && rb.counts.reconciles());
    assert_eq!(ra.counts.inserted + rb.counts.inserted, 45_000);
    assert_eq!(ra.counts.duplicate_existing + rb.counts.duplicate_existing, 15_000);
    assert_eq!(setup.count("SELECT count(*) FROM phone_numbers").await, 45_000);
}

#[tokio::test]
async fn an_import_is_audited_with_its_counts() {
    let setup = setup().await;
    let summary = setup.import_fixture("utf8-comma.csv").await;
    let row = setup
        .db
        .client()
        .await
        .query_one(
            "SELECT actor_label, after FROM audit_log WHERE action = 'import.create' AND entity_id = $1",
            &[&summary.import_id.to_string()],
        )
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "test");
    let after: serde_json::Value = row.get(1);
    assert_eq!(after["inserted"], 5);
}

#[tokio::test]
async fn a_bulk_import_leaves_statistics_the_next_step_plans_with() {
    let setup = setup().await;
    let file = setup.dir.path().join("bulk.csv");
    let mut text = String::from("phone\n");
    for i in 0..5_000 {
        text.push_str(&format!("+7916{i:07}\n"));
    }
    std::fs::write(&file, text).unwrap();
    setup.import(setup.request(&file)).await.unwrap();
    let client = setup.db.client().await;
    // The planner's row estimates: the partitions', and the parent's own statistics,
    // which autovacuum never gathers for a partitioned table.
    let (estimated, parent_stats): (f64, i64) = client
        .query_one(
            "SELECT (SELECT sum(c.reltuples)::float8 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                      WHERE i.inhparent = 'phone_numbers'::regclass),
                    (SELECT count(*) FROM pg_stats WHERE tablename = 'phone_numbers' AND inherited)",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1)))
        .unwrap();
    assert_eq!(estimated, 5_000.0);
    assert!(parent_stats > 0, "the parent is analyzed");
}
