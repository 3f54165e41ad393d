//! The embedded SFTP server driven by OpenSSH's own `sftp` client: key and password
//! logins, an upload that becomes an import (file to processed/, summary to outbox/), the
//! same content again recorded and not imported, paths that try to leave the root, the
//! inbox quota, a connection cut mid-upload, and no shell.
//!
//! The clients run as blocking child processes, so the server needs a runtime thread of
//! its own: the tests run on a multi-threaded runtime.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dialpool_engine::TenantId;
use dialpool_engine::delivery::sftp::account::{self, SftpAccountInput};
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::testkit::TestDb;

struct Drop_ {
    db: TestDb,
    dir: PathBuf,
    port: u16,
    key: PathBuf,
    server: tokio::task::JoinHandle<()>,
    worker: Option<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
}

const PASSWORD: &str = "partner password 1";

impl Drop for Drop_ {
    fn drop(&mut self) {
        self.server.abort();
        if let Some((stop, _)) = self.worker.take() {
            let _ = stop.send(());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn drop_box(quota_files: Option<i32>, quota_mb: Option<i64>) -> Drop_ {
    let db = TestDb::new().await;
    let dir = std::env::temp_dir().join(format!("dialpool-sftp-{}", db.name));
    std::fs::create_dir_all(&dir).unwrap();
    let key = dir.join("partner_key");
    let generated = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "partner", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(generated.status.success());
    let public = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    let mut client = db.client().await;
    client
        .execute(
            "INSERT INTO providers (tenant_id, code, name, default_region) VALUES (1, 'acme', 'Acme', 'RU')",
            &[],
        )
        .await
        .unwrap();
    account::create(
        &mut **client,
        TenantId(1),
        &Actor::system("test"),
        &SftpAccountInput {
            username: "acme".into(),
            provider_code: "acme".into(),
            password: Some(PASSWORD.into()),
            public_keys: vec![public.trim().to_owned()],
            quota_mb,
            quota_files,
            import_options: serde_json::json!({}),
            enabled: true,
        },
    )
    .await
    .unwrap();
    let bound = dialpool_sftp::bind(
        db.pool.clone(),
        dialpool_sftp::SftpConfig { listen: "127.0.0.1:0".parse().unwrap(), data_dir: dir.join("data") },
    )
    .await
    .unwrap();
    let port = bound.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let _ = bound.run().await;
    });
    Drop_ { db, dir, port, key, server, worker: None }
}

impl Drop_ {
    fn start_worker(&mut self) {
        let mut config = dialpool_jobs::WorkerConfig::new(self.dir.join("data"));
        config.poll = Duration::from_millis(100);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let worker = dialpool_jobs::Worker::new(self.db.pool.clone(), config);
        let task = tokio::spawn(worker.run(async {
            let _ = stopped.await;
        }));
        self.worker = Some((stop, task));
    }

    fn root(&self) -> PathBuf {
        dialpool_sftp::account_root(&self.dir.join("data"), 1)
    }

    fn ssh_options(&self) -> Vec<String> {
        [
            "-P".to_owned(),
            self.port.to_string(),
            "-o".into(),
            "StrictHostKeyChecking=no".into(),
            "-o".into(),
            "UserKnownHostsFile=/dev/null".into(),
            "-o".into(),
            "LogLevel=ERROR".into(),
        ]
        .into()
    }

    /// Runs `batch` with the partner's key; `-b` makes the first failing command fail the run.
    fn sftp_with_key(&self, batch: &str) -> Output {
        let file = self.dir.join("batch");
        std::fs::write(&file, batch).unwrap();
        Command::new("sftp")
            .args(self.ssh_options())
            .args(["-o", "BatchMode=yes", "-o", "PasswordAuthentication=no", "-i"])
            .arg(&self.key)
            .arg("-b")
            .arg(&file)
            .arg("acme@127.0.0.1")
            .current_dir(&self.dir)
            .output()
            .unwrap()
    }

    /// Runs `batch` signing in with `password` through SSH_ASKPASS.
    fn sftp_with_password(&self, password: &str, batch: &str) -> Output {
        let file = self.dir.join("batch");
        std::fs::write(&file, batch).unwrap();
        let askpass = self.dir.join("askpass.sh");
        std::fs::write(&askpass, format!("#!/bin/sh\necho '{password}'\n")).unwrap();
        Command::new("chmod").arg("700").arg(&askpass).status().unwrap();
        Command::new("sftp")
            .args(self.ssh_options())
            // `-b` makes sftp ask ssh for batch mode, which never asks for a password; ssh
            // keeps the first value it is given for an option, and ours comes first.
            .args([
                "-o",
                "BatchMode=no",
                "-o",
                "PubkeyAuthentication=no",
                "-o",
                "PreferredAuthentications=password",
                "-o",
                "NumberOfPasswordPrompts=1",
            ])
            .arg("-b")
            .arg(&file)
            .arg("acme@127.0.0.1")
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .stdin(Stdio::null())
            .current_dir(&self.dir)
            .output()
            .unwrap()
    }

    /// Runs the paramiko client (`paramiko_client.py`) and returns the JSON line it prints.
    fn paramiko(&self, password: &str, action: &[&str]) -> serde_json::Value {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/paramiko_client.py");
        let deps = std::env::var_os("DIALPOOL_PYTHON_DEPS").map(PathBuf::from).unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into()))
                .join(".cache/dialpool-python")
        });
        let output = Command::new("python3")
            .arg(script)
            .args([&self.port.to_string(), "acme", password])
            .args(action)
            .env("PYTHONPATH", &deps)
            .current_dir(&self.dir)
            .output()
            .unwrap();
        serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
            panic!(
                "paramiko (from {} , scripts/setup.sh installs it) printed no result: {}",
                deps.display(),
                text(&output)
            )
        })
    }

    /// Names in a folder of the partner's root, hidden ones too.
    fn names(&self, folder: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.root().join(folder))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Waits until `folder` holds exactly the names `want` says it should.
    async fn wait_names(&self, folder: &str, want: impl Fn(&[String]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !want(&self.names(folder)) {
            assert!(Instant::now() < deadline, "{folder} holds {:?}", self.names(folder));
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn scalar(&self, sql: &str) -> i64 {
        self.db.client().await.query_one(sql, &[]).await.unwrap().get(0)
    }

    async fn wait_for(&self, sql: &str, want: i64) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.scalar(sql).await != want {
            assert!(Instant::now() < deadline, "{sql} never became {want}: {}", self.scalar(sql).await);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn numbers_file(path: &Path, rows: usize, first: usize) {
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    writeln!(file, "phone,name").unwrap();
    for i in first..first + rows {
        writeln!(file, "+7916{i:07},Person {i}").unwrap();
    }
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_by_key_is_imported_once_and_its_results_appear_in_the_outbox() {
    let mut drop = drop_box(None, None).await;
    drop.start_worker();
    numbers_file(&drop.dir.join("numbers.csv"), 500, 0);
    let upload = drop.sftp_with_key("put numbers.csv /inbox/numbers.csv\nls /inbox\n");
    assert!(upload.status.success(), "{}", text(&upload));
    drop.wait_for("SELECT count(*) FROM jobs WHERE kind = 'import' AND state = 'succeeded'", 1).await;
    assert_eq!(drop.scalar("SELECT count(*) FROM phone_numbers").await, 500);
    // The job is marked succeeded with the import's commit; the file moves right after.
    drop.wait_names("processed", |names| !names.is_empty()).await;
    let root = drop.root();
    let processed: Vec<String> = std::fs::read_dir(root.join("processed"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(processed.len() == 1 && processed[0].ends_with("-numbers.csv"), "{processed:?}");
    drop.wait_names("inbox", <[String]>::is_empty).await;

    // The partner reads the summary from its outbox.
    let listing = drop.sftp_with_key("ls /outbox\n");
    assert!(listing.status.success(), "{}", text(&listing));
    let summary = text(&listing)
        .lines()
        .find(|l| l.contains("numbers.csv.") && l.contains(".summary.json"))
        .map(str::trim)
        .map(str::to_owned);
    let summary = summary.unwrap_or_else(|| panic!("no summary in {}", text(&listing)));
    let fetched = drop.sftp_with_key(&format!("get {summary} summary.json\n"));
    assert!(fetched.status.success(), "{}", text(&fetched));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(drop.dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(report["inserted"], 500);

    // The same content under another name: recorded, not imported again.
    std::fs::copy(drop.dir.join("numbers.csv"), drop.dir.join("again.csv")).unwrap();
    let again = drop.sftp_with_key("put again.csv /inbox/again.csv\n");
    assert!(again.status.success(), "{}", text(&again));
    drop.wait_for("SELECT count(*) FROM sftp_uploads WHERE outcome = 'duplicate'", 1).await;
    assert_eq!(drop.scalar("SELECT count(*) FROM jobs WHERE kind = 'import'").await, 1);
    assert!(root.join("outbox/again.csv.duplicate.txt").exists());
    drop.wait_names("processed", |names| {
        names.iter().any(|n| n.starts_with("duplicate-") && n.ends_with("-again.csv"))
    })
    .await;

    // A client that uploads under a temporary name and renames it is imported once, by name.
    numbers_file(&drop.dir.join("more.csv"), 10, 1000);
    let renamed = drop.sftp_with_key(
        "put more.csv /inbox/more.csv.filepart\nrename /inbox/more.csv.filepart /inbox/more.csv\n",
    );
    assert!(renamed.status.success(), "{}", text(&renamed));
    drop.wait_for("SELECT count(*) FROM jobs WHERE kind = 'import' AND state = 'succeeded'", 2).await;
    assert_eq!(drop.scalar("SELECT count(*) FROM phone_numbers").await, 510);

    // A file that cannot be imported is not tried again: errors/ and an explanation at once.
    std::fs::write(drop.dir.join("broken.xlsx"), "this is no spreadsheet").unwrap();
    let broken = drop.sftp_with_key("put broken.xlsx /inbox/broken.xlsx\n");
    assert!(broken.status.success(), "{}", text(&broken));
    drop.wait_for("SELECT count(*) FROM jobs WHERE kind = 'import' AND state = 'dead' AND attempts = 1", 1)
        .await;
    let explained = std::fs::read_dir(root.join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("broken.xlsx.") && p.to_string_lossy().ends_with(".error.txt"))
        .expect("an error note in the outbox");
    assert!(std::fs::read_to_string(explained).unwrap().contains("broken.xlsx was not imported"));
    let errors: Vec<_> = std::fs::read_dir(root.join("errors")).unwrap().collect();
    assert_eq!(errors.len(), 1, "the file moved to errors/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_sign_in_wrong_ones_do_not_and_nothing_leaves_the_root() {
    let drop = drop_box(None, None).await;
    let good = drop.sftp_with_password(PASSWORD, "ls /\n");
    assert!(good.status.success(), "{}", text(&good));
    for folder in ["inbox", "outbox", "processed", "errors"] {
        assert!(text(&good).contains(folder), "{}", text(&good));
    }
    let bad = drop.sftp_with_password("not the password", "ls /\n");
    assert!(!bad.status.success());
    assert!(text(&bad).contains("Permission denied"), "{}", text(&bad));

    // Outside the root: refused or not there, whichever way it is named.
    std::fs::write(drop.dir.join("x.csv"), "phone\n+79160000001\n").unwrap();
    for batch in [
        "get /../../../../etc/passwd passwd\n",
        "get ../../etc/passwd passwd\n",
        "ls /etc\n",
        "put x.csv /../x.csv\n",
        "put x.csv /outbox/x.csv\n",
        "put x.csv /x.csv\n",
        "mkdir /inbox/sub\n",
        "symlink /inbox /inbox/link\n",
    ] {
        let tried = drop.sftp_with_key(batch);
        assert!(!tried.status.success(), "{batch} succeeded: {}", text(&tried));
    }
    assert!(!drop.dir.join("passwd").exists());
    assert!(!drop.dir.join("data/sftp/x.csv").exists() && !drop.root().join("x.csv").exists());
    // A symbolic link put there by someone else is not followed.
    std::os::unix::fs::symlink("/etc", drop.root().join("outbox/etc")).unwrap();
    let followed = drop.sftp_with_key("get /outbox/etc/passwd passwd\n");
    assert!(!followed.status.success(), "{}", text(&followed));
    assert!(!drop.dir.join("passwd").exists());

    // No shell and no commands.
    let shell = Command::new("ssh")
        .args([
            "-p",
            &drop.port.to_string(),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "BatchMode=yes",
            "-i",
        ])
        .arg(&drop.key)
        .args(["acme@127.0.0.1", "cat", "/etc/passwd"])
        .output()
        .unwrap();
    assert!(!shell.status.success());
    assert!(!String::from_utf8_lossy(&shell.stdout).contains("root:"), "{}", text(&shell));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inbox_quota_refuses_an_upload_and_a_cut_connection_leaves_nothing() {
    let drop = drop_box(Some(1), Some(1)).await;
    numbers_file(&drop.dir.join("small.csv"), 100, 0);
    numbers_file(&drop.dir.join("other.csv"), 100, 500);
    // No worker runs: the first upload stays in the inbox, which may hold one file.
    let first = drop.sftp_with_key("put small.csv /inbox/small.csv\n");
    assert!(first.status.success(), "{}", text(&first));
    let second = drop.sftp_with_key("put other.csv /inbox/other.csv\n");
    assert!(!second.status.success());
    assert_eq!(drop.scalar("SELECT count(*) FROM sftp_uploads").await, 1);
    // Over the size quota (1 MiB) is refused too, and leaves no file. (Removing the file
    // the partner sees does not take the queued import's copy: empty the inbox as its
    // import would.)
    for entry in std::fs::read_dir(drop.root().join("inbox")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    numbers_file(&drop.dir.join("big.csv"), 60_000, 0);
    let big = drop.sftp_with_key("put big.csv /inbox/big.csv\n");
    assert!(!big.status.success());
    // OpenSSH's client shows the status ("Failure"), not the server's message.
    assert!(text(&big).contains("Failure"), "{}", text(&big));
    assert_eq!(std::fs::read_dir(drop.root().join("inbox")).unwrap().count(), 0, "nothing is left of it");
    assert_eq!(drop.scalar("SELECT count(*) FROM sftp_uploads").await, 1, "and it is not an upload");

    // A big upload cut off half-way: no file, no upload, no job.
    let drop = drop_box(None, None).await;
    numbers_file(&drop.dir.join("huge.csv"), 2_000_000, 0);
    std::fs::write(drop.dir.join("batch"), "put huge.csv /inbox/huge.csv\n").unwrap();
    let mut child = Command::new("sftp")
        .args(drop.ssh_options())
        .args(["-o", "BatchMode=yes", "-i"])
        .arg(&drop.key)
        .arg("-b")
        .arg(drop.dir.join("batch"))
        .arg("acme@127.0.0.1")
        .current_dir(&drop.dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let inbox = drop.root().join("inbox");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let partial: u64 = std::fs::read_dir(&inbox)
            .map(|entries| entries.filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum())
            .unwrap_or(0);
        if partial > 1_000_000 {
            break;
        }
        assert!(child.try_wait().unwrap().is_none(), "the upload finished before it could be cut");
        assert!(Instant::now() < deadline, "the upload never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::fs::read_dir(&inbox).unwrap().count() > 0 {
        assert!(Instant::now() < deadline, "the half upload was left in the inbox");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(drop.scalar("SELECT count(*) FROM sftp_uploads").await, 0);
    assert_eq!(drop.scalar("SELECT count(*) FROM jobs").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_completed_upload_is_imported_whatever_the_partner_does_with_the_name_next() {
    let mut drop = drop_box(None, None).await;
    numbers_file(&drop.dir.join("v1.csv"), 10, 0);
    numbers_file(&drop.dir.join("v2.csv"), 10, 100);
    numbers_file(&drop.dir.join("x.csv"), 10, 200);
    numbers_file(&drop.dir.join("z.csv"), 10, 300);
    // The same name twice in a row, a rename right after an upload, a removal right after
    // one: all before any import runs.
    let batch = "put v1.csv /inbox/a.csv\nput v2.csv /inbox/a.csv\n\
                 put x.csv /inbox/x.csv\nrename /inbox/x.csv /inbox/y.csv\n\
                 put z.csv /inbox/z.csv\nrm /inbox/z.csv\nls -la /inbox\n";
    let done = drop.sftp_with_key(batch);
    assert!(done.status.success(), "{}", text(&done));
    assert!(!text(&done).contains(".queued-"), "the server's own names are not listed: {}", text(&done));
    assert_eq!(drop.scalar("SELECT count(*) FROM jobs WHERE kind = 'import'").await, 4);
    drop.start_worker();
    drop.wait_for("SELECT count(*) FROM jobs WHERE kind = 'import' AND state = 'succeeded'", 4).await;
    assert_eq!(drop.scalar("SELECT count(*) FROM phone_numbers").await, 40, "every upload's numbers");
    drop.wait_names("inbox", <[String]>::is_empty).await;
    assert_eq!(drop.names("processed").len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn content_whose_import_failed_can_be_uploaded_again() {
    let mut drop = drop_box(None, None).await;
    drop.start_worker();
    numbers_file(&drop.dir.join("n.csv"), 10, 0);
    // Imported as a spreadsheet by mistake: it fails for good.
    drop.db
        .client()
        .await
        .execute("UPDATE sftp_accounts SET import_options = '{\"format\": \"xlsx\"}'", &[])
        .await
        .unwrap();
    let first = drop.sftp_with_key("put n.csv /inbox/n.csv\n");
    assert!(first.status.success(), "{}", text(&first));
    drop.wait_for("SELECT count(*) FROM jobs WHERE kind = 'import' AND state = 'dead'", 1).await;
    drop.db.client().await.execute("UPDATE sftp_accounts SET import_options = '{}'", &[]).await.unwrap();
    let again = drop.sftp_with_key("put n.csv /inbox/n.csv\n");
    assert!(again.status.success(), "{}", text(&again));
    drop.wait_for("SELECT count(*) FROM jobs WHERE kind = 'import' AND state = 'succeeded'", 1).await;
    assert_eq!(drop.scalar("SELECT count(*) FROM phone_numbers").await, 10);
    assert_eq!(
        drop.scalar("SELECT count(*) FROM sftp_uploads WHERE outcome = 'failed'").await,
        1,
        "the failed upload is recorded as failed, not as the content's import"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_too_long_is_refused_at_open_and_a_long_one_gets_its_results() {
    let mut drop = drop_box(None, None).await;
    drop.start_worker();
    numbers_file(&drop.dir.join("n.csv"), 10, 0);
    let too_long = format!("{}.csv", "x".repeat(296));
    let refused = drop.sftp_with_key(&format!("put n.csv /inbox/{too_long}\n"));
    assert!(!refused.status.success(), "{}", text(&refused));
    assert!(text(&refused).contains("Bad message"), "{}", text(&refused));
    assert!(drop.names("inbox").is_empty(), "nothing is left to count against the quota");
    assert_eq!(drop.scalar("SELECT count(*) FROM sftp_uploads").await, 0);

    let long = format!("{}.csv", "y".repeat(226));
    assert_eq!(long.len(), 230);
    let taken = drop.sftp_with_key(&format!("put n.csv /inbox/{long}\n"));
    assert!(taken.status.success(), "{}", text(&taken));
    drop.wait_for("SELECT count(*) FROM jobs WHERE kind = 'import' AND state = 'succeeded'", 1).await;
    drop.wait_names("outbox", |names| names.iter().any(|n| n.ends_with(".summary.json"))).await;
    drop.wait_names("inbox", <[String]>::is_empty).await;
    assert!(drop.names("outbox").iter().all(|n| n.len() <= 255 && n.starts_with("yyyy")));
    assert_eq!(drop.names("processed").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paramiko_gets_a_prompt_refusal_and_its_put_of_a_duplicate_succeeds() {
    let mut drop = drop_box(None, None).await;
    drop.start_worker();
    let refused = drop.paramiko("not the password", &["login"]);
    assert_eq!(refused["ok"], false, "{refused}");
    assert!(refused["error"].as_str().unwrap().contains("Authentication failed"), "{refused}");
    assert!(refused["seconds"].as_f64().unwrap() < 10.0, "refused at once, not after a timeout: {refused}");
    assert_eq!(drop.paramiko(PASSWORD, &["login"])["ok"], true);

    numbers_file(&drop.dir.join("p.csv"), 10, 0);
    let first = drop.paramiko(PASSWORD, &["put", "p.csv", "/inbox/p.csv"]);
    assert_eq!(first["ok"], true, "{first}");
    drop.wait_for("SELECT count(*) FROM jobs WHERE kind = 'import' AND state = 'succeeded'", 1).await;
    let duplicate = drop.paramiko(PASSWORD, &["put", "p.csv", "/inbox/p-again.csv"]);
    assert_eq!(duplicate["ok"], true, "put() stats the name after closing it: {duplicate}");
    drop.wait_for("SELECT count(*) FROM sftp_uploads WHERE outcome = 'duplicate'", 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_left_by_a_server_killed_mid_way_does_not_hold_the_quota_for_ever() {
    // What a server killed mid-upload leaves: its temporary file, no longer written to.
    let drop = drop_box(Some(1), None).await;
    let inbox = drop.root().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let stale = inbox.join(".uploading-0123456789abcdef");
    std::fs::write(&stale, "phone\n+7916").unwrap();
    let an_hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options().write(true).open(&stale).unwrap().set_modified(an_hour_ago).unwrap();
    // One being written right now by another session is left alone.
    let live = inbox.join(".uploading-fedcba9876543210");
    std::fs::write(&live, "phone\n").unwrap();
    // Its time from this process's clock, as the server reads ages by (the file system's
    // own stamp may follow another clock, as under libfaketime).
    std::fs::File::options()
        .write(true)
        .open(&live)
        .unwrap()
        .set_modified(std::time::SystemTime::now())
        .unwrap();

    numbers_file(&drop.dir.join("n.csv"), 10, 0);
    let quota_one_file = drop.sftp_with_key("put n.csv /inbox/n.csv\n");
    assert!(!stale.exists(), "the abandoned upload is gone");
    assert!(live.exists(), "a recent one may still be written");
    assert!(!quota_one_file.status.success(), "the live upload still counts: {}", text(&quota_one_file));
    std::fs::remove_file(&live).unwrap();
    let now = drop.sftp_with_key("put n.csv /inbox/n.csv\n");
    assert!(now.status.success(), "{}", text(&now));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_number_dropped_by_a_partner_is_refused_and_the_summary_says_so() {
    use dialpool_engine::compliance::erasure::{self, ErasureRequest};
    let mut drop = drop_box(None, None).await;
    drop.start_worker();
    // The worker and the erasure share the installation's key from the data directory.
    let key = dialpool_engine::platform::secret::SecretKey::load(&drop.dir.join("data")).unwrap();
    let request = ErasureRequest {
        tenant: TenantId(1),
        phones: vec![79160000003],
        reason: "at the subject's request".into(),
        requested_at: None,
        actor: Actor::system("test"),
    };
    erasure::erase(&drop.db.pool, &drop.dir.join("data"), &key, request, None).await.unwrap();
    numbers_file(&drop.dir.join("numbers.csv"), 5, 0);
    let upload = drop.sftp_with_key("put numbers.csv /inbox/numbers.csv\n");
    assert!(upload.status.success(), "{}", text(&upload));
    drop.wait_for("SELECT count(*) FROM jobs WHERE kind = 'import' AND state = 'succeeded'", 1).await;
    assert_eq!(drop.scalar("SELECT count(*) FROM phone_numbers").await, 4);
    assert_eq!(drop.scalar("SELECT count(*) FROM phone_numbers WHERE phone = 79160000003").await, 0);
    assert_eq!(drop.scalar("SELECT erased FROM imports").await, 1);
    let root = drop.root();
    drop.wait_names("outbox", |names| names.iter().any(|n| n.ends_with(".summary.json"))).await;
    let summary = std::fs::read_dir(root.join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".summary.json"))
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(summary).unwrap()).unwrap();
    assert_eq!((report["erased"].as_i64(), report["inserted"].as_i64()), (Some(1), Some(4)), "{report}");
}
