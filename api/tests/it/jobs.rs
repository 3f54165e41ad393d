//! The job queue across processes: a worker killed mid-import leaves the job to another,
//! which imports the file exactly once; two `dialpool serve` processes enqueue each
//! schedule's fire time once; `dialpool jobs` lists, runs and cancels.

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dialpool_engine::testkit::TestDb;

fn dialpool(db: &TestDb) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dialpool"));
    command.env("DATABASE_URL", db.url()).env_remove("DIALPOOL_TENANT").env("NO_COLOR", "1");
    command
}

fn run_json(db: &TestDb, args: &[&str]) -> serde_json::Value {
    let output = dialpool(db).args(args).output().unwrap();
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

async fn scalar(db: &TestDb, sql: &str) -> i64 {
    db.client().await.query_one(sql, &[]).await.unwrap().get(0)
}

fn worker(db: &TestDb) -> Child {
    dialpool(db)
        .args(["jobs", "work", "--lock-s", "3", "--concurrency", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// A CSV of `rows` distinct Russian mobile numbers, big enough that an import of it is
/// still running when a test stops its process.
fn numbers_file(db: &TestDb, name: &str, rows: i64) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("dialpool-job-{name}-{}.csv", db.name));
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(file, "phone,note").unwrap();
    for i in 0..rows {
        writeln!(file, "+7916{i:07},row {i}").unwrap();
    }
    path
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn a_worker_killed_mid_import_leaves_the_job_to_another_which_imports_the_file_once() {
    let db = TestDb::new().await;
    run_json(&db, &["provider", "add", "acme", "--name", "Acme", "--region", "RU", "--json"]);
    let rows = 300_000;
    let path = numbers_file(&db, "kill", rows);
    let args = serde_json::json!({"provider": "acme", "path": path}).to_string();
    let queued = run_json(&db, &["jobs", "run", "import", "--args", &args, "--json"]);
    let id = queued["id"].as_i64().unwrap();
    assert_eq!(queued["state"], "queued");

    // The first worker claims it and gets going; it is killed once the import's
    // transaction has written numbers and the worker has reported progress.
    let mut first = Killed(worker(&db));
    let started = Instant::now();
    loop {
        let writing = scalar(
            &db,
            "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
              WHERE c.relname LIKE 'phone_numbers_p%' AND l.mode = 'RowExclusiveLock' AND l.pid <> pg_backend_pid()",
        )
        .await;
        let reported = scalar(
            &db,
            &format!("SELECT count(*) FROM jobs WHERE id = {id} AND (progress->>'done')::bigint > 0"),
        )
        .await;
        if writing > 0 && reported > 0 {
            break;
        }
        assert!(first.0.try_wait().unwrap().is_none(), "the worker exited");
        assert!(started.elapsed() < Duration::from_secs(120), "the import never started writing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        scalar(&db, &format!("SELECT count(*) FROM jobs WHERE id = {id} AND state = 'running'")).await,
        1
    );
    first.0.kill().unwrap();
    first.0.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while scalar(&db, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'").await > 0 {
        assert!(Instant::now() < deadline, "the killed worker's transaction never ended");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM phone_numbers").await,
        0,
        "nothing of the first run remains"
    );

    // A second worker takes the job once the dead one's lock (3 s) has run out.
    let _second = Killed(worker(&db));
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let state: String =
            db.client().await.query_one("SELECT state FROM jobs WHERE id = $1", &[&id]).await.unwrap().get(0);
        if state == "succeeded" {
            break;
        }
        assert!(matches!(state.as_str(), "running" | "queued"), "the job ended {state}");
        assert!(Instant::now() < deadline, "the second worker never finished the job");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(scalar(&db, &format!("SELECT attempts::bigint FROM jobs WHERE id = {id}")).await, 2);
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM imports WHERE status = 'succeeded'").await,
        1,
        "imported once"
    );
    assert_eq!(scalar(&db, "SELECT count(*) FROM phone_numbers").await, rows);
    let result = run_json(&db, &["jobs", "list", "--kind", "import", "--json"]);
    assert_eq!(result[0]["result"]["inserted"], rows, "the import summary is the job's result");
    let _ = std::fs::remove_file(&path);
}

#[tokio::test]
async fn two_servers_enqueue_each_fire_time_of_a_schedule_once() {
    let db = TestDb::new().await;
    // Migrated, with the defaults, before the servers start.
    run_json(&db, &["migrate", "--json"]);
    let data = std::env::temp_dir().join(format!("dialpool-two-servers-{}", db.name));
    let serve = || {
        Killed(
            dialpool(&db)
                .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", data.to_str().unwrap()])
                .env("DIALPOOL_SCHEDULE_TICK_S", "1")
                .env("DIALPOOL_SFTP_LISTEN", "off")
                // No worker: the jobs stay queued to be counted.
                .env("DIALPOOL_JOBS_CONCURRENCY", "0")
                .env("DIALPOOL_ADMIN_PASSWORD", "two servers password")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        )
    };
    let client = db.client().await;
    let (a, b) = (serve(), serve());
    // Both have made the defaults; a schedule firing every second is added.
    let deadline = Instant::now() + Duration::from_secs(60);
    while scalar(&db, "SELECT count(*) FROM schedules WHERE system_key = 'conversion_refresh'").await == 0 {
        assert!(Instant::now() < deadline, "the servers never started");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client
        .execute(
            "INSERT INTO schedules (tenant_id, name, cron, kind, args) VALUES (1, 'every second', '* * * * * *', 'allocation', '{}')",
            &[],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(6)).await;
    drop((a, b));
    let fired = scalar(
        &db,
        "SELECT count(*) FROM jobs j JOIN schedules s ON s.id = j.schedule_id WHERE s.name = 'every second'",
    )
    .await;
    let distinct = scalar(
        &db,
        "SELECT count(DISTINCT j.run_at) FROM jobs j JOIN schedules s ON s.id = j.schedule_id WHERE s.name = 'every second'",
    )
    .await;
    assert!(fired >= 3, "the schedule fired about every tick: {fired}");
    assert_eq!(fired, distinct, "each fire time once");
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn jobs_run_waits_for_a_worker_and_cancel_stops_a_waiting_job() {
    let db = TestDb::new().await;
    run_json(&db, &["migrate", "--json"]);
    let queued =
        run_json(&db, &["jobs", "run", "partition_maintenance", "--args", "{\"months_ahead\": 2}", "--json"]);
    let cancelled = run_json(&db, &["jobs", "cancel", &queued["id"].to_string(), "--json"]);
    assert_eq!(cancelled["state"], "cancelled");
    let again = dialpool(&db).args(["jobs", "cancel", &queued["id"].to_string()]).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing to cancel"));
    let bad = dialpool(&db).args(["jobs", "run", "reindex"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("'reindex' is not one of"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );

    let _worker = Killed(worker(&db));
    let done = run_json(&db, &["jobs", "run", "conversion_refresh", "--wait", "--json"]);
    assert_eq!(done["state"], "succeeded");
    assert_eq!(done["result"]["full"], true);
    let retried = run_json(&db, &["jobs", "retry", &queued["id"].to_string(), "--json"]);
    assert_eq!(retried["state"], "queued");
}

#[tokio::test]
async fn schedules_and_jobs_over_http_need_settings_manage_and_check_what_they_are_given() {
    use axum::http::{Method, StatusCode};
    use serde_json::json;

    let api = crate::support::Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leads").await;
    api.dial_project(provider, 1).await;
    dialpool_engine::platform::schedule::ensure_defaults(&**api.db.client().await).await.unwrap();
    // A tenant administrator sees the tenant's schedules (its project's daily allocation),
    // not the installation's own.
    let listed = api.get("/api/v1/schedules", &admin).await.expect(StatusCode::OK).json();
    let names: Vec<&str> = listed.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Daily allocation: Dial (#1)"]);

    let bad = api
        .post(
            "/api/v1/schedules",
            &admin,
            json!({"name": "Nightly", "cron": "0 25 * * *", "kind": "allocation"}),
        )
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .json();
    assert!(bad["detail"].as_str().unwrap().contains("cron"), "{bad}");
    let created = api
        .post(
            "/api/v1/schedules",
            &admin,
            json!({"name": "Nightly", "cron": "30 2 * * *", "time_zone": "Europe/Moscow", "kind": "allocation"}),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(created["next_fire_at"].as_str().unwrap()[11..16], *"23:30", "02:30 in Moscow");
    let id = created["id"].as_i64().unwrap();
    api.post(
        "/api/v1/schedules",
        &admin,
        json!({"name": "nightly", "cron": "* * * * *", "kind": "allocation"}),
    )
    .await
    .expect(StatusCode::CONFLICT);
    let disabled = api
        .request(
            Method::PUT,
            &format!("/api/v1/schedules/{id}"),
            &admin,
            Some(json!({"name": "Nightly", "cron": "30 2 * * *", "kind": "allocation", "enabled": false})),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!((disabled["enabled"].clone(), disabled["next_fire_at"].clone()), (json!(false), json!(null)));

    // A job of the tenant, cancelled while it waits; retried.
    let job = dialpool_engine::platform::job::enqueue(
        &**api.db.client().await,
        &dialpool_engine::platform::job::NewJob::new(
            Some(dialpool_engine::TenantId(1)),
            dialpool_engine::platform::job::JobKind::Allocation,
            json!({}),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    let cancelled = api
        .post(&format!("/api/v1/jobs/{job}/cancel"), &admin, json!({}))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(cancelled["state"], "cancelled");
    api.post(&format!("/api/v1/jobs/{job}/cancel"), &admin, json!({})).await.expect(StatusCode::CONFLICT);
    let listed = api.get("/api/v1/jobs?state=cancelled", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(listed[0]["id"], job);
    api.post(&format!("/api/v1/jobs/{job}/retry"), &admin, json!({})).await.expect(StatusCode::OK);
    api.request(Method::DELETE, &format!("/api/v1/schedules/{id}"), &admin, None)
        .await
        .expect(StatusCode::NO_CONTENT);

    // A manager without settings.manage may not.
    let manager = api.manager_of_another_project().await;
    api.get("/api/v1/jobs", &manager).await.expect(StatusCode::FORBIDDEN);
    api.get("/api/v1/schedules", &manager).await.expect(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn sftp_accounts_over_http_are_checked_and_never_show_a_password() {
    use axum::http::StatusCode;
    use serde_json::json;

    let api = crate::support::Api::new().await;
    let admin = api.admin().await;
    api.provider(&admin, "leads").await;
    let key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHBhcnRuZXIga2V5IGZvciB0aGUgdGVzdHMgb25seSE= partner";
    let created = api
        .post(
            "/api/v1/sftp/accounts",
            &admin,
            json!({"username": "leads-drop", "provider_code": "leads", "password": "partner password 1", "public_keys": [key]}),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(
        (created["has_password"].clone(), created["public_keys"][0].clone()),
        (json!(true), json!(key))
    );
    assert!(!created.to_string().contains("partner password 1") && created.get("password_hash").is_none());
    for (body, field) in [
        (json!({"username": "x2", "provider_code": "leads"}), "password"),
        (json!({"username": "x3", "provider_code": "leads", "public_keys": ["not a key"]}), "public_keys"),
        (
            json!({"username": "Bad Name", "provider_code": "leads", "password": "partner password 1"}),
            "username",
        ),
        (json!({"username": "x4", "provider_code": "leads", "password": "short"}), "password"),
    ] {
        let refused = api
            .post("/api/v1/sftp/accounts", &admin, body)
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY)
            .json();
        assert!(refused["detail"].as_str().unwrap().contains(field), "{refused}");
    }
    api.post(
        "/api/v1/sftp/accounts",
        &admin,
        json!({"username": "leads-drop", "provider_code": "leads", "password": "partner password 1"}),
    )
    .await
    .expect(StatusCode::CONFLICT);
    api.post(
        "/api/v1/sftp/accounts",
        &admin,
        json!({"username": "x5", "provider_code": "nobody", "password": "partner password 1"}),
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    let listed = api.get("/api/v1/sftp/accounts", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    let manager = api.manager_of_another_project().await;
    api.get("/api/v1/sftp/accounts", &manager).await.expect(StatusCode::FORBIDDEN);
    api.get("/api/v1/sftp/uploads", &manager).await.expect(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn remotes_over_http_never_show_a_credential_and_stay_in_their_tenant() {
    use axum::http::{Method, StatusCode};
    use serde_json::json;

    let api = crate::support::Api::new().await;
    let admin = api.admin().await;
    api.provider(&admin, "leads").await;
    // A port nothing listens on: the connection test reports it, nothing hangs.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let body = json!({
        "name": "Leads drop", "host": "127.0.0.1", "port": closed, "username": "dialpool",
        "password": "remote secret 1", "direction": "pull_numbers", "provider_code": "leads",
        "remote_dir": "/drop", "file_pattern": "*.csv", "after_pull": "move", "move_to": "done",
        "cron": "0 * * * *"
    });
    let created =
        api.post("/api/v1/sftp/remotes", &admin, body.clone()).await.expect(StatusCode::CREATED).json();
    let id = created["id"].as_i64().unwrap();
    assert_eq!(
        (created["has_password"].clone(), created["has_private_key"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(created["host_key_fingerprint"], json!(null));
    assert!(!created.to_string().contains("remote secret 1"), "{created}");
    // Its schedule is kept with it.
    let schedules = api.get("/api/v1/schedules", &admin).await.expect(StatusCode::OK).json();
    let schedule =
        schedules.as_array().unwrap().iter().find(|s| s["kind"] == json!("sftp_pull")).unwrap().clone();
    assert_eq!(
        (schedule["cron"].clone(), schedule["args"].clone()),
        (json!("0 * * * *"), json!({"remote_id": id}))
    );
    let stored: Vec<u8> = api
        .db
        .client()
        .await
        .query_one("SELECT password_sealed FROM sftp_remotes WHERE id = $1", &[&id])
        .await
        .unwrap()
        .get(0);
    assert!(!String::from_utf8_lossy(&stored).contains("remote secret 1"), "sealed at rest");

    for (change, field) in [
        (json!({"provider_code": null}), "provider_code"),
        (json!({"move_to": null}), "move_to"),
        (json!({"file_pattern": "in/*.csv"}), "file_pattern"),
        (json!({"cron": "every hour"}), "cron"),
        (json!({"host": "evil host; rm"}), "host"),
    ] {
        let mut bad = body.clone();
        for (key, value) in change.as_object().unwrap() {
            bad[key] = value.clone();
        }
        bad["name"] = json!(format!("bad {field}"));
        let refused = api
            .post("/api/v1/sftp/remotes", &admin, bad)
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY)
            .json();
        assert!(refused["detail"].as_str().unwrap().contains(field), "{refused}");
    }
    api.post("/api/v1/sftp/remotes", &admin, body.clone()).await.expect(StatusCode::CONFLICT);

    let test = api
        .post(&format!("/api/v1/sftp/remotes/{id}/test"), &admin, json!({}))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!((test["ok"].clone(), test["stage"].clone()), (json!(false), json!("connect")), "{test}");
    api.post(&format!("/api/v1/sftp/remotes/{id}/host-key"), &admin, json!({"fingerprint": "SHA256:x"}))
        .await
        .expect(StatusCode::CONFLICT);
    let queued = api
        .post(&format!("/api/v1/sftp/remotes/{id}/run"), &admin, json!({}))
        .await
        .expect(StatusCode::ACCEPTED)
        .json();
    assert!(queued["job_id"].as_i64().is_some());

    // Without the password, an update keeps it.
    let mut renamed = body.clone();
    renamed["name"] = json!("Leads drop 2");
    renamed.as_object_mut().unwrap().remove("password");
    let updated = api
        .request(Method::PUT, &format!("/api/v1/sftp/remotes/{id}"), &admin, Some(renamed))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (updated["name"].clone(), updated["has_password"].clone()),
        (json!("Leads drop 2"), json!(true))
    );
    api.get("/api/v1/sftp/transfers", &admin).await.expect(StatusCode::OK);

    let manager = api.manager_of_another_project().await;
    api.get("/api/v1/sftp/remotes", &manager).await.expect(StatusCode::FORBIDDEN);
    api.post(&format!("/api/v1/sftp/remotes/{id}/test"), &manager, json!({}))
        .await
        .expect(StatusCode::FORBIDDEN);

    let other = api.other_tenant_admin(&admin).await;
    for (method, uri) in [
        (Method::GET, format!("/api/v1/sftp/remotes/{id}")),
        (Method::POST, format!("/api/v1/sftp/remotes/{id}/test")),
        (Method::POST, format!("/api/v1/sftp/remotes/{id}/run")),
        (Method::DELETE, format!("/api/v1/sftp/remotes/{id}")),
    ] {
        let reply = api.request(method.clone(), &uri, &other, Some(json!({}))).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {uri}: {}", reply.text());
    }
    let theirs = api.get("/api/v1/sftp/remotes", &other).await.expect(StatusCode::OK).json();
    assert_eq!(theirs, json!([]));

    api.request(Method::DELETE, &format!("/api/v1/sftp/remotes/{id}"), &admin, None)
        .await
        .expect(StatusCode::NO_CONTENT);
    let left: i64 = api
        .db
        .client()
        .await
        .query_one("SELECT count(*) FROM schedules WHERE kind = 'sftp_pull'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "the schedule goes with the remote");

    // A tenant's schedule may not run installation-wide work.
    let refused = api
        .post("/api/v1/schedules", &admin, json!({"name": "Wipe", "cron": "* * * * *", "kind": "retention"}))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .json();
    assert!(refused["detail"].as_str().unwrap().contains("installation"), "{refused}");
    // Nor act in someone else's name.
    let forged = api
        .post(
            "/api/v1/schedules",
            &admin,
            json!({"name": "Forged", "cron": "* * * * *", "kind": "allocation", "args": {"actor": {"label": "ceo@example.com"}}}),
        )
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .json();
    assert!(forged["detail"].as_str().unwrap().contains("actor"), "{forged}");
}

#[tokio::test]
async fn the_remote_cli_adds_lists_tests_and_refuses_an_unconfirmed_trust() {
    use std::io::Write;

    let db = TestDb::new().await;
    db.client()
        .await
        .execute("INSERT INTO providers (tenant_id, code, name) VALUES (1, 'acme', 'Acme')", &[])
        .await
        .unwrap();
    let data = std::env::temp_dir().join(format!("dialpool-cli-remote-{}", db.name));
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let mut add = dialpool(&db)
        .args([
            "sftp",
            "remote",
            "add",
            "Acme drop",
            "--host",
            "127.0.0.1",
            "--port",
            &closed,
            "--user",
            "dp",
        ])
        .args(["--password-stdin", "--direction", "pull_numbers", "--provider", "acme", "--pattern", "*.csv"])
        .args(["--json", "--data-dir"])
        .arg(&data)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    add.stdin.take().unwrap().write_all(b"remote secret 1\n").unwrap();
    let added = add.wait_with_output().unwrap();
    assert!(added.status.success(), "{}", String::from_utf8_lossy(&added.stderr));
    let remote: serde_json::Value = serde_json::from_slice(&added.stdout).unwrap();
    assert_eq!(remote["has_password"], serde_json::json!(true));
    let id = remote["id"].as_i64().unwrap().to_string();
    assert!(data.join("secret.key").exists(), "the secret key is generated in the data directory");

    let listed = run_json(&db, &["sftp", "remote", "list", "--json"]);
    assert_eq!(listed[0]["name"], serde_json::json!("Acme drop"));
    // Nothing listens: the test says so and exits 69 (a remote host unavailable).
    let tested =
        dialpool(&db).args(["sftp", "remote", "test", &id, "--data-dir"]).arg(&data).output().unwrap();
    assert_eq!(tested.status.code(), Some(69), "{}", String::from_utf8_lossy(&tested.stderr));
    assert!(String::from_utf8_lossy(&tested.stdout).contains("cannot connect"));
    let trusted = dialpool(&db).args(["sftp", "remote", "trust", &id, "SHA256:abc"]).output().unwrap();
    assert_eq!(trusted.status.code(), Some(4), "no key was offered yet: a conflict");
    assert!(String::from_utf8_lossy(&trusted.stderr).contains("test the connection first"));
    let transfers = run_json(&db, &["sftp", "transfers", "--json"]);
    assert_eq!(transfers, serde_json::json!([]));
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn a_server_stopped_with_sigterm_hands_its_running_job_back_and_exits_cleanly() {
    let db = TestDb::new().await;
    run_json(&db, &["provider", "add", "acme", "--name", "Acme", "--region", "RU", "--json"]);
    let rows = 300_000;
    let path = numbers_file(&db, "term", rows);
    let data = std::env::temp_dir().join(format!("dialpool-job-term-data-{}", db.name));
    let mut server = Killed(
        dialpool(&db)
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir", data.to_str().unwrap()])
            .env("DIALPOOL_SFTP_LISTEN", "off")
            .env("DIALPOOL_SCHEDULE_TICK_S", "0")
            .env("DIALPOOL_JOBS_CONCURRENCY", "1")
            .env("DIALPOOL_ADMIN_PASSWORD", "graceful stop password")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let args = serde_json::json!({"provider": "acme", "path": path}).to_string();
    let id = run_json(&db, &["jobs", "run", "import", "--args", &args, "--json"])["id"].as_i64().unwrap();
    // The server's worker is in the middle of it: numbers written, progress reported.
    let started = Instant::now();
    while scalar(
        &db,
        &format!("SELECT count(*) FROM jobs WHERE id = {id} AND (progress->>'done')::bigint > 0"),
    )
    .await
        == 0
    {
        assert!(server.0.try_wait().unwrap().is_none(), "the server exited");
        assert!(started.elapsed() < Duration::from_secs(120), "the server never started the import");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // What `kill`, systemd and container runtimes send to stop a service.
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "a stop on SIGTERM is a clean exit: {status:?}");
    // The job was handed back at once (not left `running` until its lock runs out) or had
    // just finished; nothing of a half-done import stays.
    let (state, locked): (String, Option<String>) = {
        let row = db
            .client()
            .await
            .query_one("SELECT state::text, locked_by FROM jobs WHERE id = $1", &[&id])
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    assert!(matches!(state.as_str(), "queued" | "succeeded"), "the job was left {state}");
    assert_eq!(locked, None, "no server holds the job");
    if state == "queued" {
        assert_eq!(
            scalar(&db, "SELECT count(*) FROM phone_numbers").await,
            0,
            "the stopped import rolled back"
        );
    }

    // Another worker finishes it: every number once.
    let _second = Killed(worker(&db));
    let deadline = Instant::now() + Duration::from_secs(180);
    while scalar(&db, &format!("SELECT count(*) FROM jobs WHERE id = {id} AND state = 'succeeded'")).await
        == 0
    {
        assert!(Instant::now() < deadline, "the handed-back job never finished");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(scalar(&db, "SELECT count(*) FROM phone_numbers").await, rows);
    assert_eq!(
        scalar(&db, "SELECT count(*) FROM imports WHERE status = 'succeeded'").await,
        1,
        "imported once"
    );
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir_all(&data);
}
