//! Remote SFTP hosts, against a real OpenSSH `sshd` started here on a loopback port with
//! its own configuration and host keys (Debian's openssh-server): the host key is
//! confirmed before any credential is sent, and a changed key is refused; pulled files
//! import once whatever is done with them on the host; an export is pushed; a failure
//! alerts. Password sign-in is tested against the embedded server, since sshd would
//! need a system account's password.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use dialpool_engine::TenantId;
use dialpool_engine::delivery::sftp::remote::{self as sftp_remote, AfterPull, Direction, SftpRemoteInput};
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::platform::job::{self, JobKind, NewJob};
use dialpool_engine::platform::secret::SecretKey;
use dialpool_engine::testkit::TestDb;
use dialpool_sftp::remote;

const TENANT: TenantId = TenantId(1);

/// An OpenSSH server of our own: its config, host key and authorized key in `dir`.
struct Sshd {
    child: Child,
}

impl Sshd {
    fn start(dir: &Path, port: u16, host_key: &Path) -> Sshd {
        // sshd checks that its privilege separation directory exists when run as root.
        let _ = std::fs::create_dir_all("/run/sshd");
        let config = dir.join("sshd_config");
        std::fs::write(
            &config,
            format!(
                "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nPidFile {}\nAuthorizedKeysFile {}\n\
                 StrictModes no\nUsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\nSubsystem sftp internal-sftp\nLogLevel VERBOSE\n",
                host_key.display(),
                dir.join("sshd.pid").display(),
                dir.join("authorized_keys").display(),
            ),
        )
        .unwrap();
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"].into_iter().find(|p| Path::new(p).exists()).expect(
            "OpenSSH's sshd is not installed (Debian package openssh-server; scripts/setup.sh installs it)",
        );
        let child = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("sshd.log")).unwrap())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(10), "sshd did not listen: {}", log(dir));
            std::thread::sleep(Duration::from_millis(50));
        }
        Sshd { child }
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("sshd.log")).unwrap_or_default()
}

fn keygen(path: &Path) {
    let made =
        Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-f"]).arg(path).output().unwrap();
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
}

/// What `ssh-keygen -l` prints for a key: its fingerprint as OpenSSH shows it.
fn openssh_fingerprint(public: &Path) -> String {
    let listed = Command::new("ssh-keygen").arg("-lf").arg(public).output().unwrap();
    String::from_utf8_lossy(&listed.stdout).split_whitespace().nth(1).unwrap().to_owned()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn current_user() -> String {
    let out = Command::new("id").arg("-un").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn numbers_file(path: &Path, rows: usize, first: usize) {
    let mut text = String::from("phone\n");
    for i in 0..rows {
        text.push_str(&format!("+7916{:07}\n", first + i));
    }
    std::fs::write(path, text).unwrap();
}

struct Setup {
    db: TestDb,
    dir: PathBuf,
    data: PathBuf,
    key: SecretKey,
    client_key: PathBuf,
    host_keys: [PathBuf; 2],
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn setup() -> Setup {
    let db = TestDb::new().await;
    let dir = std::env::temp_dir().join(format!("dialpool-remote-{}", db.name));
    std::fs::create_dir_all(&dir).unwrap();
    let client_key = dir.join("client_key");
    keygen(&client_key);
    std::fs::copy(client_key.with_extension("pub"), dir.join("authorized_keys")).unwrap();
    let host_keys = [dir.join("host_key_a"), dir.join("host_key_b")];
    host_keys.iter().for_each(|k| keygen(k));
    let data = dir.join("data");
    let key = SecretKey::load(&data).unwrap();
    db.client()
        .await
        .batch_execute(
            "INSERT INTO providers (tenant_id, code, name, default_region) VALUES (1, 'acme', 'Acme', 'RU');
             INSERT INTO webhook_subscriptions (tenant_id, url, secret, events)
             VALUES (1, 'http://127.0.0.1:9/hook', 'secret', '{sftp.transfer_failed}');",
        )
        .await
        .unwrap();
    Setup { db, dir, data, key, client_key, host_keys }
}

impl Setup {
    fn input(&self, port: u16, direction: Direction, remote_dir: &Path) -> SftpRemoteInput {
        SftpRemoteInput {
            name: format!("{direction:?} host"),
            host: "127.0.0.1".into(),
            port: port.into(),
            username: current_user(),
            password: None,
            private_key: Some(std::fs::read_to_string(&self.client_key).unwrap()),
            direction,
            remote_dir: remote_dir.to_string_lossy().into_owned(),
            file_pattern: "*.csv".into(),
            after_pull: AfterPull::Leave,
            move_to: None,
            provider_code: (direction == Direction::PullNumbers).then(|| "acme".into()),
            import_options: serde_json::json!({"region": "RU"}),
            enabled: true,
            cron: "*/15 * * * *".into(),
            time_zone: "UTC".into(),
        }
    }

    async fn create(&self, input: &SftpRemoteInput) -> i64 {
        let mut client = self.db.client().await;
        sftp_remote::create(&mut **client, &self.key, TENANT, &Actor::system("test"), input).await.unwrap().id
    }

    async fn pull(&self, id: i64) -> dialpool_engine::Result<remote::TransferReport> {
        remote::transfer(&self.db.pool, &self.data, &self.key, TENANT, id, None, remote::Way::Pull).await
    }

    async fn confirm(&self, id: i64, fingerprint: &str) -> dialpool_engine::Result<sftp_remote::SftpRemote> {
        let mut client = self.db.client().await;
        sftp_remote::confirm_host_key(&mut **client, TENANT, &Actor::system("test"), id, fingerprint).await
    }

    async fn scalar(&self, sql: &str) -> i64 {
        self.db.client().await.query_one(sql, &[]).await.unwrap().get(0)
    }

    /// Runs the queued import jobs to the end with a worker of the jobs crate.
    async fn run_jobs(&self) {
        let mut config = dialpool_jobs::WorkerConfig::new(self.data.clone());
        config.poll = Duration::from_millis(100);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let worker = tokio::spawn(dialpool_jobs::Worker::new(self.db.pool.clone(), config).run(async {
            let _ = stopped.await;
        }));
        let started = Instant::now();
        while self.scalar("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')").await > 0 {
            assert!(started.elapsed() < Duration::from_secs(60), "jobs did not finish");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        stop.send(()).unwrap();
        worker.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_key_is_confirmed_before_signing_in_files_import_once_and_a_changed_key_is_refused() {
    let s = setup().await;
    let port = free_port();
    let sshd = Sshd::start(&s.dir, port, &s.host_keys[0]);
    let folder = s.dir.join("provider-drop");
    std::fs::create_dir_all(&folder).unwrap();
    numbers_file(&folder.join("leads_1.csv"), 100, 0);
    numbers_file(&folder.join("leads_2.csv"), 50, 1000);
    std::fs::write(folder.join("readme.txt"), "not a csv").unwrap();
    let id = s.create(&s.input(port, Direction::PullNumbers, &folder)).await;
    let sealed: Vec<u8> =
        s.db.client()
            .await
            .query_one("SELECT private_key_sealed FROM sftp_remotes", &[])
            .await
            .unwrap()
            .get(0);
    assert!(!String::from_utf8_lossy(&sealed).contains("PRIVATE KEY"), "the key is stored sealed");

    // Unconfirmed: the test stops at the key and shows the one sshd really has.
    let expected = openssh_fingerprint(&s.host_keys[0].with_extension("pub"));
    let test = remote::test(&s.db.pool, &s.key, TENANT, id).await.unwrap();
    assert!(!test.ok);
    assert_eq!(test.stage, "host_key");
    assert_eq!(test.offered_host_key_fingerprint.as_deref(), Some(expected.as_str()));
    assert!(
        !log(&s.dir).contains("Accepted publickey"),
        "no sign-in before the key is confirmed: {}",
        log(&s.dir)
    );

    // A pull before confirming fails, is logged and alerts.
    let refused = s.pull(id).await.unwrap_err().to_string();
    assert!(refused.contains("not confirmed yet") && refused.contains(&expected), "{refused}");
    assert_eq!(s.scalar("SELECT count(*) FROM sftp_jobs WHERE status = 'failed'").await, 1);
    assert_eq!(s.scalar("SELECT consecutive_failures::bigint FROM sftp_remotes").await, 1);
    assert_eq!(
        s.scalar("SELECT count(*) FROM webhook_deliveries WHERE event = 'sftp.transfer_failed'").await,
        1
    );
    assert_eq!(s.scalar("SELECT count(*) FROM jobs").await, 0);

    let wrong = s.confirm(id, &openssh_fingerprint(&s.host_keys[1].with_extension("pub"))).await.unwrap_err();
    assert!(wrong.to_string().contains(&expected), "{wrong}");
    let confirmed = s.confirm(id, &expected).await.unwrap();
    assert_eq!(confirmed.host_key_fingerprint.as_deref(), Some(expected.as_str()));
    assert_eq!(confirmed.offered_host_key_fingerprint, None);

    let test = remote::test(&s.db.pool, &s.key, TENANT, id).await.unwrap();
    assert!(test.ok, "{test:?}");
    assert_eq!(test.matching_files, Some(2), "the two CSV files, not the readme");

    // Both files queued in one pull; the failure count clears.
    let report = s.pull(id).await.unwrap();
    let outcomes: Vec<(&str, &str)> =
        report.files.iter().map(|f| (f.name.as_str(), f.outcome.as_str())).collect();
    assert_eq!(outcomes, [("leads_1.csv", "queued"), ("leads_2.csv", "queued")]);
    assert_eq!(s.scalar("SELECT consecutive_failures::bigint FROM sftp_remotes").await, 0);
    s.run_jobs().await;
    assert_eq!(s.scalar("SELECT count(*) FROM jobs WHERE kind = 'import' AND state = 'succeeded'").await, 2);
    assert_eq!(s.scalar("SELECT count(*) FROM phone_numbers").await, 150);
    assert!(folder.join("leads_1.csv").exists(), "after_pull 'leave' leaves the file");
    let processed = sftp_remote::local_root(&s.data, id).join("processed");
    assert_eq!(std::fs::read_dir(&processed).unwrap().count(), 2, "imported files are kept as processed");

    // Left on the host: recognised by its fingerprint, not pulled again.
    let again = s.pull(id).await.unwrap();
    assert!(again.files.is_empty(), "{:?}", again.files);
    // The same content under another name: recorded, not imported again.
    std::fs::copy(folder.join("leads_1.csv"), folder.join("leads_1_resent.csv")).unwrap();
    let resent = s.pull(id).await.unwrap();
    assert_eq!(resent.files.len(), 1);
    assert_eq!(resent.files[0].outcome, "duplicate");
    assert_eq!(s.scalar("SELECT count(*) FROM jobs WHERE kind = 'import'").await, 2);
    assert_eq!(s.scalar("SELECT count(*) FROM sftp_jobs WHERE status = 'succeeded'").await, 3);

    // The host comes back with another key: refused before signing in, nothing pulled.
    sshd.stop();
    let _sshd = Sshd::start(&s.dir, port, &s.host_keys[1]);
    numbers_file(&folder.join("leads_3.csv"), 10, 5000);
    let mismatch = s.pull(id).await.unwrap_err().to_string();
    let other = openssh_fingerprint(&s.host_keys[1].with_extension("pub"));
    assert!(mismatch.contains("host key mismatch") && mismatch.contains(&other), "{mismatch}");
    assert!(!log(&s.dir).contains("Accepted publickey"), "no sign-in to the changed host: {}", log(&s.dir));
    let shown = sftp_remote::get(&**s.db.client().await, TENANT, id).await.unwrap();
    assert_eq!(shown.host_key_fingerprint.as_deref(), Some(expected.as_str()), "the confirmed key stays");
    assert_eq!(shown.offered_host_key_fingerprint.as_deref(), Some(other.as_str()));
    assert_eq!(shown.consecutive_failures, 1);
    assert!(shown.last_error.unwrap().contains("host key mismatch"));
    assert_eq!(s.scalar("SELECT count(*) FROM jobs WHERE kind = 'import'").await, 2);
    assert_eq!(
        s.scalar("SELECT count(*) FROM webhook_deliveries WHERE event = 'sftp.transfer_failed'").await,
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulled_files_are_deleted_or_moved_on_the_host_and_exports_are_pushed() {
    let s = setup().await;
    let port = free_port();
    let _sshd = Sshd::start(&s.dir, port, &s.host_keys[0]);
    let fingerprint = openssh_fingerprint(&s.host_keys[0].with_extension("pub"));

    let deleting = s.dir.join("delete-after");
    std::fs::create_dir_all(&deleting).unwrap();
    numbers_file(&deleting.join("a.csv"), 5, 0);
    let mut input = s.input(port, Direction::PullNumbers, &deleting);
    input.after_pull = AfterPull::Delete;
    let delete_id = s.create(&input).await;
    assert!(!remote::test(&s.db.pool, &s.key, TENANT, delete_id).await.unwrap().ok);
    s.confirm(delete_id, &fingerprint).await.unwrap();
    let pulled = s.pull(delete_id).await.unwrap();
    assert_eq!(pulled.files[0].outcome, "queued");
    assert!(!deleting.join("a.csv").exists(), "deleted on the host once queued");

    let moving = s.dir.join("move-after");
    std::fs::create_dir_all(moving.join("done")).unwrap();
    std::fs::write(
        moving.join("b.csv"),
        "phone,call_id,disposition,at\n+79160000001,c-1,no_answer,2026-11-20T10:00:00Z\n",
    )
    .unwrap();
    let mut input = s.input(port, Direction::PullOutcomes, &moving);
    input.name = "outcomes".into();
    input.after_pull = AfterPull::Move;
    input.move_to = Some("done".into());
    input.import_options = serde_json::json!({"format": "csv", "region": "RU"});
    let move_id = s.create(&input).await;
    remote::test(&s.db.pool, &s.key, TENANT, move_id).await.unwrap();
    s.confirm(move_id, &fingerprint).await.unwrap();
    s.pull(move_id).await.unwrap();
    assert!(!moving.join("b.csv").exists() && moving.join("done/b.csv").exists(), "moved into done/");
    // The next day's file of the same name is moved beside it, not refused.
    std::fs::write(
        moving.join("b.csv"),
        "phone,call_id,disposition,at\n+79160000002,c-22,no_answer,2026-11-21T10:00:00Z\n",
    )
    .unwrap();
    let next_day = s.pull(move_id).await.unwrap();
    assert_eq!(next_day.files[0].outcome, "queued");
    assert!(!moving.join("b.csv").exists());
    assert_eq!(std::fs::read_dir(moving.join("done")).unwrap().count(), 2, "both kept in done/");
    let kinds: Vec<String> =
        s.db.client()
            .await
            .query("SELECT kind FROM jobs ORDER BY id", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
    assert_eq!(kinds, ["import", "outcome_import", "outcome_import"], "outcome files become outcome imports");
    s.run_jobs().await;
    let states = s.scalar("SELECT count(*) FROM jobs WHERE state = 'succeeded'").await;
    assert_eq!(states, 3, "every import ran");
    let outcomes_root = sftp_remote::local_root(&s.data, move_id);
    assert_eq!(std::fs::read_dir(outcomes_root.join("inbox")).unwrap().count(), 0, "nothing left waiting");
    assert_eq!(std::fs::read_dir(outcomes_root.join("processed")).unwrap().count(), 2);
    let summaries = std::fs::read_dir(outcomes_root.join("results")).unwrap().count();
    assert_eq!(summaries, 2, "each outcome file's summary is kept with the results");

    // An export job naming a push remote lands in its outbox and queues the push.
    s.db.client()
        .await
        .batch_execute(
            "INSERT INTO projects (tenant_id, name, time_zone, daily_quota) VALUES (1, 'Out', 'UTC', 10);
             INSERT INTO phone_numbers (tenant_id, phone, provider_id, project_id, allocated_at, import_id, last_import_id)
             SELECT 1, 79170000000 + i, (SELECT id FROM providers), (SELECT id FROM projects), now(), 0, 0
               FROM generate_series(1, 3) i;
             DELETE FROM jobs;",
        )
        .await
        .unwrap();
    let inbox = s.dir.join("partner-inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let mut input = s.input(port, Direction::PushExports, &inbox);
    input.name = "partner".into();
    let push_id = s.create(&input).await;
    remote::test(&s.db.pool, &s.key, TENANT, push_id).await.unwrap();
    s.confirm(push_id, &fingerprint).await.unwrap();
    let project: i64 = s.scalar("SELECT id FROM projects").await;
    job::enqueue(
        &**s.db.client().await,
        &NewJob::new(
            Some(TENANT),
            JobKind::Export,
            serde_json::json!({"project_id": project, "sftp_remote_id": push_id, "out": "leads.csv"}),
        ),
    )
    .await
    .unwrap();
    s.run_jobs().await;
    let states: Vec<(String, String)> =
        s.db.client()
            .await
            .query("SELECT kind, state FROM jobs ORDER BY id", &[])
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
    assert_eq!(
        states,
        [("export".to_owned(), "succeeded".to_owned()), ("sftp_push".to_owned(), "succeeded".to_owned())]
    );
    let text = std::fs::read_to_string(inbox.join("leads.csv")).unwrap();
    assert_eq!(text.lines().count(), 4, "a header and the project's 3 numbers: {text}");
    assert!(!inbox.join("leads.csv.partial").exists());
    let local = sftp_remote::local_root(&s.data, push_id);
    assert_eq!(std::fs::read_dir(local.join("outbox")).unwrap().count(), 0, "nothing waits");
    assert_eq!(std::fs::read_dir(local.join("sent")).unwrap().count(), 1);
    let log = sftp_remote::transfers(&**s.db.client().await, TENANT, Some(push_id), 10).await.unwrap();
    assert_eq!((log[0].direction.as_str(), log[0].status.as_str(), log[0].files), ("push", "succeeded", 1));
    assert_eq!(log[0].bytes as usize, text.len());

    // A push remote does not pull, and the reverse.
    let wrong = s.pull(push_id).await.unwrap_err().to_string();
    assert!(wrong.contains("cannot pull"), "{wrong}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_signs_in_and_a_wrong_one_is_reported_as_refused() {
    let s = setup().await;
    let mut client = s.db.client().await;
    dialpool_engine::delivery::sftp::account::create(
        &mut **client,
        TENANT,
        &Actor::system("test"),
        &dialpool_engine::delivery::sftp::account::SftpAccountInput {
            username: "acme".into(),
            provider_code: "acme".into(),
            password: Some("partner password 1".into()),
            public_keys: Vec::new(),
            quota_mb: None,
            quota_files: None,
            import_options: serde_json::json!({}),
            enabled: true,
        },
    )
    .await
    .unwrap();
    let bound = dialpool_sftp::bind(
        s.db.pool.clone(),
        dialpool_sftp::SftpConfig { listen: "127.0.0.1:0".parse().unwrap(), data_dir: s.data.clone() },
    )
    .await
    .unwrap();
    let port = bound.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let _ = bound.run().await;
    });
    let mut input = s.input(port, Direction::PullOutcomes, Path::new("outbox"));
    input.username = "acme".into();
    input.private_key = None;
    input.password = Some("partner password 1".into());
    input.file_pattern = "*".into();
    let id = s.create(&input).await;
    let offered = remote::test(&s.db.pool, &s.key, TENANT, id).await.unwrap();
    let fingerprint = offered.offered_host_key_fingerprint.unwrap();
    s.confirm(id, &fingerprint).await.unwrap();
    let test = remote::test(&s.db.pool, &s.key, TENANT, id).await.unwrap();
    assert!(test.ok, "{test:?}");
    assert_eq!(test.matching_files, Some(0));

    input.password = Some("not the password".into());
    sftp_remote::update(&mut **client, &s.key, TENANT, &Actor::system("test"), id, &input).await.unwrap();
    let test = remote::test(&s.db.pool, &s.key, TENANT, id).await.unwrap();
    assert!(!test.ok);
    assert_eq!(test.stage, "sign_in");
    assert!(test.message.contains("refused password"), "{}", test.message);
    assert!(!test.message.contains("not the password"), "the password is never shown");
    server.abort();
}
