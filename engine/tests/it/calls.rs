//! Leases, calling hours and call outcomes against a real PostgreSQL.

use std::collections::HashSet;
use std::path::PathBuf;

use chrono::{DateTime, Duration, Utc};
use dialpool_engine::TenantId;
use dialpool_engine::dialing::files::{self, Format, OutcomeFileRequest};
use dialpool_engine::dialing::hours::{self, CallingHoursInput};
use dialpool_engine::dialing::lease::{self, Lease, LeaseRequest};
use dialpool_engine::dialing::outcome::{self, OutcomeInput};
use dialpool_engine::platform::access::Scope;
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::platform::error::Error;
use dialpool_engine::platform::tenant;
use dialpool_engine::pool::project::{self, ProjectInput, Window};
use dialpool_engine::testkit::TestDb;

struct Desk {
    db: TestDb,
    tenant: TenantId,
    provider: i64,
    /// RU-MOW (Europe/Moscow) and US-NY (America/New_York).
    mow: i64,
    ny: i64,
    project: i64,
    gates: dialpool_engine::dialing::hours::GateCache,
}

fn actor() -> Actor {
    Actor::system("test")
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

async fn desk(max_attempts: i16) -> Desk {
    let db = TestDb::new().await;
    let mut client = db.client().await;
    let tenant = tenant::find_by_slug(&**client, "default").await.unwrap();
    let provider: i64 = client
        .query_one(
            "INSERT INTO providers (tenant_id, code, name) VALUES ($1, 'p', 'P') RETURNING id",
            &[&tenant.0],
        )
        .await
        .unwrap()
        .get(0);
    let geo = |country: &'static str, region: &'static str, zone: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(
                    "INSERT INTO geos (tenant_id, country, region, name, time_zone) VALUES ($1, $2, $3, $3, $4) RETURNING id",
                    &[&tenant.0, &country, &region, &zone],
                )
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    let mow = geo("RU", "MOW", "Europe/Moscow").await;
    let ny = geo("US", "NY", "America/New_York").await;
    let input = ProjectInput {
        name: "Calls".into(),
        status: "active".into(),
        time_zone: "UTC".into(),
        daily_quota: 1000,
        max_attempts,
        priority: 0,
        exclusive: false,
        allocation_order: "newest".into(),
        on_final: "keep".into(),
        sources: vec![],
        windows: (1..=7)
            .map(|weekday| Window { weekday, start: "00:00".into(), end: "24:00".into() })
            .collect(),
        holidays: vec![],
        learning: None,
    };
    let project = project::create(&mut **client, tenant, &actor(), &input).await.unwrap().id;
    Desk { db, tenant, provider, mow, ny, project, gates: Default::default() }
}

impl Desk {
    /// `count` numbers from `first`, held by the project, in `geo`.
    async fn numbers(&self, first: i64, count: i64, geo: Option<i64>) {
        self.db
            .client()
            .await
            .execute(
                "INSERT INTO phone_numbers (tenant_id, phone, provider_id, geo_id, project_id, allocated_at, import_id,
                                            last_import_id)
                 SELECT $1, $2::bigint + i, $3, $4, $5, '2026-11-22T00:00:00Z', 0, 0
                   FROM generate_series(0, $6::bigint - 1) i",
                &[&self.tenant.0, &first, &self.provider, &geo, &self.project, &count],
            )
            .await
            .unwrap();
    }

    async fn lease(&self, count: i64, now: DateTime<Utc>) -> Lease {
        let mut client = self.db.client().await;
        let request = LeaseRequest { count, lease_s: 300 };
        lease::lease(
            &mut client,
            &self.gates,
            self.tenant,
            &Scope::All,
            &actor(),
            self.project,
            &request,
            now,
        )
        .await
        .unwrap()
    }

    async fn post(
        &self,
        call_id: &str,
        phone: &str,
        disposition: &str,
        started: &str,
    ) -> outcome::OutcomeResult {
        let mut client = self.db.client().await;
        outcome::post(
            &mut **client,
            self.tenant,
            &Scope::All,
            &actor(),
            &outcome_input(call_id, phone, disposition, started),
        )
        .await
        .unwrap()
    }

    async fn scalar(&self, sql: &str) -> i64 {
        self.db.client().await.query_one(sql, &[]).await.unwrap().get(0)
    }
}

/// A dialer's call outcome; shared with the scorecard and groups tests.
pub(crate) fn outcome_input(call_id: &str, phone: &str, disposition: &str, started: &str) -> OutcomeInput {
    OutcomeInput {
        call_id: call_id.into(),
        phone: phone.into(),
        project_id: None,
        disposition: disposition.into(),
        started_at: at(started),
        answered_at: None,
        ended_at: None,
        duration_s: Some(0),
        agent: Some("anna".into()),
        notes: None,
    }
}

/// One dialer leasing `count` at a time until the project has nothing left for it.
async fn lease_until_empty(desk: std::sync::Arc<Desk>, count: i64, now: DateTime<Utc>) -> Vec<String> {
    let mut mine = Vec::new();
    loop {
        let got = desk.lease(count, now).await;
        if got.numbers.is_empty() {
            return mine;
        }
        mine.extend(phones(&got));
    }
}

fn phones(lease: &Lease) -> Vec<String> {
    lease.numbers.iter().map(|n| n.phone.clone()).collect()
}

#[tokio::test]
async fn parallel_leases_never_share_a_number_and_expired_leases_come_back() {
    let desk = std::sync::Arc::new(desk(5).await);
    desk.numbers(79160000000, 300, Some(desk.mow)).await;
    // Monday 12:00 in Moscow.
    let now = at("2026-11-23T09:00:00Z");
    let tasks: Vec<_> = (0..16).map(|_| tokio::spawn(lease_until_empty(desk.clone(), 7, now))).collect();
    let mut seen = HashSet::new();
    for task in tasks {
        for phone in task.await.unwrap() {
            assert!(seen.insert(phone.clone()), "{phone} was leased twice");
        }
    }
    assert_eq!(seen.len(), 300, "every number is leased exactly once");
    let empty = desk.lease(5, now + Duration::seconds(60)).await;
    assert!(empty.numbers.is_empty());
    assert_eq!(empty.short_reason.as_deref(), Some("empty"));
    assert_eq!(desk.scalar("SELECT count(*) FROM number_events WHERE kind = 'leased'").await, 300);
    // Five minutes later the leases have run out: the numbers come back.
    let again = desk.lease(500, now + Duration::seconds(301)).await;
    assert_eq!(again.numbers.len(), 300);
}

/// A lease gives back at most 1000 expired leases (in the order they ran out, so the
/// leased index is walked and its dead entries marked); more than that come back over the
/// next leases, none lost and none twice.
#[tokio::test]
async fn more_expired_leases_than_one_lease_gives_back_all_come_back() {
    let desk = std::sync::Arc::new(desk(5).await);
    desk.numbers(79160000000, 1_200, Some(desk.mow)).await;
    let now = at("2026-11-23T09:00:00Z");
    let first = lease_until_empty(desk.clone(), 500, now).await;
    assert_eq!(first.len(), 1_200);
    let later = now + Duration::seconds(301);
    let back = lease_until_empty(desk.clone(), 500, later).await;
    let unique: HashSet<_> = back.iter().collect();
    assert_eq!((back.len(), unique.len()), (1_200, 1_200), "every expired lease comes back once");
    assert_eq!(
        desk.scalar("SELECT count(*) FROM phone_numbers WHERE leased_until <= '2026-11-23T09:05:01Z'").await,
        0,
        "none is left holding a lease that ran out"
    );
}

/// Due retries go out first, oldest due first, then fresh numbers fill the lease; numbers
/// not yet due stay. The count is written into the statement, so each count is its own
/// prepared statement: several counts on one connection, and in parallel, must agree.
#[tokio::test]
async fn due_retries_lease_first_in_due_order_then_fresh_numbers_fill_the_rest() {
    let desk = std::sync::Arc::new(desk(5).await);
    let now = at("2026-11-23T09:00:00Z");
    desk.numbers(79160000000, 40, Some(desk.mow)).await;
    desk.numbers(79170000000, 45, Some(desk.mow)).await;
    desk.numbers(79180000000, 2, Some(desk.mow)).await;
    // 7917…: no answer, due 1 to 45 hours ago, the highest number the longest; 7918…:
    // due tomorrow.
    desk.db
        .client()
        .await
        .batch_execute(
            "UPDATE phone_numbers n SET status = s.id, attempts = 1,
                    next_eligible_at = '2026-11-23T09:00:00Z'::timestamptz - (1 + n.phone - 79170000000) * interval '1 hour'
               FROM number_statuses s WHERE s.tenant_id = n.tenant_id AND s.code = 'no_answer'
                AND n.phone BETWEEN 79170000000 AND 79170000044;
             UPDATE phone_numbers n SET status = s.id, attempts = 1, next_eligible_at = '2026-11-24T09:00:00Z'
               FROM number_statuses s WHERE s.tenant_id = n.tenant_id AND s.code = 'no_answer'
                AND n.phone >= 79180000000;",
        )
        .await
        .unwrap();
    let mut first = phones(&desk.lease(3, now).await);
    first.sort();
    assert_eq!(first, ["+79170000042", "+79170000043", "+79170000044"], "the three longest due");
    // Forty-two due are left: a lease of 50 takes them all and eight fresh ones.
    let second = phones(&desk.lease(50, now).await);
    assert_eq!(second.iter().filter(|p| p.starts_with("+7917")).count(), 42);
    assert_eq!(second.iter().filter(|p| p.starts_with("+7916")).count(), 8);
    // The rest in parallel, one and two at a time: 32 fresh numbers, each once.
    let tasks: Vec<_> =
        (0..8).map(|task| tokio::spawn(lease_until_empty(desk.clone(), 1 + task % 2, now))).collect();
    let mut seen: HashSet<String> = first.into_iter().chain(second).collect();
    for task in tasks {
        for phone in task.await.unwrap() {
            assert!(seen.insert(phone.clone()), "{phone} was leased twice");
        }
    }
    assert_eq!(seen.len(), 85, "every due and fresh number, once");
    assert!(!seen.iter().any(|p| p.starts_with("+7918")), "numbers due tomorrow wait");
    assert_eq!(desk.scalar("SELECT count(*) FROM number_events WHERE kind = 'leased'").await, 85);
}

#[tokio::test]
async fn calling_hours_are_the_numbers_own_across_zones_and_dst() {
    let desk = desk(5).await;
    desk.numbers(79160000000, 3, Some(desk.mow)).await;
    desk.numbers(12125550100, 3, Some(desk.ny)).await;
    let count_by_country = |lease: &Lease| {
        let ru = lease.numbers.iter().filter(|n| n.phone.starts_with("+7")).count();
        (ru, lease.numbers.len() - ru)
    };
    let release_all = || async {
        desk.db.client().await.execute("UPDATE phone_numbers SET leased_until = NULL", &[]).await.unwrap();
    };
    // 09:00 in Moscow, 01:00 in New York: only Moscow may be called, and the lease says
    // why the rest did not come.
    let early = desk.lease(10, at("2026-11-23T06:00:00Z")).await;
    assert_eq!(count_by_country(&early), (3, 0));
    assert_eq!(early.short_reason.as_deref(), Some("outside_calling_hours"));
    release_all().await;
    // 20:59 in Moscow, 12:59 in New York: both; 21:00 in Moscow closes it.
    assert_eq!(count_by_country(&desk.lease(10, at("2026-11-23T17:59:00Z")).await), (3, 3));
    release_all().await;
    assert_eq!(count_by_country(&desk.lease(10, at("2026-11-23T18:00:00Z")).await), (0, 3));
    release_all().await;
    // New York changes to summer time on 8 March 2026: 12:30 UTC is 07:30 before, 08:30 after.
    assert_eq!(count_by_country(&desk.lease(10, at("2026-03-06T12:30:00Z")).await).1, 0);
    assert_eq!(count_by_country(&desk.lease(10, at("2026-03-09T12:30:00Z")).await).1, 3);
    release_all().await;

    // A region's own hours beat the default, and its cap counts calls in 24 hours. The
    // gate of 06:30 is computed (and cached) before the rule exists: the new rule must
    // still apply within the same minute.
    assert_eq!(count_by_country(&desk.lease(10, at("2026-11-23T06:30:00Z")).await).0, 3);
    release_all().await;
    let mut client = desk.db.client().await;
    let rule = CallingHoursInput {
        geo_id: Some(desk.mow),
        start: "10:00".into(),
        end: "20:00".into(),
        max_calls_24h: Some(1),
    };
    hours::set(&mut **client, desk.tenant, &actor(), &rule).await.unwrap();
    drop(client);
    assert_eq!(
        count_by_country(&desk.lease(10, at("2026-11-23T06:30:00Z")).await).0,
        0,
        "09:30 is before 10:00"
    );
    let open = desk.lease(10, at("2026-11-23T07:30:00Z")).await;
    assert_eq!(count_by_country(&open).0, 3);
    // A busy signal: due again after 30 minutes, but one call in 24 hours is the cap.
    desk.post("c1", "+79160000000", "BUSY", "2026-11-23T07:31:00Z").await;
    release_all().await;
    let later = desk.lease(10, at("2026-11-23T09:00:00Z")).await;
    assert!(!phones(&later).contains(&"+79160000000".to_owned()), "capped at one call a day");
    assert_eq!(count_by_country(&later).0, 2);
    // The country's numbers without the region rule are judged by the default again.
    let mut client = desk.db.client().await;
    let bad =
        CallingHoursInput { geo_id: None, start: "21:00".into(), end: "08:00".into(), max_calls_24h: None };
    let error = hours::set(&mut **client, desk.tenant, &actor(), &bad).await.unwrap_err();
    assert!(matches!(error, Error::InvalidArgument { field: "end", .. }), "{error}");
}

#[tokio::test]
async fn the_same_calls_in_the_16_and_the_18_column_layout_are_counted_once() {
    let desk = desk(5).await;
    desk.numbers(79160000001, 2, Some(desk.mow)).await;
    let dir = std::env::temp_dir().join(format!("dialpool-cdr-{}", desk.db.name));
    std::fs::create_dir_all(&dir).unwrap();
    let call = |phone: &str, channel: &str, start: &str, tail: &str| {
        format!(
            "\"\",\"1001\",\"{phone}\",\"outbound\",\"1001\",\"{channel}\",\"SIP/trunk-1\",\"Dial\",\"x\",\"{start}\",\"\",\"{start}\",4,0,\"BUSY\",\"DOCUMENTATION\"{tail}\n"
        )
    };
    let short = call("+79160000001", "SIP/1001-0000a", "2026-11-23 12:00:00", "")
        + &call("+79160000002", "SIP/1001-0000b", "2026-11-23 12:01:00", "");
    let long = call("+79160000001", "SIP/1001-0000a", "2026-11-23 12:00:00", ",\"1795510800.11\",\"\"")
        + &call("+79160000002", "SIP/1001-0000b", "2026-11-23 12:01:00", ",\"1795510860.12\",\"\"");
    let mut results = Vec::new();
    for (name, text) in [("Master-16.csv", short), ("Master-18.csv", long)] {
        std::fs::write(dir.join(name), text).unwrap();
        let request = OutcomeFileRequest {
            tenant: desk.tenant,
            scope: Scope::All,
            display_name: None,
            path: dir.join(name),
            format: Format::Asterisk,
            time_zone: Some("Europe/Moscow".into()),
            region: None,
            project_id: None,
            actor: actor(),
        };
        let applied = files::import(&desk.db.pool, request).await.unwrap().applied;
        results.push((applied.applied, applied.duplicates));
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(results, [(2, 0), (0, 2)], "the longer layout of the same calls is a repeat");
    assert_eq!(desk.scalar("SELECT sum(attempts)::bigint FROM phone_numbers").await, 2);
}

#[tokio::test]
async fn a_lease_held_back_by_the_daily_cap_says_so() {
    let desk = desk(5).await;
    desk.numbers(79160000000, 2, Some(desk.mow)).await;
    let mut client = desk.db.client().await;
    let rule = CallingHoursInput {
        geo_id: None,
        start: "00:00".into(),
        end: "24:00".into(),
        max_calls_24h: Some(1),
    };
    hours::set(&mut **client, desk.tenant, &actor(), &rule).await.unwrap();
    assert_eq!(desk.lease(10, at("2026-11-23T07:30:00Z")).await.numbers.len(), 2);
    desk.post("c1", "+79160000000", "BUSY", "2026-11-23T07:31:00Z").await;
    desk.post("c2", "+79160000001", "BUSY", "2026-11-23T07:32:00Z").await;
    // Their 30-minute cool-down is over, but each was called once in 24 hours.
    let capped = desk.lease(10, at("2026-11-23T09:00:00Z")).await;
    assert_eq!((capped.numbers.len(), capped.short_reason.as_deref()), (0, Some("daily_cap")));
    let next_day = desk.lease(2, at("2026-11-24T09:00:00Z")).await;
    assert_eq!((next_day.numbers.len(), next_day.short_reason), (2, None));
    let drained = desk.lease(10, at("2026-11-24T09:00:00Z")).await;
    assert_eq!(drained.short_reason.as_deref(), Some("empty"), "all leased: nothing waits");
}

#[tokio::test]
async fn a_call_dated_before_the_numbers_allocation_is_refused_with_both_times() {
    let desk = desk(5).await;
    // Allocated at 2026-11-22 00:00 UTC.
    desk.numbers(79160000000, 1, Some(desk.mow)).await;
    let mut client = desk.db.client().await;
    let early = outcome_input("early-1", "+79160000000", "SALE", "2026-11-21T10:00:00Z");
    let error = outcome::post(&mut **client, desk.tenant, &Scope::All, &actor(), &early).await.unwrap_err();
    assert!(matches!(error, Error::InvalidArgument { field: "started_at", .. }), "{error}");
    assert!(error.to_string().contains("2026-11-22 00:00:00 UTC"), "{error}");
    // A dialer's clock a minute behind is not a reason to lose a call.
    let skewed = outcome_input("skew-1", "+79160000000", "SALE", "2026-11-21T23:59:00Z");
    assert!(
        !outcome::post(&mut **client, desk.tenant, &Scope::All, &actor(), &skewed).await.unwrap().duplicate
    );
    // Conversion counts hours to success from the allocation, never below zero: the sale
    // sits in the first hour's bucket.
    dialpool_engine::insight::conversion::refresh(&desk.db.pool, true).await.unwrap();
    assert_eq!(
        desk.scalar(
            "SELECT count(*) FROM project_conversions
              WHERE success_hours_sum < 0 OR (success > 0 AND success_hours[1] IS DISTINCT FROM success)"
        )
        .await,
        0
    );
    assert_eq!(desk.scalar("SELECT sum(success)::bigint FROM project_conversions").await, 1);
}

#[tokio::test]
async fn outcomes_are_idempotent_and_move_statuses_attempts_and_dnc() {
    let desk = desk(2).await;
    desk.numbers(79160000000, 4, Some(desk.mow)).await;
    let now = at("2026-11-23T09:00:00Z");
    let leased = desk.lease(4, now).await;
    assert_eq!(leased.numbers.len(), 4);

    let first = desk.post("call-1", "+7 916 000-00-00", "no answer", "2026-11-23T09:01:00Z").await;
    assert!(!first.duplicate);
    assert_eq!(
        (first.status_from.as_deref(), first.status_to.as_str(), first.attempts),
        (Some("new"), "no_answer", 1)
    );
    assert_eq!(first.next_eligible_at, Some(at("2026-11-23T13:01:00Z")), "four hours' cool-down");
    let again = desk.post("call-1", "+79160000000", "SALE", "2026-11-23T09:05:00Z").await;
    assert!(again.duplicate, "a repeated call id changes nothing");
    assert_eq!((again.status_to.as_str(), again.attempts), ("no_answer", 1));
    assert_eq!(desk.scalar("SELECT count(*) FROM call_outcomes").await, 1);

    // Cooling down: not leased until due, then leased before fresh numbers.
    desk.post("call-2", "+79160000001", "SALE", "2026-11-23T09:02:00Z").await;
    let dnc = desk.post("call-3", "+79160000002", "DNC", "2026-11-23T09:03:00Z").await;
    assert!(dnc.dnc);
    assert_eq!(desk.scalar("SELECT count(*) FROM dnc_numbers WHERE source = 'call outcome'").await, 1);
    let mid = desk.lease(10, at("2026-11-23T10:00:00Z")).await;
    assert_eq!(
        phones(&mid),
        vec!["+79160000003".to_owned()],
        "its lease ran out; one cools down, two finished"
    );
    let due = desk.lease(10, at("2026-11-23T13:30:00Z")).await;
    assert_eq!(phones(&due), vec!["+79160000000".to_owned(), "+79160000003".to_owned()]);

    // Max attempts (2 for this project) ends the number's life in the project.
    let last = desk.post("call-4", "+79160000000", "NO ANSWER", "2026-11-23T13:31:00Z").await;
    assert_eq!((last.attempts, last.next_eligible_at), (2, None));

    // Each call is in the number's history once, newest first, with the lease before it.
    let client = desk.db.client().await;
    let explained = dialpool_engine::insight::explain::explain(
        &**client,
        desk.tenant,
        &Scope::All,
        "+79160000000",
        None,
        None,
    )
    .await
    .unwrap();
    let calls: Vec<_> = explained
        .history
        .iter()
        .filter(|e| e.kind == "called")
        .map(|e| (e.at, e.disposition.clone().unwrap(), e.data.as_ref().unwrap()["call_id"].clone()))
        .collect();
    assert_eq!(
        calls,
        vec![
            (at("2026-11-23T13:31:00Z"), "NO ANSWER".to_owned(), serde_json::json!("call-4")),
            (at("2026-11-23T09:01:00Z"), "NO ANSWER".to_owned(), serde_json::json!("call-1")),
        ]
    );
    assert!(explained.history.iter().any(|e| e.kind == "leased"));
    let summaries = project::list(&**client, desk.tenant, &Scope::All, false).await.unwrap();
    let summary = summaries.iter().find(|s| s.project.id == desk.project).unwrap();
    assert_eq!((summary.dialed, summary.successes), (3, 1), "three of the four were called, one sold");
    drop(client);
    let after = desk.lease(10, at("2026-11-24T13:30:00Z")).await;
    assert_eq!(
        phones(&after),
        vec!["+79160000003".to_owned()],
        "the expired lease returns; the finished stays out"
    );

    // A project that releases finished numbers hands a sale back to the pool.
    desk.db.client().await.execute("UPDATE projects SET on_final = 'release'", &[]).await.unwrap();
    let sale = desk.post("call-5", "+79160000003", "SALE", "2026-11-24T13:31:00Z").await;
    assert_eq!((sale.status_to.as_str(), sale.project_id), ("success", None));
    assert_eq!(desk.scalar("SELECT count(*) FROM number_events WHERE kind = 'released'").await, 1);

    // A retry status without a maximum, on a number no project holds: no limit applies.
    desk.db
        .client()
        .await
        .batch_execute(
            "INSERT INTO number_statuses (tenant_id, id, code, name, category, cooldown) VALUES (1, 20, 'later', 'Later', 'retry', '1 hour');
             INSERT INTO disposition_map (tenant_id, disposition, status_id) VALUES (1, 'LATER', 20);
             UPDATE phone_numbers SET project_id = NULL WHERE phone = 79160000001",
        )
        .await
        .unwrap();
    let later = desk.post("call-8", "+79160000001", "later", "2026-11-24T14:00:00Z").await;
    assert_eq!(
        (later.status_to.as_str(), later.next_eligible_at),
        ("later", Some(at("2026-11-24T15:00:00Z")))
    );

    // Bad input names the field and stores nothing.
    let mut client = desk.db.client().await;
    let unknown = outcome_input("call-6", "+79160000001", "MAYBE", "2026-11-24T13:32:00Z");
    let error = outcome::post(&mut **client, desk.tenant, &Scope::All, &actor(), &unknown).await.unwrap_err();
    assert!(matches!(error, Error::InvalidArgument { field: "disposition", .. }), "{error}");
    let stranger = outcome_input("call-7", "+79990000000", "BUSY", "2026-11-24T13:32:00Z");
    let error =
        outcome::post(&mut **client, desk.tenant, &Scope::All, &actor(), &stranger).await.unwrap_err();
    assert!(error.to_string().contains("not one Dialpool holds"), "{error}");
    assert_eq!(desk.scalar("SELECT count(*) FROM call_outcomes").await, 6);
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/outcomes").join(name)
}

#[tokio::test]
async fn asterisk_master_csv_in_both_layouts_and_a_generic_csv() {
    let desk = desk(5).await;
    desk.numbers(79160000001, 5, Some(desk.mow)).await;
    let import = |name: &str, format: Format, zone: Option<&str>| {
        let request = OutcomeFileRequest {
            tenant: desk.tenant,
            scope: dialpool_engine::platform::access::Scope::All,
            display_name: None,
            path: fixture(name),
            format,
            time_zone: zone.map(str::to_owned),
            region: Some(dialpool_engine::intake::phone::Region::parse("RU").unwrap()),
            project_id: None,
            actor: actor(),
        };
        let pool = desk.db.pool.clone();
        async move { files::import(&pool, request).await.unwrap() }
    };
    // 16 columns, local Moscow time; row 4 has a bad start, row 5 an unknown disposition.
    let first = import("Master-16.csv", Format::Asterisk, Some("Europe/Moscow")).await;
    let s = &first.applied;
    assert_eq!((s.received, s.applied, s.duplicates, s.rejected), (5, 3, 0, 2));
    assert_eq!(s.rejections[0].line, 4);
    assert!(s.rejections[0].reason.contains("start (10)"), "{:?}", s.rejections);
    assert!(s.rejections[1].reason.contains("HUNG UP ON"), "{:?}", s.rejections);
    let started: DateTime<Utc> = desk
        .db
        .client()
        .await
        .query_one("SELECT started_at FROM call_outcomes WHERE phone = 79160000002", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(started, at("2026-11-23T09:02:00Z"), "12:02 in Moscow");
    let again = import("Master-16.csv", Format::Asterisk, Some("Europe/Moscow")).await;
    assert_eq!(
        (again.applied.applied, again.applied.duplicates),
        (0, 3),
        "the same file twice changes nothing"
    );

    // 18 columns: the user field is the agent's result.
    let second = import("Master-18.csv", Format::Asterisk, Some("Europe/Moscow")).await;
    assert_eq!((second.applied.applied, second.applied.dnc_added), (3, 1));
    let status = |phone: i64| {
        let db = &desk.db;
        async move {
            db.client()
                .await
                .query_one(
                    "SELECT s.code, n.attempts FROM phone_numbers n JOIN number_statuses s ON s.tenant_id = n.tenant_id AND s.id = n.status WHERE n.phone = $1",
                    &[&phone],
                )
                .await
                .map(|r| (r.get::<_, String>(0), r.get::<_, i16>(1)))
                .unwrap()
        }
    };
    assert_eq!(status(79160000001).await, ("success".into(), 2));
    assert_eq!(status(79160000002).await, ("dnc".into(), 2));
    assert_eq!(status(79160000003).await, ("no_answer".into(), 2));

    // Generic CSV: any case of disposition, zones in the times, a repeated call id.
    let generic = import("generic.csv", Format::Csv, None).await;
    let g = &generic.applied;
    assert_eq!((g.received, g.applied, g.duplicates), (4, 3, 1));
    assert_eq!(status(79160000001).await, ("busy".into(), 4), "the later of two calls sets the status");

    // VICIdial's calls export: tab-separated, national numbers with the country code apart,
    // a call known by its lead and start; row 5 has a bad date, row 6 a status not mapped.
    let vicidial = import("vicidial-calls.txt", Format::Vicidial, Some("Europe/Moscow")).await;
    let v = &vicidial.applied;
    assert_eq!((v.received, v.applied, v.rejected, v.dnc_added), (5, 3, 2, 1), "{:?}", v.rejections);
    assert_eq!((v.rejections[0].line, v.rejections[0].field), (5, "call_date"), "{:?}", v.rejections);
    assert!(v.rejections[1].reason.contains("XFER"), "{:?}", v.rejections);
    assert_eq!(status(79160000004).await, ("success".into(), 2));
    assert_eq!(status(79160000005).await, ("dnc".into(), 1));
    let (call_id, started, agent, notes): (String, DateTime<Utc>, String, String) = desk
        .db
        .client()
        .await
        .query_one(
            "SELECT call_id, started_at, agent, notes FROM call_outcomes WHERE phone = 79160000004 AND disposition = 'SALE'",
            &[],
        )
        .await
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .unwrap();
    assert_eq!(call_id, "vicidial:101@2026-11-23 15:00:00");
    assert_eq!(started, at("2026-11-23T12:00:00Z"), "15:00 in Moscow");
    assert_eq!((agent.as_str(), notes.as_str()), ("agent1", "said \"yes\" at once"));
    let again = import("vicidial-calls.txt", Format::Vicidial, Some("Europe/Moscow")).await;
    assert_eq!((again.applied.applied, again.applied.duplicates), (0, 3));

    // The file's zone reads wall-clock times only; a time with its own zone keeps it.
    let mixed = std::env::temp_dir().join(format!("dialpool-mixed-{}.csv", std::process::id()));
    std::fs::write(&mixed, "phone,call_id,disposition,at\n+79160000003,z-1,BUSY,2026-11-24T09:00:00Z\n+79160000003,z-2,BUSY,2026-11-24 12:30:00\n").unwrap();
    let request = OutcomeFileRequest {
        tenant: desk.tenant,
        scope: dialpool_engine::platform::access::Scope::All,
        display_name: None,
        path: mixed.clone(),
        format: Format::Csv,
        time_zone: Some("Europe/Moscow".into()),
        region: None,
        project_id: None,
        actor: actor(),
    };
    files::import(&desk.db.pool, request).await.unwrap();
    std::fs::remove_file(&mixed).unwrap();
    let times: Vec<DateTime<Utc>> = desk
        .db
        .client()
        .await
        .query("SELECT started_at FROM call_outcomes WHERE call_id IN ('z-1', 'z-2') ORDER BY call_id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(times, [at("2026-11-24T09:00:00Z"), at("2026-11-24T09:30:00Z")]);
}

#[tokio::test]
async fn a_call_stored_by_a_concurrent_transaction_is_a_duplicate_not_an_error() {
    let desk = desk(5).await;
    desk.numbers(79160000000, 1, Some(desk.mow)).await;
    let input = outcome_input("race-1", "+79160000000", "NO ANSWER", "2026-11-23T09:01:00Z");
    let mut first = desk.db.client().await;
    let tx = first.transaction().await.unwrap();
    outcome::stage(&tx, &[input.stage(1, None).unwrap()]).await.unwrap();
    let stored = outcome::apply(&tx, desk.tenant, &Scope::All, &actor(), "api", "UTC").await.unwrap();
    assert_eq!(stored.applied, 1);
    // The second post's insert waits on the first's uncommitted key, then meets it.
    let second = {
        let pool = desk.db.pool.clone();
        let tenant = desk.tenant;
        tokio::spawn(async move {
            let mut client = pool.get().await.unwrap();
            outcome::post(&mut **client, tenant, &Scope::All, &actor(), &input).await
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    tx.commit().await.unwrap();
    let second = second.await.unwrap().unwrap();
    assert!(second.duplicate, "{second:?}");
    assert_eq!(second.attempts, 1, "the call counted once");
    assert_eq!(desk.scalar("SELECT count(*) FROM call_outcomes").await, 1);
}

#[tokio::test]
async fn a_stale_blocking_dnc_list_holds_back_its_countrys_numbers_until_it_is_loaded_again() {
    use dialpool_engine::intake::dnc_list::{self, DncListInput};
    let desk = desk(5).await;
    desk.numbers(79160000000, 2, Some(desk.mow)).await;
    desk.numbers(12125550100, 2, Some(desk.ny)).await;
    let mut client = desk.db.client().await;
    let us = DncListInput {
        name: "US national registry".into(),
        country: Some("us".into()),
        max_age_days: Some(31),
        block_when_stale: true,
    };
    dnc_list::set(&mut **client, desk.tenant, &actor(), &us).await.unwrap();
    let never_loaded = dnc_list::list(&**client, desk.tenant).await.unwrap();
    assert!(never_loaded[0].stale && never_loaded[0].country.as_deref() == Some("US"));
    // 15:00 UTC is within calling hours in Moscow (18:00) and New York (10:00 or 11:00);
    // the moment the test runs may be in neither.
    let now = Utc::now().date_naive().and_hms_opt(15, 0, 0).unwrap().and_utc();
    let lease = desk.lease(10, now).await;
    assert!(lease.numbers.iter().all(|n| n.phone.starts_with("+7")), "{lease:?}");
    assert_eq!((lease.numbers.len(), lease.short_reason.as_deref()), (2, Some("dnc_list_stale")));

    // Loaded (a file of the list): fresh again, and the US numbers go out.
    desk.db
        .client()
        .await
        .execute("UPDATE dnc_lists SET loaded_at = now() - interval '3 days'", &[])
        .await
        .unwrap();
    let lease = desk.lease(10, now).await;
    assert_eq!(lease.numbers.len(), 2, "{lease:?}");
    assert!(lease.numbers.iter().all(|n| n.phone.starts_with("+1")));

    // A list for every number that blocks: nothing goes out; one that only warns: no effect.
    desk.db
        .client()
        .await
        .batch_execute(
            "UPDATE phone_numbers SET leased_until = NULL;
             UPDATE dnc_lists SET loaded_at = now() - interval '40 days', block_when_stale = false;",
        )
        .await
        .unwrap();
    assert_eq!(desk.lease(10, now).await.numbers.len(), 4, "a list that only warns holds nothing back");
    desk.db.client().await.execute("UPDATE phone_numbers SET leased_until = NULL", &[]).await.unwrap();
    let all = DncListInput {
        name: "Own list".into(),
        country: None,
        max_age_days: Some(7),
        block_when_stale: true,
    };
    dnc_list::set(&mut **client, desk.tenant, &actor(), &all).await.unwrap();
    let lease = desk.lease(10, now).await;
    assert_eq!((lease.numbers.len(), lease.short_reason.as_deref()), (0, Some("dnc_list_stale")));
    let today = dialpool_engine::insight::dashboard::today(&**client, desk.tenant, None).await.unwrap();
    assert_eq!(today.stale_dnc_lists.len(), 2, "Today warns of both");

    let bad = DncListInput { name: "x".into(), country: None, max_age_days: None, block_when_stale: true };
    assert!(dnc_list::set(&mut **client, desk.tenant, &actor(), &bad).await.is_err());
}

#[tokio::test]
async fn the_compliance_report_times_every_call_where_it_rang_and_flags_the_illegal_one() {
    use dialpool_engine::compliance::report;
    use dialpool_engine::intake::dnc_list::{self, DncListInput};
    let desk = desk(5).await;
    desk.numbers(79160000000, 2, Some(desk.mow)).await;
    desk.numbers(12125550100, 2, Some(desk.ny)).await;
    // 07:30 UTC: 10:30 in Moscow, 02:30 in New York (only Moscow's numbers may be leased).
    let lease = desk.lease(10, at("2026-11-23T07:30:00Z")).await;
    assert_eq!(lease.numbers.len(), 2);
    desk.post("c1", "+79160000000", "BUSY", "2026-11-23T07:31:00Z").await;
    desk.post("c3", "+79160000000", "NO ANSWER", "2026-11-23T08:05:00Z").await;
    // A dialer that called New York at 02:32 local time: reported, and flagged.
    desk.post("c2", "+12125550100", "NO ANSWER", "2026-11-23T07:32:00Z").await;
    let mut client = desk.db.client().await;
    let hostile = DncListInput {
        name: "=HYPERLINK(\"http://x\")".into(),
        country: None,
        max_age_days: None,
        block_when_stale: false,
    };
    dnc_list::set(&mut **client, desk.tenant, &actor(), &hostile).await.unwrap();

    let day = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let r = report::report(&desk.db.pool, &desk.gates, desk.tenant, desk.project, day, day).await.unwrap();
    assert_eq!(r.leases_by_local_hour[10], 2, "{:?}", r.leases_by_local_hour);
    assert_eq!((r.calls_by_local_hour[10], r.calls_by_local_hour[11], r.calls_by_local_hour[2]), (1, 1, 1));
    assert_eq!((r.calls_per_number.numbers, r.calls_per_number.most_in_24h), (2, 2));
    assert_eq!(r.calls_per_number.by_most_in_24h.get("2"), Some(&1));
    assert_eq!(r.calls_outside_hours, 1);
    let flagged = &r.flagged_calls[0];
    assert_eq!(
        (
            flagged.call_id.as_str(),
            flagged.zone.as_str(),
            flagged.local_time.as_str(),
            flagged.allowed_from.as_str()
        ),
        ("c2", "America/New_York", "2026-11-23 02:32", "08:00")
    );
    assert_eq!(flagged.phone.as_deref(), Some("+12125550100"));
    // Now (weeks later): New York's two and the Moscow number whose retry is due; the
    // other Moscow number's lease ran out but returns only with the next lease.
    assert_eq!(r.withheld.now.due, 3);

    let csv = String::from_utf8(report::to_csv(&r).unwrap()).unwrap();
    assert!(csv.contains("calls_outside_hours,c2,"), "{csv}");
    assert!(csv.contains("'=HYPERLINK"), "list names are escaped: {csv}");
    assert!(report::to_xlsx(&r).unwrap().starts_with(b"PK"));

    // An erased number's call stays in the report, timed by its geo, without the number.
    let secret = dialpool_engine::platform::secret::SecretKey::from_base64(
        "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("dialpool-report-{}", desk.db.name));
    dialpool_engine::compliance::erasure::erase(
        &desk.db.pool,
        &dir,
        &secret,
        dialpool_engine::compliance::erasure::ErasureRequest {
            tenant: desk.tenant,
            phones: vec![12125550100],
            reason: "at the subject's request".into(),
            requested_at: None,
            actor: actor(),
        },
        None,
    )
    .await
    .unwrap();
    let r = report::report(&desk.db.pool, &desk.gates, desk.tenant, desk.project, day, day).await.unwrap();
    assert_eq!((r.calls_outside_hours, r.flagged_calls[0].phone.clone()), (1, None));
    assert_eq!(r.flagged_calls[0].zone, "America/New_York");
    assert!(
        report::report(&desk.db.pool, &desk.gates, desk.tenant, desk.project, day, day.pred_opt().unwrap())
            .await
            .is_err()
    );
}
