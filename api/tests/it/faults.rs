//! Fault injection: `kill -9` of the `dialpool` process in the middle of an import, an
//! export, an allocation and an outcome-file import (seen at work in PostgreSQL, so the
//! kill lands mid-way), then the same command again. Each run ends with what a clean run
//! gives: nothing half-written, nothing doubled, nothing left `running`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dialpool_engine::testkit::TestDb;

const ROWS: i64 = 300_000;

fn dialpool(db: &TestDb, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_dialpool"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env_remove("DIALPOOL_TENANT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run dialpool")
}

fn finish(child: Child) {
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

async fn scalar(db: &TestDb, sql: &str) -> i64 {
    db.client().await.query_one(sql, &[]).await.unwrap().get(0)
}

/// Statements of `db` other than ours whose text matches `pattern` and that are running.
async fn busy(db: &TestDb, pattern: &str) -> i64 {
    db.client()
        .await
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query ILIKE $1",
            &[&pattern],
        )
        .await
        .unwrap()
        .get(0)
}

/// Starts `args`, waits until PostgreSQL runs a statement of it matching `pattern`, kills
/// the process with SIGKILL, and waits until its statement is gone too.
async fn kill_midway(db: &TestDb, args: &[&str], pattern: &str) {
    let mut child = dialpool(db, args);
    let deadline = Instant::now() + Duration::from_secs(120);
    while busy(db, pattern).await == 0 {
        assert!(child.try_wait().unwrap().is_none(), "{args:?} ended before it could be killed mid-way");
        assert!(Instant::now() < deadline, "{args:?} never ran {pattern}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(!status.success(), "killed, not finished");
    // Its backend notices the client is gone (client_connection_check_interval).
    let deadline = Instant::now() + Duration::from_secs(60);
    while busy(db, pattern).await > 0 {
        assert!(Instant::now() < deadline, "the killed command's statement still runs");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn temp(db: &TestDb, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dialpool-faults-{}", db.name));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

/// A provider and `ROWS` numbers held by project 1 (daily quota `quota`), inserted
/// directly.
async fn project_with_numbers(db: &TestDb, quota: i64, held: bool) {
    db.client()
        .await
        .batch_execute(&format!(
            "INSERT INTO providers (tenant_id, code, name) VALUES (1, 'p', 'P');
             INSERT INTO projects (tenant_id, name, time_zone, daily_quota) VALUES (1, 'Out', 'UTC', {quota});
             INSERT INTO project_sources (tenant_id, project_id, provider_id, weight)
             SELECT 1, 1, id, 1 FROM providers;
             INSERT INTO project_schedules (tenant_id, project_id, weekday, starts_at, ends_at)
             SELECT 1, 1, d, '00:00', '24:00' FROM generate_series(1, 7) d;
             INSERT INTO phone_numbers (tenant_id, phone, provider_id, project_id, allocated_at, import_id, last_import_id,
                                        attributes)
             SELECT 1, 79160000000 + i, (SELECT id FROM providers), {project}, {allocated}, 0, 0,
                    jsonb_build_object('name', 'Person ' || i)
               FROM generate_series(1, {ROWS}) i;
             ANALYZE phone_numbers;",
            project = if held { "1" } else { "NULL" },
            allocated = if held { "now() - interval '1 day'" } else { "NULL" },
        ))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_killed_mid_way_stores_nothing_and_its_rerun_stores_everything_once() {
    let db = TestDb::new().await;
    db.client()
        .await
        .execute(
            "INSERT INTO providers (tenant_id, code, name, default_region) VALUES (1, 'p', 'P', 'RU')",
            &[],
        )
        .await
        .unwrap();
    let file = temp(&db, "numbers.csv");
    let mut text = String::from("phone,name\n");
    for i in 0..ROWS {
        // Every tenth row repeats an earlier number.
        let n = if i % 10 == 9 { i - 5 } else { i };
        text.push_str(&format!("+7916{n:07},Person {n}\n"));
    }
    std::fs::write(&file, text).unwrap();
    let path = file.to_str().unwrap();
    kill_midway(&db, &["import", path, "--provider", "p", "-q"], "%import_staging%").await;
    assert_eq!(scalar(&db, "SELECT count(*) FROM phone_numbers").await, 0, "one import is one transaction");
    assert_eq!(scalar(&db, "SELECT count(*) FROM imports WHERE status = 'running'").await, 0);

    finish(dialpool(&db, &["import", path, "--provider", "p", "-q"]));
    assert_eq!(scalar(&db, "SELECT count(*) FROM phone_numbers").await, ROWS - ROWS / 10);
    assert_eq!(scalar(&db, "SELECT count(*) FROM imports WHERE status = 'succeeded'").await, 1);
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_killed_mid_way_is_marked_failed_its_partial_file_goes_and_a_rerun_exports_all() {
    let db = TestDb::new().await;
    project_with_numbers(&db, 1000, true).await;
    let out = temp(&db, "batch.csv");
    let path = out.to_str().unwrap();
    kill_midway(&db, &["export", "--project", "1", "--out", path], "%dialpool.export_tenant%").await;
    assert!(out.with_extension("partial").exists(), "the killed export was writing");
    assert!(!out.exists());
    assert_eq!(scalar(&db, "SELECT count(*) FROM export_batches").await, 0, "nothing recorded as exported");
    // Time passes (the run lock is what tells a dead export from a starting one).
    db.client()
        .await
        .execute("UPDATE exports SET started_at = started_at - interval '1 minute'", &[])
        .await
        .unwrap();

    finish(dialpool(&db, &["export", "--project", "1", "--out", path]));
    assert!(!out.with_extension("partial").exists(), "the dead export's partial file is gone");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap().lines().count() as i64,
        ROWS + 1,
        "a header and every number"
    );
    let states: Vec<(String, Option<String>)> = db
        .client()
        .await
        .query("SELECT status, error FROM exports ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(states.len(), 2);
    assert_eq!(states[0].0, "failed");
    assert!(states[0].1.as_deref().unwrap_or("").contains("the process writing it ended"), "{states:?}");
    assert_eq!(states[1], ("succeeded".to_owned(), None));
    assert_eq!(scalar(&db, "SELECT sum(cardinality(phones))::bigint FROM export_batches").await, ROWS);
    let _ = std::fs::remove_dir_all(out.parent().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allocation_killed_mid_way_moves_nothing_and_its_rerun_fills_the_quota_exactly() {
    let db = TestDb::new().await;
    project_with_numbers(&db, 200_000, false).await;
    kill_midway(&db, &["allocate", "--project", "1"], "%phone_numbers%").await;
    assert_eq!(scalar(&db, "SELECT count(*) FROM phone_numbers WHERE project_id IS NOT NULL").await, 0);

    finish(dialpool(&db, &["allocate", "--project", "1"]));
    assert_eq!(scalar(&db, "SELECT count(*) FROM phone_numbers WHERE project_id = 1").await, 200_000);
    assert_eq!(scalar(&db, "SELECT count(*) FROM number_events WHERE kind = 'allocated'").await, 200_000);
    finish(dialpool(&db, &["allocate", "--project", "1"]));
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM phone_numbers WHERE project_id = 1").await,
        200_000,
        "once a day"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_file_killed_mid_way_applies_nothing_and_its_rerun_counts_each_call_once() {
    let db = TestDb::new().await;
    project_with_numbers(&db, 1000, true).await;
    let file = temp(&db, "calls.csv");
    let started = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let mut text = String::from("phone,call_id,disposition,at\n");
    for i in 1..=ROWS {
        text.push_str(&format!("+7916{:07},call-{i},BUSY,{started}\n", i));
    }
    std::fs::write(&file, text).unwrap();
    let path = file.to_str().unwrap();
    kill_midway(&db, &["outcomes", "import", path, "--format", "csv"], "%outcome_staging%").await;
    assert_eq!(scalar(&db, "SELECT count(*) FROM call_outcomes").await, 0);
    assert_eq!(scalar(&db, "SELECT COALESCE(sum(attempts), 0)::bigint FROM phone_numbers").await, 0);

    finish(dialpool(&db, &["outcomes", "import", path, "--format", "csv"]));
    assert_eq!(scalar(&db, "SELECT count(*) FROM call_outcomes").await, ROWS);
    assert_eq!(scalar(&db, "SELECT sum(attempts)::bigint FROM phone_numbers").await, ROWS);
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}
