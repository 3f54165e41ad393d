use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dialpool_engine::testkit::TestDb;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/import").join(name)
}

fn dialpool(db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dialpool"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env_remove("DIALPOOL_TENANT")
        .output()
        .expect("run dialpool")
}

fn succeeded(output: &Output) {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
}

fn json(output: &Output) -> serde_json::Value {
    succeeded(output);
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)))
}

async fn count(db: &TestDb, sql: &str) -> i64 {
    db.client().await.query_one(sql, &[]).await.unwrap().get(0)
}

fn temp_path(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("dialpool-cli-{}-{name}", std::process::id()))
}

#[tokio::test]
async fn migrate_creates_a_missing_database_and_a_second_run_changes_nothing() {
    // A database name nobody has: the command creates it.
    let db = TestDb::new().await;
    let name = format!("{}_fresh", db.name);
    let url = db.url().replace(&db.name, &name);
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_dialpool"))
            .args(["migrate", "--json"])
            .env("DATABASE_URL", &url)
            .output()
            .unwrap()
    };
    let first = json(&run());
    assert_eq!(first["database_created"], true);
    assert_eq!(first["applied"].as_array().unwrap().len(), dialpool_engine::platform::db::MIGRATIONS.len());
    let second = json(&run());
    assert_eq!(second["database_created"], false);
    assert_eq!(second["applied"], serde_json::json!([]));
    db.client().await.batch_execute(&format!("DROP DATABASE \"{name}\" WITH (FORCE)")).await.unwrap();
}

#[tokio::test]
async fn providers_are_added_and_listed_as_json_and_a_duplicate_code_is_a_conflict() {
    let db = TestDb::new().await;
    let added = json(&dialpool(
        &db,
        &["provider", "add", "leadco", "--name", "Lead Co", "--region", "ru", "--map", "phone=2", "--json"],
    ));
    assert_eq!(added["default_region"], "RU");
    assert_eq!(added["column_mapping"], "phone=2");
    let listed = json(&dialpool(&db, &["provider", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let again = dialpool(&db, &["provider", "add", "leadco", "--name", "Other"]);
    assert_eq!(again.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&again.stderr).contains("provider 'leadco' already exists"));
    let bad = dialpool(&db, &["provider", "add", "lead co", "--name", "X"]);
    assert_eq!(bad.status.code(), Some(65));
}

#[tokio::test]
async fn import_prints_a_json_summary_and_exit_codes_say_what_went_wrong() {
    let db = TestDb::new().await;
    succeeded(&dialpool(&db, &["provider", "add", "acme", "--name", "Acme", "--region", "RU"]));
    let rejects = temp_path("rejects.csv");
    let file = fixture("duplicates-and-invalid.csv");
    let summary = json(&dialpool(
        &db,
        &[
            "import",
            file.to_str().unwrap(),
            "--provider",
            "acme",
            "--json",
            "--rejects",
            rejects.to_str().unwrap(),
        ],
    ));
    assert_eq!(summary["total"], 7);
    assert_eq!(summary["inserted"], 2);
    assert_eq!(summary["invalid"], 3);
    assert_eq!(summary["duplicate_in_file"], 2);
    assert!(std::fs::read_to_string(&rejects).unwrap().starts_with("row,raw_value,reason,detail\n"));
    let _ = std::fs::remove_file(&rejects);

    let unknown = dialpool(&db, &["import", file.to_str().unwrap(), "--provider", "nobody"]);
    assert_eq!(unknown.status.code(), Some(3));
    let bad =
        dialpool(&db, &["import", fixture("no-phone-column.csv").to_str().unwrap(), "--provider", "acme"]);
    assert_eq!(bad.status.code(), Some(65));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("no-phone-column.csv: row 1") && stderr.contains("no phone column found"),
        "{stderr}"
    );
    let missing = dialpool(&db, &["import", "/nonexistent.csv", "--provider", "acme"]);
    assert_eq!(missing.status.code(), Some(65));
    let usage = dialpool(&db, &["import"]);
    assert_eq!(usage.status.code(), Some(2));
    assert_eq!(count(&db, "SELECT count(*) FROM phone_numbers").await, 2);
}

#[tokio::test]
async fn export_writes_a_projects_numbers_and_says_what_went_wrong() {
    let db = TestDb::new().await;
    succeeded(&dialpool(&db, &["provider", "add", "acme", "--name", "Acme", "--region", "RU"]));
    let file = fixture("duplicates-and-invalid.csv");
    succeeded(&dialpool(&db, &["import", file.to_str().unwrap(), "--provider", "acme"]));
    let project = json(&dialpool(
        &db,
        &["project", "create", "--name", "Out", "--time-zone", "UTC", "--quota", "10", "--json"],
    ));
    let project = project["id"].as_i64().unwrap().to_string();
    db.client()
        .await
        .execute("UPDATE phone_numbers SET project_id = $1::text::bigint", &[&project])
        .await
        .unwrap();

    let out = temp_path("export.csv");
    let summary = json(&dialpool(
        &db,
        &[
            "export",
            "--project",
            &project,
            "--provider",
            "acme",
            "--delimiter",
            ";",
            "--out",
            out.to_str().unwrap(),
            "--json",
        ],
    ));
    assert_eq!(summary["rows"], 2);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("phone;provider;geo;status;attempts;allocated_at;name;attributes\n"), "{text}");
    assert_eq!(text.lines().count(), 3);
    let _ = std::fs::remove_file(&out);

    let again = json(&dialpool(
        &db,
        &["export", "--project", &project, "--never-exported", "--out", out.to_str().unwrap(), "--json"],
    ));
    assert_eq!(again["rows"], 0);
    let _ = std::fs::remove_file(&out);
    let unknown = dialpool(
        &db,
        &["export", "--project", &project, "--status", "nonsense", "--out", out.to_str().unwrap()],
    );
    assert_eq!(unknown.status.code(), Some(3));
    let bad = dialpool(
        &db,
        &["export", "--project", &project, "--encoding", "latin1", "--out", out.to_str().unwrap()],
    );
    assert_eq!(bad.status.code(), Some(65));
    assert!(!out.exists());
}

#[tokio::test]
async fn dnc_import_lists_numbers_and_later_imports_skip_them() {
    let db = TestDb::new().await;
    succeeded(&dialpool(&db, &["provider", "add", "acme", "--name", "Acme", "--region", "RU"]));
    let dnc = json(&dialpool(
        &db,
        &[
            "dnc",
            "import",
            fixture("dnc.csv").to_str().unwrap(),
            "--region",
            "RU",
            "--json",
            "--rejects",
            temp_path("dnc-rejects.csv").to_str().unwrap(),
            "--list",
            "RU regulator",
        ],
    ));
    assert_eq!(dnc["added"], 2);
    let set = json(&dialpool(
        &db,
        &[
            "dnc",
            "list-set",
            "RU regulator",
            "--country",
            "RU",
            "--max-age-days",
            "31",
            "--block-when-stale",
            "--json",
        ],
    ));
    assert_eq!((set["loaded_entries"].as_i64(), set["stale"].as_bool()), (Some(2), Some(false)), "{set}");
    let lists = json(&dialpool(&db, &["dnc", "lists", "--json"]));
    assert_eq!(lists[0]["country"], "RU");
    let refused = dialpool(&db, &["dnc", "list-set", "Mine", "--block-when-stale"]);
    assert_eq!(refused.status.code(), Some(65));
    let summary = json(&dialpool(
        &db,
        &[
            "import",
            fixture("utf8-comma.csv").to_str().unwrap(),
            "--provider",
            "acme",
            "--json",
            "--rejects",
            temp_path("r.csv").to_str().unwrap(),
        ],
    ));
    assert_eq!(summary["dnc"], 2);
    assert_eq!(summary["inserted"], 3);
    let _ = std::fs::remove_file(temp_path("dnc-rejects.csv"));
    let _ = std::fs::remove_file(temp_path("r.csv"));
}

#[tokio::test]
async fn every_command_has_help() {
    let db = TestDb::new().await;
    for args in [
        vec!["--help"],
        vec!["migrate", "--help"],
        vec!["serve", "--help"],
        vec!["demo", "--help"],
        vec!["provider", "add", "--help"],
        vec!["provider", "list", "--help"],
        vec!["import", "--help"],
        vec!["dnc", "import", "--help"],
        vec!["outcomes", "import", "--help"],
        vec!["conversion", "refresh", "--help"],
        vec!["conversion", "report", "--help"],
        vec!["export", "--help"],
        vec!["jobs", "--help"],
        vec!["jobs", "list", "--help"],
        vec!["jobs", "run", "--help"],
        vec!["jobs", "cancel", "--help"],
        vec!["jobs", "retry", "--help"],
        vec!["jobs", "work", "--help"],
        vec!["sftp", "--help"],
        vec!["sftp", "account", "add", "--help"],
        vec!["sftp", "account", "list", "--help"],
        vec!["sftp", "uploads", "--help"],
        vec!["erase", "--help"],
        vec!["tombstone", "show", "--help"],
        vec!["tombstone", "lift", "--help"],
        vec!["subject", "export", "--help"],
        vec!["retention", "show", "--help"],
        vec!["retention", "set", "--help"],
        vec!["retention", "run", "--help"],
        vec!["dnc", "lists", "--help"],
        vec!["compliance", "report", "--help"],
        vec!["dnc", "list-set", "--help"],
    ] {
        let output = dialpool(&db, &args);
        assert!(output.status.success(), "{args:?}");
        assert!(String::from_utf8_lossy(&output.stdout).contains("Usage:"), "{args:?}");
    }
}

/// The import is killed (SIGKILL) once it has stored batches inside its transaction;
/// nothing it did remains, and running it again imports everything.
#[tokio::test]
async fn an_import_killed_half_way_leaves_nothing_and_runs_again() {
    let db = TestDb::new().await;
    succeeded(&dialpool(&db, &["provider", "add", "acme", "--name", "Acme", "--region", "RU"]));
    let path = temp_path("kill.csv");
    let rows = 400_000;
    {
        let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        writeln!(file, "phone,note").unwrap();
        for i in 0..rows {
            writeln!(file, "+7916{i:07},row {i}").unwrap();
        }
    }
    let rejects = temp_path("kill.rejects.csv");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dialpool"))
        .args([
            "import",
            path.to_str().unwrap(),
            "--provider",
            "acme",
            "-q",
            "--rejects",
            rejects.to_str().unwrap(),
        ])
        .env("DATABASE_URL", db.url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the import's backend has written into phone_numbers (its transaction
    // holds a RowExclusiveLock on a partition), then kill the client.
    let started = Instant::now();
    let client = db.client().await;
    loop {
        let writing: i64 = client
            .query_one(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
                 WHERE c.relname LIKE 'phone_numbers_p%' AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if writing > 0 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the import finished before it could be killed");
        assert!(started.elapsed() < Duration::from_secs(120), "the import never started writing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The server ends the orphaned transaction when it notices the closed connection.
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'").await > 0 {
        assert!(Instant::now() < deadline, "the killed import's transaction never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(&db, "SELECT count(*) FROM phone_numbers").await, 0);
    assert_eq!(count(&db, "SELECT count(*) FROM imports").await, 0);

    let summary = json(&dialpool(
        &db,
        &[
            "import",
            path.to_str().unwrap(),
            "--provider",
            "acme",
            "--json",
            "--rejects",
            rejects.to_str().unwrap(),
        ],
    ));
    assert_eq!(summary["inserted"], rows);
    assert_eq!(count(&db, "SELECT count(*) FROM phone_numbers").await, rows);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_closed_pipe_ends_the_command_quietly() {
    // `dialpool openapi | head -c 1`: the document is far larger than a pipe holds.
    let mut child = Command::new(env!("CARGO_BIN_EXE_dialpool"))
        .arg("openapi")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 1];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "{stderr}");
    use std::os::unix::process::ExitStatusExt;
    assert!(output.status.success() || output.status.signal() == Some(13), "{:?}", output.status);
}

#[tokio::test]
async fn every_listing_commands_json_parses_and_a_missing_database_is_exit_69() {
    let db = TestDb::new().await;
    succeeded(&dialpool(&db, &["provider", "add", "leadco", "--name", "Lead Co", "--region", "RU"]));
    // What each command prints with --json, and the keys its documentation promises.
    let commands: &[(&[&str], &[&str])] = &[
        (&["migrate", "--json"], &["applied", "database_created"]),
        (&["provider", "list", "--json"], &[]),
        (&["forecast", "--json"], &[]),
        (&["allocate", "--dry-run", "--json"], &["dry_run", "allocated", "projects"]),
        (&["explain", "+79161234567", "--json"], &["phone", "projects", "rings_in"]),
        (&["conversion", "refresh", "--json"], &[]),
        (&["conversion", "report", "--json"], &["rows", "totals"]),
        (&["jobs", "list", "--json"], &[]),
        (&["sftp", "account", "list", "--json"], &[]),
        (&["sftp", "remote", "list", "--json"], &[]),
    ];
    for (args, keys) in commands {
        let output = dialpool(&db, args);
        let value = json(&output);
        for key in *keys {
            assert!(value.get(key).is_some(), "{args:?} lacks '{key}': {value}");
        }
    }
    // Nothing listens on port 9: the database is unavailable, which is exit code 69.
    let unreachable = Command::new(env!("CARGO_BIN_EXE_dialpool"))
        .args(["provider", "list", "--json"])
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:9/nothing")
        .output()
        .unwrap();
    assert_eq!(unreachable.status.code(), Some(69), "{}", String::from_utf8_lossy(&unreachable.stderr));
    let wrong = dialpool(&db, &["provider", "list", "--no-such-option"]);
    assert_eq!(wrong.status.code(), Some(2));
}

#[tokio::test]
async fn erase_refuses_the_number_in_later_imports_and_subject_export_and_tombstone_say_so() {
    let db = TestDb::new().await;
    let data = temp_path("erase-data");
    let data_arg = data.to_string_lossy().into_owned();
    succeeded(&dialpool(&db, &["provider", "add", "acme", "--name", "Acme", "--region", "RU"]));
    let leads = temp_path("erase-leads.csv");
    std::fs::write(&leads, "phone,name\n+79161234567,Anna\n+79031112233,Boris\n").unwrap();
    let leads_arg = leads.to_string_lossy().into_owned();
    succeeded(&dialpool(
        &db,
        &["import", &leads_arg, "--provider", "acme", "--json", "--data-dir", &data_arg],
    ));

    // A file with a line that is no number erases nothing and says which line.
    let list = temp_path("erase-list.csv");
    std::fs::write(&list, "phone\n+79161234567\nnot a number\n").unwrap();
    let list_arg = list.to_string_lossy().into_owned();
    let refused = dialpool(&db, &["erase", "--file", &list_arg, "--data-dir", &data_arg]);
    assert_eq!(refused.status.code(), Some(65), "{}", String::from_utf8_lossy(&refused.stderr));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("line 3"));
    assert_eq!(count(&db, "SELECT count(*) FROM phone_numbers").await, 2);

    std::fs::write(&list, "phone\n+79161234567\n").unwrap();
    let erased = json(&dialpool(&db, &["erase", "--file", &list_arg, "--json", "--data-dir", &data_arg]));
    assert_eq!((erased["numbers"].as_i64(), erased["found"].as_i64()), (Some(1), Some(1)), "{erased}");

    let again = json(&dialpool(
        &db,
        &["import", &leads_arg, "--provider", "acme", "--json", "--data-dir", &data_arg],
    ));
    assert_eq!(
        (again["erased"].as_i64(), again["duplicate_existing"].as_i64()),
        (Some(1), Some(1)),
        "{again}"
    );
    // Elsewhere, without the key: refused, not let through.
    let keyless =
        dialpool(&db, &["import", &leads_arg, "--provider", "acme", "--data-dir", "/nonexistent-dialpool"]);
    assert_eq!(keyless.status.code(), Some(4), "{}", String::from_utf8_lossy(&keyless.stderr));
    assert!(String::from_utf8_lossy(&keyless.stderr).contains("secret key"));

    let subject = json(&dialpool(&db, &["subject", "export", "+79161234567", "--data-dir", &data_arg]));
    assert!(subject["number"].is_null() && !subject["erasure"].is_null(), "{subject}");
    let shown = dialpool(&db, &["tombstone", "show", "+79161234567", "--data-dir", &data_arg]);
    succeeded(&shown);
    assert!(String::from_utf8_lossy(&shown.stdout).contains("at the subject's request"));
    let unknown = dialpool(&db, &["tombstone", "show", "+79031112233", "--data-dir", &data_arg]);
    assert_eq!(unknown.status.code(), Some(3));
    let lifted = json(&dialpool(
        &db,
        &[
            "tombstone",
            "lift",
            "+79161234567",
            "--reason",
            "asked to be called",
            "--json",
            "--data-dir",
            &data_arg,
        ],
    ));
    assert!(!lifted["lifted_at"].is_null());
    let back = json(&dialpool(
        &db,
        &["import", &leads_arg, "--provider", "acme", "--json", "--data-dir", &data_arg],
    ));
    assert_eq!(back["inserted"], 1);

    // Retention: set with flags, shown as JSON, a dry run changes nothing.
    let set = json(&dialpool(
        &db,
        &["retention", "set", "--events-months", "24", "--audit-months", "84", "--json"],
    ));
    assert_eq!(set["events_months"], 24);
    let shown = json(&dialpool(&db, &["retention", "show", "--json"]));
    assert_eq!(shown["logs"][0]["effective_months"], 24);
    let dry = json(&dialpool(&db, &["retention", "run", "--dry-run", "--json", "--data-dir", &data_arg]));
    assert!(dry["dropped"].as_array().unwrap().is_empty());
    let short = dialpool(&db, &["retention", "set", "--audit-months", "3"]);
    assert_eq!(short.status.code(), Some(65));

    // A compliance report of a project, as JSON and as CSV; an unknown project is exit 3.
    let project: i64 = db
        .client()
        .await
        .query_one("INSERT INTO projects (tenant_id, name) VALUES (1, 'Calls') RETURNING id", &[])
        .await
        .unwrap()
        .get(0);
    let project = project.to_string();
    let today = chrono::Utc::now().date_naive().to_string();
    let period = ["--from", "2026-01-01", "--to", today.as_str()];
    let mut args = vec!["compliance", "report", "--project", project.as_str()];
    args.extend(period);
    let report = json(&dialpool(&db, &args));
    assert_eq!(report["erasures"]["requests"], 1, "{report}");
    assert_eq!(report["withheld"]["imports_erased"], 1);
    args.extend(["--format", "csv"]);
    let csv = dialpool(&db, &args);
    succeeded(&csv);
    assert!(
        String::from_utf8_lossy(&csv.stdout).contains("erasures,1,"),
        "{}",
        String::from_utf8_lossy(&csv.stdout)
    );
    let mut missing = vec!["compliance", "report", "--project", "999"];
    missing.extend(period);
    assert_eq!(dialpool(&db, &missing).status.code(), Some(3));
    for path in [&leads, &list] {
        let _ = std::fs::remove_file(path);
        let _ = std::fs::remove_file(path.with_extension("csv.rejects.csv"));
    }
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn provider_scorecard_price_and_returns_from_the_command_line() {
    let db = TestDb::new().await;
    let data = temp_path("returns-data");
    let data_arg = data.to_string_lossy().into_owned();
    succeeded(&dialpool(&db, &["provider", "add", "acme", "--name", "Acme", "--region", "RU"]));
    let leads = temp_path("returns-leads.csv");
    std::fs::write(&leads, "phone\n+79161234567\n+79031112233\n").unwrap();
    let leads_arg = leads.to_string_lossy().into_owned();
    let imported = json(&dialpool(
        &db,
        &["import", &leads_arg, "--provider", "acme", "--json", "--data-dir", &data_arg],
    ));
    let import_id = imported["import_id"].as_i64().unwrap().to_string();
    let priced = json(&dialpool(&db, &["provider", "price", &import_id, "--per-number", "0.25", "--json"]));
    assert_eq!(priced["price_per_number"], 0.25);
    let card = json(&dialpool(&db, &["provider", "scorecard", "--json"]));
    assert_eq!(
        (card["rows"][0]["delivered"].as_i64(), card["rows"][0]["cost"].as_f64()),
        (Some(2), Some(0.5))
    );
    let xlsx = temp_path("scorecard.xlsx");
    succeeded(&dialpool(
        &db,
        &["provider", "scorecard", "--by", "batch", "--output", &xlsx.to_string_lossy()],
    ));
    assert!(std::fs::metadata(&xlsx).unwrap().len() > 0);
    let bad = dialpool(&db, &["provider", "scorecard", "--output", "/tmp/scorecard.txt"]);
    assert!(!bad.status.success());

    // No rules: refused with the reason; then rules, a dry run and the batch itself.
    let refused = dialpool(&db, &["provider", "return", "acme", "--data-dir", &data_arg]);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("takes no returns"));
    let rules = json(&dialpool(
        &db,
        &["provider", "returns", "acme", "--window-days", "7", "--statuses", "invalid", "--json"],
    ));
    assert_eq!(rules["window_days"], 7);
    db.client()
        .await
        .execute("UPDATE phone_numbers SET status = 7 WHERE phone = 79161234567", &[])
        .await
        .unwrap();
    let dry =
        json(&dialpool(&db, &["provider", "return", "acme", "--dry-run", "--json", "--data-dir", &data_arg]));
    assert_eq!((dry["numbers"].as_i64(), dry["return_id"].is_null()), (Some(1), true));
    let made = json(&dialpool(&db, &["provider", "return", "acme", "--json", "--data-dir", &data_arg]));
    let file = std::fs::read_to_string(data.join(made["file"].as_str().unwrap())).unwrap();
    assert!(file.contains("79161234567,invalid,"), "{file}");
    assert_eq!(count(&db, "SELECT count(*) FROM provider_return_numbers").await, 1);

    // Refused rows: the rule is kept, and acme selling the same number again makes a
    // row to send back.
    let rules = json(&dialpool(
        &db,
        &["provider", "returns", "acme", "--window-days", "7", "--refused", "duplicate", "--json"],
    ));
    assert_eq!(
        (rules["statuses"].clone(), rules["refused"].clone()),
        (serde_json::json!([]), serde_json::json!(["duplicate"]))
    );
    let again = temp_path("returns-again.csv");
    std::fs::write(&again, "phone\n+79031112233\n").unwrap();
    succeeded(&dialpool(
        &db,
        &["import", &again.to_string_lossy(), "--provider", "acme", "--data-dir", &data_arg],
    ));
    let dry =
        json(&dialpool(&db, &["provider", "return", "acme", "--dry-run", "--json", "--data-dir", &data_arg]));
    assert_eq!(dry["by_reason"], serde_json::json!({"duplicate": 1}), "{dry}");
    let blocks =
        json(&dialpool(&db, &["provider", "scorecard", "--by", "block", "--prefix", "+7903", "--json"]));
    assert_eq!(blocks["by"], "block");
    let bad = dialpool(&db, &["provider", "scorecard", "--prefix", "7903"]);
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("by=block"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let _ = std::fs::remove_file(&again);
    let _ = std::fs::remove_dir_all(&data);
    let _ = std::fs::remove_file(&leads);
    let _ = std::fs::remove_file(&xlsx);
}

#[tokio::test]
async fn groups_and_block_rules_from_the_command_line() {
    let db = TestDb::new().await;
    succeeded(&dialpool(&db, &["provider", "add", "acme", "--name", "Acme", "--region", "RU"]));
    let added = json(&dialpool(&db, &["groups", "add", "household", "--attribute", "address", "--json"]));
    assert_eq!(added["rule"]["attributes"], serde_json::json!(["address"]));
    let leads = temp_path("groups-leads.csv");
    std::fs::write(
        &leads,
        "phone,address\n+77011230001,1 Abay Ave\n+77011230002,1 ABAY AVE\n+77021230003,\n",
    )
    .unwrap();
    succeeded(&dialpool(&db, &["import", &leads.to_string_lossy(), "--provider", "acme", "--json"]));
    let explained = json(&dialpool(&db, &["explain", "+77011230001", "--json"]));
    assert_eq!(explained["group"]["size"], 2, "{explained}");
    let listed = json(&dialpool(&db, &["groups", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let rebuilt = json(&dialpool(&db, &["groups", "rebuild", "--json"]));
    assert_eq!(rebuilt["regrouped"], 0);
    // A pool rule for the block +7 701 only.
    let project = json(&dialpool(
        &db,
        &[
            "project",
            "create",
            "--name",
            "Block",
            "--time-zone",
            "Asia/Almaty",
            "--quota",
            "10",
            "--source",
            "any@+7 701",
            "--window",
            "daily=00:00-24:00",
            "--json",
        ],
    ));
    assert_eq!(project["sources"][0]["prefix"], "7701");
    let bad = dialpool(
        &db,
        &["project", "create", "--name", "Bad", "--time-zone", "UTC", "--quota", "1", "--source", "any@KZ"],
    );
    assert_eq!(bad.status.code(), Some(65), "{}", String::from_utf8_lossy(&bad.stderr));
    let removed = json(&dialpool(&db, &["groups", "remove", &added["rule"]["id"].to_string(), "--json"]));
    assert_eq!(removed["regrouped"], 2);
    let _ = std::fs::remove_file(&leads);
}

/// Runs `dialpool` on a pseudo-terminal (util-linux `script`), as a person at a terminal
/// does; returns what the terminal showed.
fn on_a_terminal(db: &TestDb, args: &[&str]) -> String {
    let command =
        std::iter::once(env!("CARGO_BIN_EXE_dialpool")).chain(args.iter().copied()).collect::<Vec<_>>();
    let output = Command::new("script")
        .args(["-qec", &command.join(" "), "/dev/null"])
        .env("DATABASE_URL", db.url())
        .env_remove("DIALPOOL_TENANT")
        .stdin(Stdio::null())
        .output()
        .expect("run script");
    let shown = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "failed: {shown}");
    shown
}

#[tokio::test]
async fn long_commands_draw_a_bar_on_a_terminal_and_nothing_when_piped() {
    let db = TestDb::new().await;
    succeeded(&dialpool(&db, &["provider", "add", "acme", "--name", "Acme", "--region", "RU"]));
    let project = json(&dialpool(
        &db,
        &[
            "project",
            "create",
            "--name",
            "Bar",
            "--time-zone",
            "UTC",
            "--quota",
            "500000",
            "--source",
            "acme",
            "--window",
            "daily=00:00-24:00",
            "--json",
        ],
    ));
    let project = project["id"].as_i64().unwrap().to_string();
    // Enough numbers and events that each command runs long enough for a bar to be drawn.
    db.client()
        .await
        .batch_execute(
            "INSERT INTO phone_numbers (tenant_id, phone, provider_id, import_id, last_import_id)
             SELECT 1, 79000000000 + i, (SELECT id FROM providers), 0, 0 FROM generate_series(1, 200000) i;
             ANALYZE phone_numbers;",
        )
        .await
        .unwrap();

    // Piped (as in a script or CI), or with --json: the summary alone on stdout, no bar.
    let piped = dialpool(&db, &["allocate", "--json"]);
    assert_eq!(json(&piped)["allocated"], 200000);
    assert!(
        !String::from_utf8_lossy(&piped.stderr).contains("picking"),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    let piped = dialpool(&db, &["conversion", "refresh", "--full"]);
    succeeded(&piped);
    assert!(
        !String::from_utf8_lossy(&piped.stderr).contains("reading"),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );

    // On a terminal: the stage and the count, then the summary.
    let out = temp_path("bar.csv");
    let shown = on_a_terminal(&db, &["export", "--project", &project, "--out", out.to_str().unwrap()]);
    assert!(shown.contains("writing rows") && shown.contains("200000 numbers"), "{shown}");
    let shown = on_a_terminal(&db, &["conversion", "refresh", "--full"]);
    let stages = ["finding what changed", "reading events and calls", "aggregating", "writing"];
    assert!(stages.iter().any(|s| shown.contains(s)) && shown.contains("conversion rebuilt"), "{shown}");
    let shown = on_a_terminal(&db, &["conversion", "refresh", "--full", "--json"]);
    assert!(!stages.iter().any(|s| shown.contains(s)), "--json stays quiet: {shown}");
    let _ = std::fs::remove_file(out);
}
