use dialpool_engine::platform::db;
use dialpool_engine::testkit::TestDb;

#[tokio::test]
async fn migrating_a_migrated_database_changes_nothing() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let before: i64 = client.query_one("SELECT count(*) FROM schema_migrations", &[]).await.unwrap().get(0);
    let report = dialpool_engine::migrate(&mut client).await.unwrap();
    assert!(report.applied.is_empty());
    assert_eq!(report.already_applied, db::MIGRATIONS.len());
    let after: i64 = client.query_one("SELECT count(*) FROM schema_migrations", &[]).await.unwrap().get(0);
    assert_eq!(before, after);
    assert!(db::migrations_current(&client).await.unwrap());
}

#[tokio::test]
async fn a_migration_edited_after_it_was_applied_is_refused() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    client.execute("UPDATE schema_migrations SET checksum = '\\x00' WHERE version = 1", &[]).await.unwrap();
    let error = dialpool_engine::migrate(&mut client).await.unwrap_err();
    assert!(error.to_string().contains("was changed after it was applied"), "{error}");
}

#[test]
fn every_file_in_migrations_is_listed_in_order() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".sql"))
        .collect();
    files.sort();
    let listed: Vec<String> =
        db::MIGRATIONS.iter().map(|m| format!("{:04}_{}.sql", m.version, m.name)).collect();
    assert_eq!(files, listed);
}

#[tokio::test]
async fn phone_numbers_has_sixteen_hash_partitions_and_events_are_monthly() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let partitions: i64 = client
        .query_one("SELECT count(*) FROM pg_inherits WHERE inhparent = 'phone_numbers'::regclass", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(partitions, 16);
    for parent in ["number_events", "audit_log"] {
        let names: Vec<String> = client
            .query(
                "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = $1::text::regclass ORDER BY 1",
                &[&parent],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert!(names.contains(&format!("{parent}_default")), "{names:?}");
        let this_month: String = client
            .query_one("SELECT $1::text || '_' || to_char(now() AT TIME ZONE 'UTC', 'YYYY_MM')", &[&parent])
            .await
            .unwrap()
            .get(0);
        assert!(names.contains(&this_month), "{names:?}");
    }
}

#[tokio::test]
async fn partition_maintenance_moves_early_rows_out_of_the_default_partition() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO number_events (tenant_id, at, phone, kind)
             VALUES (1, date_trunc('month', now()) + interval '6 months' + interval '3 days', 79161234567, 'allocated')",
        )
        .await
        .unwrap();
    let created: Vec<String> = client
        .query("SELECT dialpool_ensure_monthly_partitions(7)", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(created.iter().any(|p| p.starts_with("number_events_")), "{created:?}");
    let in_default: i64 =
        client.query_one("SELECT count(*) FROM number_events_default", &[]).await.unwrap().get(0);
    assert_eq!(in_default, 0);
    let total: i64 = client.query_one("SELECT count(*) FROM number_events", &[]).await.unwrap().get(0);
    assert_eq!(total, 1);
    // Running it again creates nothing.
    let again = client.query("SELECT dialpool_ensure_monthly_partitions(7)", &[]).await.unwrap();
    assert!(again.is_empty());
}

#[tokio::test]
async fn the_audit_log_cannot_be_changed_or_deleted() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO audit_log (tenant_id, actor_label, action, entity) VALUES (1, 'test', 'x', 'y')",
        )
        .await
        .unwrap();
    for statement in ["UPDATE audit_log SET action = 'z'", "DELETE FROM audit_log", "TRUNCATE audit_log"] {
        let error = client.batch_execute(statement).await.unwrap_err();
        assert!(format!("{error:?}").contains("append-only"), "{statement}: {error:?}");
    }
}

#[tokio::test]
async fn a_new_tenant_gets_country_geos_statuses_and_built_in_roles() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id: i64 = client
        .query_one("INSERT INTO tenants (slug, name) VALUES ('second', 'Second') RETURNING id", &[])
        .await
        .unwrap()
        .get(0);
    let count = |sql: &'static str| {
        let client = &client;
        async move { client.query_one(sql, &[&id]).await.unwrap().get::<_, i64>(0) }
    };
    assert!(count("SELECT count(*) FROM geos WHERE tenant_id = $1").await > 200);
    assert_eq!(
        count("SELECT count(*) FROM number_statuses WHERE tenant_id = $1 AND id = 0 AND category = 'fresh'")
            .await,
        1
    );
    assert_eq!(count("SELECT count(*) FROM roles WHERE tenant_id = $1 AND built_in").await, 4);
    let moscow: String = client
        .query_one("SELECT time_zone FROM geos WHERE tenant_id = $1 AND code = 'RU'", &[&id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(moscow, "Europe/Moscow");
}

#[tokio::test]
async fn numbers_stored_before_zones_were_derived_are_placed_when_the_column_arrives() {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    // The database as it was before 0017, with numbers in it.
    client
        .batch_execute(
            "DELETE FROM schema_migrations WHERE version = 17;
             ALTER TABLE exports DROP COLUMN withheld_dnc, DROP COLUMN partial_path;
             ALTER TABLE sftp_uploads DROP CONSTRAINT sftp_uploads_outcome_check,
                 ADD CONSTRAINT sftp_uploads_outcome_check CHECK (outcome IN ('queued', 'duplicate'));
             ALTER TABLE phone_numbers DROP COLUMN zone_set;
             DROP TABLE phone_zone_sets;
             INSERT INTO providers (tenant_id, code, name) VALUES (1, 'p', 'P');
             INSERT INTO geos (tenant_id, country, region, name, time_zone) VALUES (1, 'RU', 'PRI', 'Primorye', 'Asia/Vladivostok');
             INSERT INTO phone_numbers (tenant_id, phone, provider_id, geo_id, import_id, last_import_id)
             SELECT 1, p, (SELECT id FROM providers), g, 0, 0
               FROM (VALUES (12135550143, (SELECT id FROM geos WHERE code = 'US')),
                            (79161234567, (SELECT id FROM geos WHERE code = 'RU-PRI')),
                            (74952221234, (SELECT id FROM geos WHERE code = 'RU'))) v(p, g);",
        )
        .await
        .unwrap();
    let report = dialpool_engine::migrate(&mut client).await.unwrap();
    assert_eq!(report.applied, ["0017_trust"]);
    let placed: Vec<(i64, Vec<String>)> = client
        .query(
            "SELECT n.phone, z.zones FROM phone_numbers n JOIN phone_zone_sets z ON z.id = n.zone_set ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        placed,
        [
            (12135550143, vec!["America/Los_Angeles".to_owned()]),
            (74952221234, vec!["Europe/Moscow".to_owned()]),
            (79161234567, vec!["Asia/Vladivostok".to_owned()]),
        ],
        "by the number, or by the region its file named"
    );
}
