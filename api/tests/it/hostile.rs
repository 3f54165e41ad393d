//! Hostile files through the CLI and the HTTP upload: a generated corpus
//! (`fixtures/hostile/make.py`: a sheet of a gigabyte of NUL bytes, a gigabyte of rows
//! holding 0, a gigabyte in one cell, the billion laughs, a ZIP lying about its sizes, a
//! 100 MB line, random bytes, a million rows without a number, wrong encodings, empty
//! files). Each is refused with a message that says what is wrong, stores nothing, leaves
//! no rejects file, and the importing process stays small; files in a wrong encoding
//! that hold real numbers are read.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use axum::http::StatusCode;
use dialpool_engine::testkit::TestDb;

use crate::support::Api;

/// Peak memory any import of the corpus may take.
const MAX_RSS_MB: u64 = 300;

/// The corpus, made once per test run.
fn corpus() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("dialpool-hostile-{}", std::process::id()));
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/hostile/make.py");
        let made = Command::new("python3").arg(script).arg(&dir).status().expect("python3 runs");
        assert!(made.success(), "making the hostile corpus");
        dir
    })
}

struct Run {
    code: Option<i32>,
    stderr: String,
    peak_rss_mb: u64,
}

/// `dialpool import FILE`, with its peak resident memory read from /proc while it runs.
fn import(db: &TestDb, file: &Path, rejects: &Path, extra: &[&str]) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dialpool"))
        .arg("import")
        .arg(file)
        .args(["--provider", "p", "--rejects"])
        .arg(rejects)
        .args(extra)
        .env("DATABASE_URL", db.url())
        .env_remove("DIALPOOL_TENANT")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    while child.try_wait().unwrap().is_none() {
        // VmHWM is the peak so far: any late reading holds the whole run's.
        if let Some(kb) = std::fs::read_to_string(&status_file).ok().and_then(|status| {
            status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
        }) {
            peak_kb = kb;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let output = child.wait_with_output().unwrap();
    Run {
        code: output.status.code(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        peak_rss_mb: peak_kb / 1024,
    }
}

async fn scalar(db: &TestDb, sql: &str) -> i64 {
    db.client().await.query_one(sql, &[]).await.unwrap().get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_files_are_refused_with_a_reason_store_nothing_and_stay_small() {
    let db = TestDb::new().await;
    db.client()
        .await
        .execute(
            "INSERT INTO providers (tenant_id, code, name, default_region) VALUES (1, 'p', 'P', 'RU')",
            &[],
        )
        .await
        .unwrap();
    let rejects = corpus().join("rejects.csv");
    let cases: &[(&str, &[&str], &str)] = &[
        ("nul-sheet.xlsx", &[], "sheet1.xml holds a NUL byte"),
        ("one-huge-cell.xlsx", &[], "more than 1 MiB of text in one place"),
        ("rows-of-zeros.xlsx", &[], "no phone column found"),
        // The column named, the rows run on: a sheet has at most 1,048,576.
        ("rows-of-zeros.xlsx", &["--map", "phone=1"], "more rows than a sheet can have"),
        ("billion-laughs.xlsx", &[], "unrecognized entity"),
        ("lying-sizes.xlsx", &[], "larger than its declared uncompressed size"),
        ("truncated.xlsx", &[], "damaged or truncated"),
        ("long-line.csv", &[], "longer than 1 MiB"),
        ("binary.csv", &[], "the file is not text"),
        ("no-numbers.csv", &[], "none of its 1000000 rows holds a valid phone number"),
        ("empty.csv", &[], "the file is empty"),
        ("header-only.csv", &[], "no data rows"),
    ];
    for (name, extra, says) in cases {
        let run = import(&db, &corpus().join(name), &rejects, extra);
        assert_eq!(run.code, Some(65), "{name} {extra:?}: {}", run.stderr);
        assert!(run.stderr.contains(name) && run.stderr.contains(says), "{name}: {}", run.stderr);
        assert!(run.peak_rss_mb < MAX_RSS_MB, "{name} took {} MB", run.peak_rss_mb);
        assert!(!rejects.exists(), "{name} left a rejects file");
        assert_eq!(scalar(&db, "SELECT count(*) FROM phone_numbers").await, 0, "{name} stored numbers");
    }
    assert_eq!(scalar(&db, "SELECT count(*) FROM imports WHERE status = 'succeeded'").await, 0);

    // Real numbers in an encoding that is not UTF-8 are read, not refused.
    for name in ["utf16-no-bom.csv", "cp1251.csv"] {
        db.client().await.execute("DELETE FROM phone_numbers", &[]).await.unwrap();
        let run = import(&db, &corpus().join(name), &rejects, &[]);
        assert_eq!(run.code, Some(0), "{name}: {}", run.stderr);
        assert_eq!(scalar(&db, "SELECT count(*) FROM phone_numbers").await, 100, "{name}");
        assert_eq!(
            scalar(&db, "SELECT count(*) FROM phone_numbers WHERE attributes->>'name' = 'Иван 7'").await,
            1,
            "{name} decoded"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_upload_over_http_ends_its_import_with_the_reason_and_stores_nothing() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leads").await;
    for (name, says) in [
        ("nul-sheet-small.xlsx", "holds a NUL byte"),
        ("no-numbers-small.csv", "none of its 400000 rows holds a valid phone number"),
    ] {
        let contents = std::fs::read(corpus().join(name)).unwrap();
        let started = api.upload(&admin, provider, name, &contents).await.expect(StatusCode::ACCEPTED);
        let (done, _) = api.wait_for_task(&admin, started.json()["task_id"].as_str().unwrap()).await;
        assert_eq!(done["status"], "failed", "{done}");
        assert!(done["error"].as_str().unwrap_or("").contains(says), "{name}: {done}");
    }
    let stored: i64 =
        api.db.client().await.query_one("SELECT count(*) FROM phone_numbers", &[]).await.unwrap().get(0);
    assert_eq!(stored, 0);
}
