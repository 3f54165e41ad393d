//! Erasure, tombstones and subject access against a real PostgreSQL: an erased number is
//! gone from every table (the database's text is searched for its digits), its events
//! and calls keep their counts, a kept export that held it is withdrawn, and every later
//! import refuses it until the tombstone is lifted.

use dialpool_engine::compliance::erasure::{self, ErasureRequest, LiftInput};
use dialpool_engine::compliance::subject;
use dialpool_engine::intake::dnc::{self, DncInput};
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::platform::secret::SecretKey;

use crate::support::{self, Setup, secret_key};

const ERASED: i64 = 79161234567;
const KEPT: i64 = 79031112233;

/// Two numbers stored, each with an event and a call; the first on the do-not-call
/// list (audited) and in a kept export file.
async fn history(s: &Setup) -> std::path::PathBuf {
    let file = s.dir.path().join("leads.csv");
    std::fs::write(&file, "phone,name\n+79161234567,Anna Petrova\n+79031112233,Boris\n").unwrap();
    let summary = s.import(s.request(&file)).await.unwrap();
    assert_eq!(summary.counts.inserted, 2);
    let mut client = s.db.client().await;
    let t = s.tenant.0;
    let project: i64 = client
        .query_one("INSERT INTO projects (tenant_id, name) VALUES ($1, 'Out') RETURNING id", &[&t])
        .await
        .unwrap()
        .get(0);
    for phone in [ERASED, KEPT] {
        client
            .execute(
                "INSERT INTO number_events (tenant_id, phone, kind, project_id, data)
                 VALUES ($1, $2, 'allocated', $3, '{\"note\": \"called Anna Petrova\"}')",
                &[&t, &phone, &project],
            )
            .await
            .unwrap();
        client
            .execute(
                "INSERT INTO call_outcomes (tenant_id, call_id, phone, project_id, disposition, status_to, started_at,
                                            duration_s, agent, notes, source)
                 VALUES ($1, $4, $2, $3, 'SALE', 5, now(), 30, 'agent-7', 'Anna wants a call back', 'api')",
                &[&t, &phone, &project, &format!("call-{}", phone % 1000)],
            )
            .await
            .unwrap();
    }
    dnc::add(
        &mut **client,
        s.tenant,
        &Actor::system("test"),
        &DncInput { phone: "+79161234567".into(), region: None, reason: Some("asked".into()) },
    )
    .await
    .unwrap();
    let kept = s.dir.path().join("exports");
    std::fs::create_dir_all(&kept).unwrap();
    std::fs::write(kept.join("out.csv"), "phone\n+79161234567\n+79031112233\n").unwrap();
    let export: i64 = client
        .query_one(
            "INSERT INTO exports (tenant_id, project_id, format, status, rows, file_name, stored_path, expires_at)
             VALUES ($1, $2, 'csv', 'succeeded', 2, 'out.csv', 'exports/out.csv', now() + interval '7 days') RETURNING id",
            &[&t, &project],
        )
        .await
        .unwrap()
        .get(0);
    client
        .execute(
            "INSERT INTO export_batches (tenant_id, export_id, seq, project_id, first_phone, last_phone, phones)
             VALUES ($1, $2, 0, $3, $4, $5, ARRAY[$4, $5]::bigint[])",
            &[&t, &export, &project, &KEPT, &ERASED],
        )
        .await
        .unwrap();
    file
}

async fn count(s: &Setup, sql: &str) -> i64 {
    s.db.client().await.query_one(sql, &[]).await.unwrap().get(0)
}

/// Every table (and partition) of the database whose rows, as text, hold `digits`.
async fn tables_holding(s: &Setup, digits: &str) -> Vec<String> {
    let client = s.db.client().await;
    let tables: Vec<String> = client
        .query(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut holding = Vec::new();
    for table in tables {
        let n: i64 = client
            .query_one(
                &format!("SELECT count(*) FROM \"{table}\" t WHERE t::text LIKE '%' || $1 || '%'"),
                &[&digits],
            )
            .await
            .unwrap()
            .get(0);
        if n > 0 {
            holding.push(table);
        }
    }
    holding
}

fn request(s: &Setup, phones: Vec<i64>) -> ErasureRequest {
    ErasureRequest {
        tenant: s.tenant,
        phones,
        reason: erasure::DEFAULT_REASON.into(),
        requested_at: None,
        actor: Actor::system("test"),
    }
}

#[tokio::test]
async fn an_erased_number_is_gone_from_every_table_and_its_counts_stay() {
    let s = support::setup().await;
    history(&s).await;
    let before = subject::report(
        &**s.db.client().await,
        s.tenant,
        &secret_key(),
        "+79161234567",
        None,
        &Actor::system("test"),
    )
    .await
    .unwrap();
    assert_eq!(before.number.as_ref().unwrap().attributes["name"], "Anna Petrova");
    assert_eq!((before.calls.len(), before.exports.len(), before.projects.len()), (1, 1, 1));
    assert_eq!(before.calls[0].notes.as_deref(), Some("Anna wants a call back"));
    assert!(before.dnc.is_some() && before.erasure.is_none());
    assert!(!tables_holding(&s, "79161234567").await.is_empty());

    let events = count(&s, "SELECT count(*) FROM number_events").await;
    let summary =
        erasure::erase(&s.db.pool, s.dir.path(), &secret_key(), request(&s, vec![ERASED, ERASED]), None)
            .await
            .unwrap();
    assert_eq!((summary.numbers, summary.found, summary.exports_withdrawn, summary.batches), (1, 1, 1, 1));

    assert_eq!(tables_holding(&s, "79161234567").await, Vec::<String>::new(), "the number is held nowhere");
    assert_eq!(count(&s, "SELECT count(*) FROM number_events").await, events, "events keep their counts");
    assert_eq!(count(&s, "SELECT count(*) FROM call_outcomes WHERE disposition = 'SALE'").await, 2);
    assert_eq!(count(&s, "SELECT count(*) FROM call_outcomes WHERE notes IS NOT NULL").await, 1);
    assert!(!s.dir.path().join("exports/out.csv").exists(), "the kept file that held it is withdrawn");
    assert_eq!(
        count(
            &s,
            "SELECT count(*) FROM exports WHERE withdrawn_reason = 'erasure' AND deleted_at IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(
        count(&s, "SELECT count(*) FROM export_batches WHERE phones = ARRAY[79031112233]::bigint[]").await,
        1
    );
    assert_eq!(count(&s, "SELECT count(*) FROM phone_numbers").await, 1, "the other number is untouched");
    assert_eq!(
        count(&s, "SELECT count(*) FROM audit_log WHERE action = 'erasure.create' AND after->>'reason' = 'at the subject''s request'").await,
        1
    );

    let after = subject::report(
        &**s.db.client().await,
        s.tenant,
        &secret_key(),
        "+79161234567",
        None,
        &Actor::system("test"),
    )
    .await
    .unwrap();
    assert!(
        after.number.is_none() && after.calls.is_empty() && after.exports.is_empty() && after.dnc.is_none()
    );
    assert_eq!(after.erasure.as_ref().unwrap().reason, "at the subject's request");

    // Asked again (a retry after a crash): nothing doubles.
    let again = erasure::erase(&s.db.pool, s.dir.path(), &secret_key(), request(&s, vec![ERASED]), None)
        .await
        .unwrap();
    assert_eq!((again.found, again.exports_withdrawn), (0, 0));
    assert_eq!(count(&s, "SELECT count(*) FROM erasure_tombstones").await, 1);
}

#[tokio::test]
async fn an_erased_number_sent_again_is_refused_until_its_tombstone_is_lifted() {
    let s = support::setup().await;
    let file = history(&s).await;
    erasure::erase(&s.db.pool, s.dir.path(), &secret_key(), request(&s, vec![ERASED]), None).await.unwrap();

    let again = s.import(s.request(&file)).await.unwrap();
    assert_eq!((again.counts.total, again.counts.erased, again.counts.duplicate_existing), (2, 1, 1));
    let rejects = std::fs::read_to_string(again.rejects_file.as_ref().unwrap()).unwrap();
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    assert!(rejects.contains(&format!("erased,erased on {today} at the subject's request")), "{rejects}");
    assert_eq!(count(&s, "SELECT count(*) FROM phone_numbers WHERE phone = 79161234567").await, 0);
    assert_eq!(count(&s, "SELECT erased FROM imports ORDER BY id DESC LIMIT 1").await, 1);

    // Across batch boundaries, and with the number written nationally.
    let national = s.dir.path().join("national.csv");
    std::fs::write(&national, "phone\n89161234567\n89160000001\n89160000002\n").unwrap();
    let mut small = s.request(&national);
    small.batch_rows = Some(1);
    let c = s.import(small).await.unwrap().counts;
    assert_eq!((c.erased, c.inserted), (1, 2));

    // Without the key, or with another key, an import cannot see tombstones: refused.
    let mut keyless = s.request(&file);
    keyless.secret = None;
    let refused = s.import(keyless).await.unwrap_err().to_string();
    assert!(refused.contains("secret key"), "{refused}");
    let mut foreign = s.request(&file);
    foreign.secret = Some(SecretKey::from_base64("ISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A=").unwrap());
    let refused = s.import(foreign).await.unwrap_err().to_string();
    assert!(refused.contains("another key") || refused.contains("with secret key"), "{refused}");

    let lifted = erasure::lift(
        &mut **s.db.client().await,
        s.tenant,
        &secret_key(),
        &LiftInput { phone: "+7 916 123-45-67".into(), reason: "asked to be contacted again".into() },
        &Actor::system("test"),
    )
    .await
    .unwrap();
    assert!(lifted.lifted_at.is_some());
    let lift_again = erasure::lift(
        &mut **s.db.client().await,
        s.tenant,
        &secret_key(),
        &LiftInput { phone: "+79161234567".into(), reason: "again".into() },
        &Actor::system("test"),
    )
    .await;
    assert!(lift_again.is_err(), "a lifted tombstone cannot be lifted twice");
    assert_eq!(tables_holding(&s, "79161234567").await, Vec::<String>::new(), "lifting names no number");
    let back = s.import(s.request(&file)).await.unwrap();
    assert_eq!((back.counts.inserted, back.counts.erased), (1, 0));
    assert_eq!(count(&s, "SELECT count(*) FROM audit_log WHERE action = 'erasure.lift'").await, 1);
}

#[tokio::test]
async fn erasure_refuses_an_empty_request_and_a_missing_reason_and_leaves_nothing_behind() {
    let s = support::setup().await;
    let empty = erasure::erase(&s.db.pool, s.dir.path(), &secret_key(), request(&s, vec![]), None).await;
    assert!(empty.unwrap_err().to_string().contains("no numbers"));
    let mut blank = request(&s, vec![ERASED]);
    blank.reason = "  ".into();
    assert!(erasure::erase(&s.db.pool, s.dir.path(), &secret_key(), blank, None).await.is_err());
    assert_eq!(count(&s, "SELECT count(*) FROM erasures").await, 0);
    assert_eq!(count(&s, "SELECT count(*) FROM erasure_tombstones").await, 0);
}

#[tokio::test]
async fn consent_time_and_source_are_kept_with_the_number_and_shown_to_the_subject() {
    let s = support::setup().await;
    let file = s.dir.path().join("consent.csv");
    std::fs::write(
        &file,
        "phone,name,Opt-in Date,Consent URL\n\
         +79161234567,Anna,30.11.2026 14:05,https://forms.example.com/a?id=1\n\
         +79031112233,Boris,2026-11-29T10:00:00+03:00,https://forms.example.com/b\n\
         +79031112244,Vera,sometime last week,\n",
    )
    .unwrap();
    assert_eq!(s.import(s.request(&file)).await.unwrap().counts.inserted, 3);
    let client = s.db.client().await;
    let rows = client
        .query("SELECT attributes FROM phone_numbers ORDER BY phone", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get::<_, serde_json::Value>(0))
        .collect::<Vec<_>>();
    assert_eq!(rows[0]["consent_at"], "2026-11-29T07:00:00Z", "{rows:?}");
    assert_eq!(rows[1]["consent_at"], "sometime last week", "kept as written when it reads as no date");
    assert_eq!(rows[2]["consent_at"], "2026-11-30T14:05:00Z");
    assert_eq!(rows[2]["consent_source"], "https://forms.example.com/a?id=1");
    let report =
        subject::report(&**client, s.tenant, &secret_key(), "+79161234567", None, &Actor::system("test"))
            .await
            .unwrap();
    assert_eq!(report.number.unwrap().attributes["consent_source"], "https://forms.example.com/a?id=1");
}
