//! The job queue against a real PostgreSQL: claims never overlap, unique keys dedupe,
//! cancel (waiting and running), failures back off and end dead, retry, a dead worker's
//! job is claimed again and its first run can no longer commit, a worker runs jobs end
//! to end, and schedules enqueue each fire time once however many tickers run.

use std::time::Duration;

use dialpool_engine::TenantId;
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::platform::job::{self, JobKind, JobScope, JobState, NewJob, Renewal};
use dialpool_engine::platform::schedule;
use dialpool_engine::testkit::TestDb;
use dialpool_jobs::{Worker, WorkerConfig};
use serde_json::json;

const TENANT: TenantId = TenantId(1);
const SCOPE: JobScope = JobScope { tenant: TENANT, system: true };

fn refresh_job() -> NewJob {
    NewJob::new(None, JobKind::ConversionRefresh, json!({}))
}

async fn state_of(db: &TestDb, id: i64) -> job::JobRecord {
    job::get(&**db.client().await, SCOPE, id).await.unwrap()
}

/// The job once it is neither waiting nor running (within 10 s).
async fn ended(db: &TestDb, id: i64) -> job::JobRecord {
    for _ in 0..200 {
        let job = state_of(db, id).await;
        if !matches!(job.state, JobState::Queued | JobState::Running) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} did not end: {:?}", state_of(db, id).await);
}

#[tokio::test]
async fn claims_never_overlap_and_a_unique_key_enqueues_once() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let mut keyed = refresh_job();
    keyed.unique_key = Some("once".into());
    let first = job::enqueue(&**client, &keyed).await.unwrap();
    assert!(first.is_some());
    assert_eq!(job::enqueue(&**client, &keyed).await.unwrap(), None, "the key is taken");
    job::enqueue(&**client, &refresh_job()).await.unwrap().unwrap();

    // Two workers claiming at once get different jobs, then there are none.
    let (a, b) = (db.client().await, db.client().await);
    let lock = Duration::from_secs(30);
    let (x, y) = tokio::join!(
        job::claim(&**a, "a", &[JobKind::ConversionRefresh], lock),
        job::claim(&**b, "b", &[JobKind::ConversionRefresh], lock)
    );
    let (x, y) = (x.unwrap().unwrap(), y.unwrap().unwrap());
    assert_ne!(x.id, y.id);
    assert!(job::claim(&**a, "a", &[JobKind::ConversionRefresh], lock).await.unwrap().is_none());
    assert!(
        job::claim(&**a, "a", &[JobKind::Import], lock).await.unwrap().is_none(),
        "only the kinds asked for"
    );
    job::complete(&**a, &x, &json!({"ok": true})).await.unwrap();
    let done = state_of(&db, x.id).await;
    assert_eq!((done.state, done.result), (JobState::Succeeded, Some(json!({"ok": true}))));

    // A waiting job is cancelled at once; a running one when its worker next renews.
    let mut writer = db.client().await;
    let waiting = job::enqueue(&**client, &refresh_job()).await.unwrap().unwrap();
    let cancelled = job::cancel(&mut **writer, SCOPE, &Actor::system("test"), waiting).await.unwrap();
    assert_eq!(cancelled.state, JobState::Cancelled);
    let asked = job::cancel(&mut **writer, SCOPE, &Actor::system("test"), y.id).await.unwrap();
    assert!(asked.cancel_requested && asked.state == JobState::Running);
    assert_eq!(job::renew(&**b, &y, lock, &json!({})).await.unwrap(), Renewal::Cancel);
    let error = job::cancel(&mut **writer, SCOPE, &Actor::system("test"), x.id).await.unwrap_err();
    assert!(error.to_string().contains("has ended (succeeded)"), "{error}");
    // Another tenant's administrator does not see the installation's jobs.
    let other = JobScope { tenant: TenantId(2), system: false };
    assert!(job::get(&**client, other, x.id).await.is_err());
}

#[tokio::test]
async fn failures_back_off_and_the_last_attempt_leaves_the_job_dead() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let mut two = refresh_job();
    two.max_attempts = 2;
    let id = job::enqueue(&**client, &two).await.unwrap().unwrap();
    let lock = Duration::from_secs(30);
    let claim = job::claim(&**client, "w", &[JobKind::ConversionRefresh], lock).await.unwrap().unwrap();
    let state = job::fail(&**client, &claim, "first failure", Duration::from_secs(60)).await.unwrap();
    assert_eq!(state, JobState::Retrying);
    let waiting = state_of(&db, id).await;
    let delay = (waiting.run_at - chrono::Utc::now()).num_seconds();
    assert!((55..=76).contains(&delay), "about a minute (with jitter): {delay}");
    assert!(
        job::claim(&**client, "w", &[JobKind::ConversionRefresh], lock).await.unwrap().is_none(),
        "not before"
    );

    client.execute("UPDATE jobs SET run_at = now() WHERE id = $1", &[&id]).await.unwrap();
    let again = job::claim(&**client, "w", &[JobKind::ConversionRefresh], lock).await.unwrap().unwrap();
    assert_eq!(again.attempts, 2);
    assert_eq!(
        job::fail(&**client, &again, "second failure", Duration::from_secs(60)).await.unwrap(),
        JobState::Dead
    );
    let dead = state_of(&db, id).await;
    let errors: Vec<&str> =
        dead.errors.as_array().unwrap().iter().map(|e| e["error"].as_str().unwrap()).collect();
    assert_eq!(errors, ["first failure", "second failure"]);

    // A user retries it: queued again with its attempts reset, errors kept.
    let mut client = db.client().await;
    let retried = job::retry(&mut **client, SCOPE, &Actor::system("test"), id).await.unwrap();
    assert_eq!((retried.state, retried.attempts), (JobState::Queued, 0));
    assert_eq!(retried.errors.as_array().unwrap().len(), 2);
    let error = job::retry(&mut **client, SCOPE, &Actor::system("test"), id).await.unwrap_err();
    assert!(error.to_string().contains("only a dead or cancelled job is retried"), "{error}");
}

#[tokio::test]
async fn a_job_whose_worker_stopped_is_claimed_again_and_the_first_run_cannot_commit() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = job::enqueue(&**client, &refresh_job()).await.unwrap().unwrap();
    let first = job::claim(&**client, "dead", &[JobKind::ConversionRefresh], Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert!(
        job::claim(&**client, "live", &[JobKind::ConversionRefresh], Duration::from_secs(30))
            .await
            .unwrap()
            .is_none()
    );
    // The first worker stops renewing; its lock runs out.
    client
        .execute("UPDATE jobs SET locked_until = now() - interval '1 second' WHERE id = $1", &[&id])
        .await
        .unwrap();
    let second = job::claim(&**client, "live", &[JobKind::ConversionRefresh], Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((second.id, second.attempts), (id, 2));

    // Were the first one only slow, its work could not commit beside the second's.
    let mut other = db.client().await;
    let other: &mut tokio_postgres::Client = &mut other;
    let tx = other.transaction().await.unwrap();
    let error = job::complete_in(&tx, &first, &json!({})).await.unwrap_err();
    assert!(error.to_string().contains("no longer held by dead"), "{error}");
    drop(tx);
    assert_eq!(
        job::renew(&**client, &first, Duration::from_secs(30), &json!({})).await.unwrap(),
        Renewal::Lost
    );
    assert_eq!(
        job::renew(&**client, &second, Duration::from_secs(30), &json!({"done": 1})).await.unwrap(),
        Renewal::Continue
    );
    assert_eq!(state_of(&db, id).await.progress, json!({"done": 1}));
}

#[tokio::test]
async fn a_worker_runs_due_jobs_records_failures_and_wakes_on_a_notification() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let refresh = job::enqueue(&**client, &refresh_job()).await.unwrap().unwrap();
    let partitions = job::enqueue(
        &**client,
        &NewJob::new(None, JobKind::PartitionMaintenance, json!({"months_ahead": 2})),
    )
    .await
    .unwrap()
    .unwrap();
    let bad = job::enqueue(&**client, &NewJob::new(Some(TENANT), JobKind::Allocation, json!({"project": 1})))
        .await
        .unwrap()
        .unwrap();
    let mut config = WorkerConfig::new(std::env::temp_dir());
    config.poll = Duration::from_millis(100);
    config.listen = Some(db.config.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(Worker::new(db.pool.clone(), config).run(async {
        let _ = stopped.await;
    }));
    let done = ended(&db, refresh).await;
    assert_eq!(done.state, JobState::Succeeded);
    assert_eq!(done.result.unwrap()["full"], true, "the first refresh is a full one");
    assert_eq!(ended(&db, partitions).await.state, JobState::Succeeded);
    let failed = ended(&db, bad).await;
    assert_eq!(failed.state, JobState::Dead, "bad arguments are not tried again");
    assert!(
        failed.errors[0]["error"].as_str().unwrap().contains("unknown field `project`"),
        "{:?}",
        failed.errors
    );

    // A job enqueued while the worker waits is picked up on its notification.
    let woken = job::enqueue(&**client, &refresh_job()).await.unwrap().unwrap();
    assert_eq!(ended(&db, woken).await.state, JobState::Succeeded);
    stop.send(()).unwrap();
    worker.await.unwrap();
}

#[tokio::test]
async fn each_fire_time_is_enqueued_once_however_many_tickers_run() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .execute(
            "INSERT INTO projects (tenant_id, name, time_zone, daily_quota) VALUES (1, 'Moscow desk', 'Europe/Moscow', 10)",
            &[],
        )
        .await
        .unwrap();
    schedule::ensure_defaults(&**client).await.unwrap();
    schedule::ensure_defaults(&**client).await.unwrap();
    let listed = schedule::list(&**client, SCOPE).await.unwrap();
    let names: Vec<(&str, &str, &str)> =
        listed.iter().map(|s| (s.name.as_str(), s.cron.as_str(), s.time_zone.as_str())).collect();
    assert_eq!(
        names,
        [
            ("Conversion refresh", "*/5 * * * *", "UTC"),
            ("Partition maintenance", "0 3 * * *", "UTC"),
            ("Retention", "*/15 * * * *", "UTC"),
            ("Daily allocation: Moscow desk (#1)", "0 0 * * *", "Europe/Moscow"),
        ]
    );
    // As if the schedules were made a day ago: each has one due fire time. Two tickers
    // (two servers) run at once.
    client.execute("UPDATE schedules SET updated_at = now() - interval '1 day'", &[]).await.unwrap();
    let now = chrono::Utc::now();
    let (one, two) = (db.client().await, db.client().await);
    let (a, b) = tokio::join!(schedule::enqueue_due(&**one, now), schedule::enqueue_due(&**two, now));
    assert_eq!(a.unwrap() + b.unwrap(), 4, "one job per schedule");
    assert_eq!(schedule::enqueue_due(&**one, now).await.unwrap(), 0, "and none again");
    let jobs: i64 = client
        .query_one("SELECT count(*) FROM jobs WHERE schedule_id IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(jobs, 4);
    let allocation = client
        .query_one("SELECT tenant_id, args, run_at FROM jobs WHERE kind = 'allocation'", &[])
        .await
        .unwrap();
    assert_eq!(allocation.get::<_, Option<i64>>(0), Some(1));
    assert_eq!(allocation.get::<_, serde_json::Value>(1), json!({"project_id": 1}));
    let midnight: chrono::DateTime<chrono::Utc> = allocation.get(2);
    assert_eq!(midnight.format("%H:%M").to_string(), "21:00", "midnight in Moscow");

    // An edit takes effect at the next tick; a bad expression is refused whole.
    let mut writer = db.client().await;
    let id = listed[0].id;
    let input = schedule::ScheduleInput {
        name: "Conversion refresh".into(),
        cron: "* * * * * *".into(),
        time_zone: "UTC".into(),
        kind: JobKind::ConversionRefresh,
        args: json!({}),
        enabled: true,
    };
    let edited = schedule::update(&mut **writer, SCOPE, &Actor::system("test"), id, &input).await.unwrap();
    assert!(edited.next_fire_at.unwrap() <= chrono::Utc::now() + chrono::Duration::seconds(1));
    let bad = schedule::ScheduleInput { cron: "every minute".into(), ..input };
    let error = schedule::update(&mut **writer, SCOPE, &Actor::system("test"), id, &bad).await.unwrap_err();
    assert!(error.to_string().starts_with("invalid cron"), "{error}");
    let error = schedule::delete(&mut **writer, SCOPE, &Actor::system("test"), id).await.unwrap_err();
    assert!(error.to_string().contains("disable it instead"), "{error}");
}

#[tokio::test]
async fn tickers_a_fraction_of_a_second_apart_enqueue_a_fire_time_once() {
    let db = TestDb::new().await;
    let client = db.client().await;
    schedule::ensure_defaults(&**client).await.unwrap();
    // A fixed fire time (01:40 UTC is a conversion refresh) and servers ticking at
    // sub-second instants after it, as real clocks do; all of them at once, then again.
    let fire: chrono::DateTime<chrono::Utc> = "2030-01-15T01:40:00Z".parse().unwrap();
    client
        .execute("UPDATE schedules SET updated_at = $1::timestamptz - interval '1 day'", &[&fire])
        .await
        .unwrap();
    let ticks: Vec<_> = [137_u64, 1_301_500, 2_999_999_999, 4_200_000_001, 59_000_000_017]
        .into_iter()
        .map(|ns| fire + chrono::Duration::nanoseconds(ns as i64))
        .collect();
    let clients = futures_util::future::join_all(ticks.iter().map(|_| db.client())).await;
    let enqueued = futures_util::future::join_all(
        clients.iter().zip(&ticks).map(|(c, at)| schedule::enqueue_due(&***c, *at)),
    )
    .await;
    let total: u32 = enqueued.into_iter().map(Result::unwrap).sum();
    for at in &ticks {
        assert_eq!(schedule::enqueue_due(&**client, *at).await.unwrap(), 0, "nothing more at {at}");
    }
    let refreshes: Vec<chrono::DateTime<chrono::Utc>> = client
        .query("SELECT run_at FROM jobs WHERE kind = 'conversion_refresh'", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(refreshes, [fire], "one refresh, at the whole fire time");
    assert_eq!(
        total,
        1 + 2,
        "the refresh, and the maintenance and retention of 03:00 and 03:30 the day before"
    );
}

#[tokio::test]
async fn an_export_job_delivers_into_a_partners_outbox_and_nowhere_else() {
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO providers (tenant_id, code, name) VALUES (1, 'acme', 'Acme');
             INSERT INTO projects (tenant_id, name, time_zone, daily_quota) VALUES (1, 'Out', 'UTC', 10);
             INSERT INTO phone_numbers (tenant_id, phone, provider_id, project_id, allocated_at, import_id, last_import_id)
             SELECT 1, 79160000000 + i, (SELECT id FROM providers), (SELECT id FROM projects), now(), 0, 0
               FROM generate_series(1, 3) i;",
        )
        .await
        .unwrap();
    let mut writer = db.client().await;
    let account = dialpool_engine::delivery::sftp::account::create(
        &mut **writer,
        TENANT,
        &Actor::system("test"),
        &dialpool_engine::delivery::sftp::account::SftpAccountInput {
            username: "acme-dialer".into(),
            provider_code: "acme".into(),
            password: Some("partner password 1".into()),
            public_keys: Vec::new(),
            quota_mb: None,
            quota_files: None,
            import_options: json!({}),
            enabled: true,
        },
    )
    .await
    .unwrap();
    let data = std::env::temp_dir().join(format!("dialpool-export-outbox-{}", db.name));
    let delivered = job::enqueue(
        &**client,
        &NewJob::new(
            Some(TENANT),
            JobKind::Export,
            json!({"project_id": 1, "sftp_account_id": account.id, "out": "leads.csv"}),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    let escaping = job::enqueue(
        &**client,
        &NewJob::new(
            Some(TENANT),
            JobKind::Export,
            json!({"project_id": 1, "sftp_account_id": account.id, "out": "../inbox/x.csv"}),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    let mut config = WorkerConfig::new(data.clone());
    config.poll = Duration::from_millis(100);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(Worker::new(db.pool.clone(), config).run(async {
        let _ = stopped.await;
    }));
    assert_eq!(ended(&db, delivered).await.state, JobState::Succeeded);
    let outbox = dialpool_engine::delivery::sftp::account::root(&data, account.id).join("outbox");
    let text = std::fs::read_to_string(outbox.join("leads.csv")).unwrap();
    assert_eq!(text.lines().count(), 4, "a header and the project's 3 numbers: {text}");
    let refused = ended(&db, escaping).await;
    assert_eq!(refused.state, JobState::Dead, "a name that leaves the outbox is not tried again");
    assert!(
        refused.errors[0]["error"].as_str().unwrap().contains("a file name (no folders)"),
        "{:?}",
        refused.errors
    );
    assert!(!dialpool_engine::delivery::sftp::account::root(&data, account.id).join("inbox/x.csv").exists());
    stop.send(()).unwrap();
    worker.await.unwrap();
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn retention_deletes_old_finished_files_and_records_and_keeps_the_rest() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let data = std::env::temp_dir().join(format!("dialpool-retention-{}", db.name));
    let month_and_a_half_ago = std::time::SystemTime::now() - Duration::from_secs(45 * 86_400);
    let file = |path: std::path::PathBuf, old: bool| {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "phone\n").unwrap();
        // Both times set from this process's clock, which the retention job reads too (the
        // file system's own stamp may follow another clock).
        let modified = if old { month_and_a_half_ago } else { std::time::SystemTime::now() };
        std::fs::File::options().write(true).open(&path).unwrap().set_modified(modified).unwrap();
        path
    };
    let old_processed = file(data.join("sftp/7/processed/old.csv"), true);
    let new_processed = file(data.join("sftp/7/processed/new.csv"), false);
    let old_waiting = file(data.join("sftp/7/inbox/old.csv"), true);
    let old_sent = file(data.join("remotes/3/sent/old.csv"), true);
    let old_outbox = file(data.join("remotes/3/outbox/old.csv"), true);
    client
        .batch_execute(
            "INSERT INTO jobs (kind, state, finished_at) VALUES
                 ('conversion_refresh', 'succeeded', now() - interval '100 days'),
                 ('conversion_refresh', 'dead', now() - interval '100 days'),
                 ('conversion_refresh', 'succeeded', now() - interval '10 days');
             INSERT INTO jobs (kind, state, run_at) VALUES ('conversion_refresh', 'retrying', now() + interval '1 day');",
        )
        .await
        .unwrap();
    let id =
        job::enqueue(&**client, &NewJob::new(None, JobKind::Retention, json!({}))).await.unwrap().unwrap();
    let mut config = WorkerConfig::new(data.clone());
    config.poll = Duration::from_millis(100);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let worker = tokio::spawn(Worker::new(db.pool.clone(), config).run(async {
        let _ = stopped.await;
    }));
    let done = ended(&db, id).await;
    stop.send(()).unwrap();
    worker.await.unwrap();
    assert_eq!(done.state, JobState::Succeeded, "{:?}", done.errors);
    let result = done.result.unwrap();
    assert_eq!((result["files_deleted"].clone(), result["jobs_deleted"].clone()), (json!(2), json!(2)));
    assert!(!old_processed.exists() && !old_sent.exists());
    assert!(new_processed.exists(), "younger than 30 days");
    assert!(old_waiting.exists() && old_outbox.exists(), "files still waiting to be imported or sent stay");
    let left: Vec<String> = client
        .query("SELECT state FROM jobs WHERE kind = 'conversion_refresh' ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(left, ["succeeded", "retrying"]);
    let _ = std::fs::remove_dir_all(&data);
}

#[tokio::test]
async fn an_export_whose_job_is_given_up_is_marked_failed_not_left_running() {
    use dialpool_engine::delivery::export::{self, ExportRequest};
    let db = TestDb::new().await;
    let client = db.client().await;
    client
        .batch_execute(
            "INSERT INTO providers (tenant_id, code, name) VALUES (1, 'acme', 'Acme');
             INSERT INTO projects (tenant_id, name, time_zone, daily_quota) VALUES (1, 'Out', 'UTC', 10);",
        )
        .await
        .unwrap();
    let project: i64 = client.query_one("SELECT id FROM projects", &[]).await.unwrap().get(0);
    let request = |name: &str| ExportRequest {
        tenant: TENANT,
        project_id: project,
        filter: Default::default(),
        options: Default::default(),
        out: std::env::temp_dir().join(name),
        stored_path: Some(name.to_owned()),
        expires_at: None,
        actor: Actor::system("test"),
    };
    let status = |id: i64| {
        let db = &db;
        async move {
            let row = db
                .client()
                .await
                .query_one("SELECT status, error FROM exports WHERE id = $1", &[&id])
                .await
                .unwrap();
            (row.get::<_, String>(0), row.get::<_, Option<String>>(1))
        }
    };
    // Cancelled while waiting.
    let waiting = export::start(&db.pool, &request("a.csv")).await.unwrap();
    let job_a = job::enqueue(
        &**client,
        &NewJob::new(
            Some(TENANT),
            JobKind::Export,
            json!({"project_id": project, "out": "a.csv", "export_id": waiting}),
        ),
    )
    .await
    .unwrap()
    .unwrap();
    let mut writer = db.client().await;
    job::cancel(&mut **writer, SCOPE, &Actor::system("test"), job_a).await.unwrap();
    assert_eq!(status(waiting).await, ("failed".to_owned(), Some("cancelled".to_owned())));
    // Dead after its last attempt.
    let dying = export::start(&db.pool, &request("b.csv")).await.unwrap();
    let mut once = NewJob::new(
        Some(TENANT),
        JobKind::Export,
        json!({"project_id": project, "out": "b.csv", "export_id": dying}),
    );
    once.max_attempts = 1;
    job::enqueue(&**client, &once).await.unwrap().unwrap();
    let claim =
        job::claim(&**client, "w", &[JobKind::Export], Duration::from_secs(30)).await.unwrap().unwrap();
    let state = job::fail(&**client, &claim, "disk full", Duration::from_secs(1)).await.unwrap();
    assert_eq!(state, JobState::Dead);
    assert_eq!(status(dying).await, ("failed".to_owned(), Some("disk full".to_owned())));
}

#[tokio::test]
async fn a_finished_job_shows_a_full_bar_and_not_the_last_running_message() {
    let db = TestDb::new().await;
    let client = db.client().await;
    let id = job::enqueue(&**client, &refresh_job()).await.unwrap().unwrap();
    let claim = job::claim(&**client, "w", &[JobKind::ConversionRefresh], Duration::from_secs(30))
        .await
        .unwrap()
        .unwrap();
    let running = json!({"done": 100000, "total": 300000, "message": "300000 rows read, 100000 stored"});
    job::renew(&**client, &claim, Duration::from_secs(30), &running).await.unwrap();
    job::complete(&**client, &claim, &json!({"total": 300000, "inserted": 300000})).await.unwrap();
    let done = state_of(&db, id).await;
    assert_eq!(done.progress, json!({"done": 300000, "total": 300000}));
}
