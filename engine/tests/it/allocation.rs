//! Allocation against a real PostgreSQL: quotas, weights, competition, schedules in
//! time zones, dry runs, concurrent runs, and seeded random pools checked for the
//! properties that must always hold.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use dialpool_engine::TenantId;
use dialpool_engine::insight::explain;
use dialpool_engine::platform::access::Scope;
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::platform::tenant;
use dialpool_engine::pool::allocate::{self, ProjectRun, Report, Request, forecast};
use dialpool_engine::pool::project::{self, ProjectInput, Release, Source, Window};
use dialpool_engine::testkit::TestDb;

struct Pool {
    db: TestDb,
    tenant: TenantId,
    providers: Vec<i64>,
    /// RU (whole country), RU-MOW, KZ
    geos: Vec<i64>,
}

fn actor() -> Actor {
    Actor::system("test")
}

async fn pool() -> Pool {
    let db = TestDb::new().await;
    let client = db.client().await;
    let tenant = tenant::find_by_slug(&**client, "default").await.unwrap();
    let mut providers = Vec::new();
    for code in ["alpha", "beta", "gamma"] {
        providers.push(
            client
                .query_one(
                    "INSERT INTO providers (tenant_id, code, name) VALUES ($1, $2, $2) RETURNING id",
                    &[&tenant.0, &code],
                )
                .await
                .unwrap()
                .get(0),
        );
    }
    let ru: i64 = client
        .query_one("SELECT id FROM geos WHERE tenant_id = $1 AND code = 'RU'", &[&tenant.0])
        .await
        .unwrap()
        .get(0);
    let mow: i64 = client
        .query_one(
            "INSERT INTO geos (tenant_id, country, region, name, time_zone)
             VALUES ($1, 'RU', 'MOW', 'Moscow', 'Europe/Moscow') RETURNING id",
            &[&tenant.0],
        )
        .await
        .unwrap()
        .get(0);
    let kz: i64 = client
        .query_one("SELECT id FROM geos WHERE tenant_id = $1 AND code = 'KZ'", &[&tenant.0])
        .await
        .unwrap()
        .get(0);
    Pool { db, tenant, providers, geos: vec![ru, mow, kz] }
}

impl Pool {
    /// `count` numbers of one provider and geo, the later ones created later.
    async fn numbers(&self, first: i64, count: i64, provider: i64, geo: Option<i64>) {
        self.db
            .client()
            .await
            .execute(
                "INSERT INTO phone_numbers (tenant_id, phone, provider_id, geo_id, import_id, last_import_id, created_at)
                 SELECT $1, $2::bigint + i, $3, $4, 0, 0, timestamptz '2026-01-01' + i * interval '1 second'
                   FROM generate_series(0, $5::bigint - 1) i",
                &[&self.tenant.0, &first, &provider, &geo, &count],
            )
            .await
            .unwrap();
    }

    async fn project(&self, input: ProjectInput) -> i64 {
        let mut client = self.db.client().await;
        project::create(&mut **client, self.tenant, &actor(), &input).await.unwrap().id
    }

    async fn run(&self, request: Request) -> Report {
        let mut client = self.db.client().await;
        allocate::run(&mut **client, self.tenant, &actor(), &request).await.unwrap()
    }

    async fn held(&self) -> HashMap<i64, HashSet<i64>> {
        let mut held: HashMap<i64, HashSet<i64>> = HashMap::new();
        for row in self
            .db
            .client()
            .await
            .query(
                "SELECT project_id, phone FROM phone_numbers WHERE tenant_id = $1 AND project_id IS NOT NULL",
                &[&self.tenant.0],
            )
            .await
            .unwrap()
        {
            held.entry(row.get(0)).or_default().insert(row.get(1));
        }
        held
    }
}

fn every_day() -> Vec<Window> {
    (1..=7).map(|weekday| Window { weekday, start: "00:00".into(), end: "24:00".into() }).collect()
}

/// A project open every day in UTC, newest numbers first; shared with the groups tests.
pub(crate) fn input(name: &str, quota: i32, sources: Vec<(Option<i64>, Option<i64>, i32)>) -> ProjectInput {
    ProjectInput {
        name: name.into(),
        status: "active".into(),
        time_zone: "UTC".into(),
        daily_quota: quota,
        max_attempts: 5,
        priority: 0,
        exclusive: false,
        allocation_order: "newest".into(),
        on_final: "keep".into(),
        sources: sources
            .into_iter()
            .map(|(provider_id, geo_id, weight)| Source { id: 0, provider_id, geo_id, weight, prefix: None })
            .collect(),
        windows: every_day(),
        holidays: vec![],
        learning: None,
    }
}

fn day(text: &str) -> Option<NaiveDate> {
    Some(text.parse().unwrap())
}

fn allocated(report: &Report, project: i64) -> i64 {
    report.projects.iter().find(|p| p.project_id == project).unwrap().allocated
}

#[tokio::test]
async fn a_project_gets_its_quota_split_by_weight_newest_first_and_a_second_run_adds_nothing() {
    let pool = pool().await;
    let (alpha, beta) = (pool.providers[0], pool.providers[1]);
    pool.numbers(79_000_000_000, 500, alpha, Some(pool.geos[0])).await;
    pool.numbers(79_100_000_000, 500, beta, Some(pool.geos[1])).await;
    let p = pool.project(input("Sales", 300, vec![(Some(alpha), None, 2), (Some(beta), None, 1)])).await;

    let report = pool.run(Request { date: day("2026-11-23"), ..Request::default() }).await;
    assert_eq!(allocated(&report, p), 300);
    let rules = &report.projects[0].rules;
    assert_eq!((rules[0].allocated, rules[1].allocated), (200, 100));
    let held = &pool.held().await[&p];
    // Newest first: alpha's last 200 and beta's last 100.
    assert!(held.contains(&79_000_000_499) && !held.contains(&79_000_000_299));
    assert!(held.contains(&79_100_000_499) && !held.contains(&79_100_000_399));

    let client = pool.db.client().await;
    let events: i64 = client
        .query_one("SELECT count(*) FROM number_events WHERE kind = 'allocated' AND project_id = $1", &[&p])
        .await
        .unwrap()
        .get(0);
    assert_eq!(events, 300);

    let again = pool.run(Request { date: day("2026-11-23"), ..Request::default() }).await;
    assert_eq!(again.allocated, 0);
    assert_eq!(again.projects[0].allocated_before, 300);
    // The next day has a fresh quota.
    let next = pool.run(Request { date: day("2026-11-24"), ..Request::default() }).await;
    assert_eq!(next.allocated, 300);
}

#[tokio::test]
async fn competing_projects_share_by_priority_then_in_proportion_to_quota() {
    let pool = pool().await;
    let alpha = pool.providers[0];
    pool.numbers(79_000_000_000, 1000, alpha, Some(pool.geos[0])).await;
    let big = pool.project(input("Big", 2700, vec![(Some(alpha), None, 1)])).await;
    let small = pool.project(input("Small", 300, vec![(None, Some(pool.geos[0]), 1)])).await;
    let report = pool.run(Request { date: day("2026-11-23"), ..Request::default() }).await;
    assert_eq!((allocated(&report, big), allocated(&report, small)), (900, 100));

    let pool = pool_with_priority().await;
    let (report, low, high) = pool;
    assert_eq!((allocated(&report, low), allocated(&report, high)), (200, 800));
}

async fn pool_with_priority() -> (Report, i64, i64) {
    let pool = pool().await;
    let alpha = pool.providers[0];
    pool.numbers(79_000_000_000, 1000, alpha, None).await;
    let low = pool.project(input("Low", 900, vec![(Some(alpha), None, 1)])).await;
    let mut urgent = input("High", 800, vec![(None, None, 1)]);
    urgent.priority = 10;
    let high = pool.project(urgent).await;
    (pool.run(Request { date: day("2026-11-23"), ..Request::default() }).await, low, high)
}

#[tokio::test]
async fn a_country_rule_takes_its_regions_and_ineligible_numbers_are_skipped_with_reasons() {
    let pool = pool().await;
    let alpha = pool.providers[0];
    let (ru, mow, kz) = (pool.geos[0], pool.geos[1], pool.geos[2]);
    pool.numbers(79_000_000_000, 10, alpha, Some(mow)).await;
    pool.numbers(79_100_000_000, 10, alpha, Some(kz)).await;
    pool.numbers(79_200_000_000, 10, alpha, Some(ru)).await;
    let client = pool.db.client().await;
    // Two on the DNC list, two cooling down, two at max attempts, two refused.
    client
        .batch_execute(&format!(
            "INSERT INTO dnc_numbers (tenant_id, phone, source) VALUES ({t}, 79000000000, 'test'), ({t}, 79000000001, 'test');
             UPDATE phone_numbers SET status = 2, attempts = 1, next_eligible_at = now() + interval '1 day'
              WHERE phone IN (79000000002, 79000000003);
             UPDATE phone_numbers SET status = 2, attempts = 5 WHERE phone IN (79000000004, 79000000005);
             UPDATE phone_numbers SET status = 6, attempts = 1 WHERE phone IN (79000000006, 79000000007);",
            t = pool.tenant.0
        ))
        .await
        .unwrap();
    let other = pool.project(input("Other", 5, vec![(None, Some(ru), 1)])).await;
    // Another project takes 5 Russian numbers first; they count as held for the next.
    pool.run(Request { date: day("2026-11-23"), projects: Some(vec![other]), ..Request::default() }).await;
    let russia = pool.project(input("Russia", 100, vec![(None, Some(ru), 1)])).await;
    let dry = pool
        .run(Request {
            date: day("2026-11-23"),
            projects: Some(vec![russia]),
            dry_run: true,
            ..Request::default()
        })
        .await;
    let run = &dry.projects[0];
    assert_eq!(run.skipped.held_by_other_project, 5);
    assert_eq!(run.skipped.dnc, 2);
    assert_eq!(run.skipped.cooling_down, 2);
    assert_eq!(run.skipped.max_attempts, 2);
    assert_eq!(run.skipped.status, 2);
    assert_eq!(run.eligible, 20 - 5 - 8);
    assert_eq!(run.allocated, 7, "KZ numbers are not Russian");
}

#[tokio::test]
async fn weekday_and_time_zone_are_the_projects_own() {
    let pool = pool().await;
    let alpha = pool.providers[0];
    pool.numbers(79_000_000_000, 100, alpha, None).await;
    let mut tashkent = input("Tashkent", 10, vec![(Some(alpha), None, 1)]);
    tashkent.time_zone = "Asia/Tashkent".into();
    tashkent.windows = vec![Window { weekday: 1, start: "09:00".into(), end: "18:00".into() }];
    let tashkent = pool.project(tashkent).await;
    let mut new_york = input("New York", 10, vec![(Some(alpha), None, 1)]);
    new_york.time_zone = "America/New_York".into();
    new_york.windows = vec![Window { weekday: 7, start: "09:00".into(), end: "18:00".into() }];
    let new_york = pool.project(new_york).await;

    // 02:00 UTC on Monday 23 November: Monday 07:00 in Tashkent, Sunday 21:00 in New York.
    let at: DateTime<Utc> = "2026-11-23T02:00:00Z".parse().unwrap();
    let report = pool.run(Request { at: Some(at), ..Request::default() }).await;
    let by_id = |id: i64| report.projects.iter().find(|p| p.project_id == id).unwrap().clone();
    assert_eq!((by_id(tashkent).day, by_id(tashkent).weekday), (day("2026-11-23").unwrap(), 1));
    assert_eq!((by_id(new_york).day, by_id(new_york).weekday), (day("2026-11-22").unwrap(), 7));
    assert_eq!((by_id(tashkent).allocated, by_id(new_york).allocated), (10, 10));

    // Six hours later it is Monday in New York too: not its day.
    let later = pool.run(Request { at: Some(at + chrono::Duration::hours(6)), ..Request::default() }).await;
    let ny = later.projects.iter().find(|p| p.project_id == new_york).unwrap();
    assert_eq!((ny.state.as_str(), ny.allocated), ("not_scheduled", 0));
    assert_eq!(ny.skipped.outside_schedule, 80);

    // A holiday stops the project on that day.
    let mut client = pool.db.client().await;
    let mut doc = input("Tashkent", 10, vec![(Some(alpha), None, 1)]);
    doc.time_zone = "Asia/Tashkent".into();
    doc.windows = vec![Window { weekday: 1, start: "09:00".into(), end: "18:00".into() }];
    doc.holidays = vec![day("2026-11-30").unwrap()];
    project::update(&mut **client, pool.tenant, &actor(), tashkent, &doc).await.unwrap();
    let holiday = pool.run(Request { date: day("2026-11-30"), ..Request::default() }).await;
    let t = holiday.projects.iter().find(|p| p.project_id == tashkent).unwrap();
    assert_eq!((t.state.as_str(), t.allocated), ("holiday", 0));
}

#[tokio::test]
async fn two_runs_at_once_allocate_what_one_run_does() {
    let pool = pool().await;
    let alpha = pool.providers[0];
    pool.numbers(79_000_000_000, 2000, alpha, None).await;
    let a = pool.project(input("A", 700, vec![(Some(alpha), None, 1)])).await;
    let b = pool.project(input("B", 500, vec![(None, None, 1)])).await;
    let request = Request { date: day("2026-11-23"), ..Request::default() };
    let (first, second) = tokio::join!(pool.run(request.clone()), pool.run(request.clone()));
    assert_eq!(first.allocated + second.allocated, 1200);
    assert!(first.allocated == 0 || second.allocated == 0, "the second run found nothing left to do");
    let held = pool.held().await;
    assert_eq!((held[&a].len(), held[&b].len()), (700, 500));
}

#[tokio::test]
async fn an_unsaved_project_can_be_previewed_and_nothing_is_stored() {
    let pool = pool().await;
    let alpha = pool.providers[0];
    pool.numbers(79_000_000_000, 100, alpha, None).await;
    let mut client = pool.db.client().await;
    let (report, _) = allocate::preview(
        &mut **client,
        pool.tenant,
        None,
        &input("Draft", 40, vec![(Some(alpha), None, 1)]),
        day("2026-11-23"),
    )
    .await
    .unwrap();
    assert_eq!(report.allocated, 40);
    assert!(project::list(&**client, pool.tenant, &Scope::All, false).await.unwrap().is_empty());
    // Validation errors come back from the preview as from a save.
    let mut bad = input("Draft", 40, vec![(Some(alpha), None, 1)]);
    bad.time_zone = "Mars/Olympus".into();
    let error = allocate::preview(&mut **client, pool.tenant, None, &bad, None).await.unwrap_err();
    assert!(error.to_string().contains("Mars/Olympus"), "{error}");
}

#[tokio::test]
async fn delete_restore_and_purge_account_for_every_number() {
    let pool = pool().await;
    let alpha = pool.providers[0];
    pool.numbers(79_000_000_000, 100, alpha, None).await;
    let p = pool.project(input("Campaign", 50, vec![(Some(alpha), None, 1)])).await;
    pool.run(Request { date: day("2026-11-23"), ..Request::default() }).await;
    let mut client = pool.db.client().await;
    // Ten of them were dialled.
    client
        .execute(
            "UPDATE phone_numbers SET status = 2, attempts = 1 WHERE project_id = $1 AND phone < 79000000060",
            &[&p],
        )
        .await
        .unwrap();

    let counts = project::delete(&mut **client, pool.tenant, &actor(), p, Release::Unworked).await.unwrap();
    assert_eq!((counts.released, counts.kept), (40, 10));
    let deleted = project::list(&**client, pool.tenant, &Scope::All, true).await.unwrap();
    assert_eq!((deleted.len(), deleted[0].numbers), (1, 10));
    // A deleted project does not allocate.
    let report = pool.run(Request { date: day("2026-11-24"), ..Request::default() }).await;
    assert_eq!(report.allocated, 0);

    let restored = project::restore(&mut **client, pool.tenant, &actor(), p).await.unwrap();
    assert_eq!(restored.status, "active");
    project::delete(&mut **client, pool.tenant, &actor(), p, Release::None).await.unwrap();
    let wrong = project::purge(&mut **client, pool.tenant, &actor(), p, "campaign").await.unwrap_err();
    assert!(wrong.to_string().contains("'Campaign'"), "{wrong}");
    let purged = project::purge(&mut **client, pool.tenant, &actor(), p, "Campaign").await.unwrap();
    assert_eq!((purged.released, purged.kept), (10, 0));
    assert!(purged.events_archived >= 50);
    assert!(project::list(&**client, pool.tenant, &Scope::All, true).await.unwrap().is_empty());
    let pool_size: i64 = client
        .query_one("SELECT count(*) FROM phone_numbers WHERE project_id IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(pool_size, 100, "every number is back in the pool");

    // An exclusive project keeps its numbers and says so when asked to release them.
    let mut exclusive = input("Exclusive", 20, vec![(Some(alpha), None, 1)]);
    exclusive.exclusive = true;
    let e = pool.project(exclusive).await;
    pool.run(Request { date: day("2026-11-25"), ..Request::default() }).await;
    let refused = project::delete(&mut **client, pool.tenant, &actor(), e, Release::All).await.unwrap_err();
    assert!(refused.to_string().contains("exclusive"), "{refused}");
    project::delete(&mut **client, pool.tenant, &actor(), e, Release::None).await.unwrap();
    let kept = project::purge(&mut **client, pool.tenant, &actor(), e, "Exclusive").await.unwrap();
    assert_eq!((kept.released, kept.kept), (0, 20));
}

#[tokio::test]
async fn explain_says_where_a_number_is_and_why_each_project_cannot_take_it() {
    let pool = pool().await;
    let (alpha, beta) = (pool.providers[0], pool.providers[1]);
    pool.numbers(79_161_234_560, 5, alpha, Some(pool.geos[1])).await;
    let a = pool.project(input("Alpha calls", 5, vec![(Some(alpha), None, 1)])).await;
    let mut paused = input("Beta only", 5, vec![(Some(beta), None, 1)]);
    paused.status = "paused".into();
    pool.project(paused).await;
    let client = pool.db.client().await;
    let before =
        explain::explain(&**client, pool.tenant, &Scope::All, "+7 916 123-45-61", None, None).await.unwrap();
    assert_eq!(before.phone, "+79161234561");
    assert!(before.projects[0].eligible, "{:?}", before.projects[0]);
    let beta_reasons = before.projects[1].reasons.join("; ");
    assert!(beta_reasons.contains("paused") && beta_reasons.contains("no pool rule"), "{beta_reasons}");
    // Each reason also comes as a code with the values it names, one for one.
    let why = &before.projects[1].why;
    assert_eq!(why.iter().map(|r| r.code).collect::<Vec<_>>(), ["paused", "no_rule"], "{why:?}");
    assert_eq!(why.len(), before.projects[1].reasons.len());
    assert_eq!(why[1].values["provider"], before.number.as_ref().unwrap().provider.as_str());

    pool.run(Request::default()).await;
    let after = explain::explain(
        &**client,
        pool.tenant,
        &Scope::All,
        "89161234561",
        Some(dialpool_engine::intake::phone::Region::parse("RU").unwrap()),
        None,
    )
    .await
    .unwrap();
    assert_eq!(after.number.as_ref().unwrap().project_id, Some(a));
    assert_eq!(after.history[0].kind, "allocated");
    assert!(after.projects[0].reasons.iter().any(|r| r.contains("already holds")));
    assert!(after.projects[0].why.iter().any(|r| r.code == "already_held"));

    let unknown =
        explain::explain(&**client, pool.tenant, &Scope::All, "+14155550100", None, None).await.unwrap();
    assert!(unknown.number.is_none());
    let bad = explain::explain(&**client, pool.tenant, &Scope::All, "hello", None, None).await.unwrap_err();
    assert!(bad.to_string().contains("phone"), "{bad}");

    let forecasts = forecast::forecast(&**client, pool.tenant, None, None).await.unwrap();
    assert_eq!(forecasts[0].eligible, 0);

    // A manager whose scope still lists a deleted project can explain numbers.
    let mut gone = input("Gone", 5, vec![(Some(alpha), None, 1)]);
    gone.status = "paused".into();
    let gone = pool.project(gone).await;
    let mut writer = pool.db.client().await;
    project::delete(&mut **writer, pool.tenant, &actor(), gone, Release::None).await.unwrap();
    let scope = Scope::Limited { providers: vec![alpha], projects: vec![a, gone] };
    let scoped = explain::explain(&**client, pool.tenant, &scope, "+79161234561", None, None).await.unwrap();
    assert_eq!(scoped.projects.len(), 1);
    let mut runner = pool.db.client().await;
    let error = allocate::run(
        &mut **runner,
        pool.tenant,
        &actor(),
        &Request { projects: Some(vec![gone]), ..Request::default() },
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("not found"), "{error}");
}

/// A tiny deterministic generator, so a failing case can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0.wrapping_shl(13);
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0.wrapping_shl(17);
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Random pools and projects: whatever the configuration, no number is in two projects,
/// no quota is exceeded, a project short of its quota has nothing left it could take,
/// and a dry run picks exactly the numbers the real run then takes.
#[tokio::test]
async fn random_pools_keep_the_allocation_properties() {
    let cases: u64 = std::env::var("DIALPOOL_PROPERTY_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(12);
    for seed in 1..=cases {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let pool = pool().await;
        let mut first = 79_000_000_000;
        for _ in 0..(2 + rng.below(5)) {
            let provider = pool.providers[rng.below(3) as usize];
            let geo = match rng.below(4) {
                3 => None,
                g => Some(pool.geos[g as usize]),
            };
            let count = 1 + rng.below(400) as i64;
            pool.numbers(first, count, provider, geo).await;
            first += 1_000_000;
        }
        // Some numbers were worked before: retry statuses, attempts, cool-downs.
        pool.db
            .client()
            .await
            .execute(
                "UPDATE phone_numbers SET status = 2, attempts = (phone % 7)::int2,
                        next_eligible_at = CASE WHEN phone % 3 = 0 THEN now() + interval '1 hour' END
                  WHERE phone % 5 = 0",
                &[],
            )
            .await
            .unwrap();
        let mut projects = Vec::new();
        for i in 0..(1 + rng.below(5)) {
            let mut sources = Vec::new();
            for _ in 0..(1 + rng.below(3)) {
                let provider = (rng.below(2) == 0).then(|| pool.providers[rng.below(3) as usize]);
                let geo = (rng.below(2) == 0).then(|| pool.geos[rng.below(3) as usize]);
                if !sources.iter().any(|&(p, g, _)| (p, g) == (provider, geo)) {
                    sources.push((provider, geo, 1 + rng.below(4) as i32));
                }
            }
            let mut doc = input(&format!("P{i}"), rng.below(300) as i32, sources);
            doc.priority = rng.below(2) as i16;
            doc.max_attempts = 1 + rng.below(6) as i16;
            doc.allocation_order = ["newest", "oldest", "random"][rng.below(3) as usize].into();
            projects.push((pool.project(doc.clone()).await, doc));
        }
        let request = Request { date: day("2026-11-23"), include_numbers: true, ..Request::default() };
        let dry = pool.run(Request { dry_run: true, ..request.clone() }).await;
        // Without the numbers a dry run reports the plan alone; it must say the same.
        let counted = pool.run(Request { dry_run: true, include_numbers: false, ..request.clone() }).await;
        let real = pool.run(request.clone()).await;
        for run in &real.projects {
            let planned = counted.projects.iter().find(|p| p.project_id == run.project_id).unwrap();
            let per_rule =
                |r: &ProjectRun| r.rules.iter().map(|x| (x.source_id, x.allocated)).collect::<Vec<_>>();
            assert_eq!(
                per_rule(planned),
                per_rule(run),
                "seed {seed}: the counted dry run differs for {}",
                run.name
            );
        }
        let held = pool.held().await;
        let mut seen = HashSet::new();
        for run in &real.projects {
            let doc = &projects.iter().find(|(id, _)| *id == run.project_id).unwrap().1;
            let got = held.get(&run.project_id).map_or(0, |h| h.len() as i64);
            assert_eq!(got, run.allocated, "seed {seed}: project {} holds what the report says", run.name);
            assert!(run.allocated <= doc.daily_quota as i64, "seed {seed}: quota exceeded for {}", run.name);
            let dry_run = dry.projects.iter().find(|p| p.project_id == run.project_id).unwrap();
            assert_eq!(
                dry_run.numbers, run.numbers,
                "seed {seed}: dry run and real run differ for {}",
                run.name
            );
            for phone in run.numbers.as_ref().unwrap() {
                assert!(seen.insert(phone.clone()), "seed {seed}: {phone} went to two projects");
            }
        }
        // Short of quota means nothing eligible is left for that project.
        let after = pool.run(Request { date: day("2026-11-23"), dry_run: true, ..Request::default() }).await;
        for run in &after.projects {
            let doc = &projects.iter().find(|(id, _)| *id == run.project_id).unwrap().1;
            if run.allocated_before < doc.daily_quota as i64 {
                assert_eq!(
                    run.eligible, 0,
                    "seed {seed}: {} is short but {} numbers are left",
                    run.name, run.eligible
                );
            }
        }
    }
}

/// Aggregates as the conversion refresh writes them: `allocated` numbers and `success`
/// successes a day for ten days before `until`.
async fn history(
    pool: &Pool,
    project: i64,
    provider: i64,
    geo: i64,
    until: NaiveDate,
    allocated: i64,
    success: i64,
) {
    pool.db
        .client()
        .await
        .execute(
            "INSERT INTO project_conversions (tenant_id, project_id, day, provider_id, geo_id, weekday, allocated,
                                              exported, leased, dialed, contacted, success, failure, no_answer,
                                              success_hours_sum, success_hours)
             SELECT $1, $2, d::date, $3, $4, extract(isodow FROM d)::int2, $6, 0, $6, $6, $7, $7, 0, 0, 0, '{}'
               FROM generate_series($5::date - 10, $5::date - 1, interval '1 day') d",
            &[&pool.tenant.0, &project, &provider, &geo, &until, &allocated, &success],
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn learned_weights_give_the_converting_cell_more_keep_the_floor_and_match_the_dry_run() {
    let pool = pool().await;
    let (alpha, beta, gamma) = (pool.providers[0], pool.providers[1], pool.providers[2]);
    let kz = pool.geos[2];
    pool.numbers(77_010_000_000, 3000, alpha, Some(kz)).await;
    pool.numbers(77_020_000_000, 3000, beta, Some(kz)).await;
    // A provider nobody has tried yet, and DNC numbers of the best one.
    pool.numbers(77_030_000_000, 3000, gamma, Some(kz)).await;
    let mut doc = input("Learner", 1000, vec![(None, Some(kz), 1)]);
    doc.learning = Some(project::Learning::default());
    let p = pool.project(doc).await;
    let today = "2026-11-23".parse().unwrap();
    history(&pool, p, alpha, kz, today, 1000, 10).await;
    history(&pool, p, beta, kz, today, 1000, 60).await;
    pool.db
        .client()
        .await
        .execute(
            "INSERT INTO dnc_numbers (tenant_id, phone, source) SELECT $1, 77020000000 + i, 'test'
               FROM generate_series(2000, 2999) i",
            &[&pool.tenant.0],
        )
        .await
        .unwrap();

    let dry = pool.run(Request { date: Some(today), dry_run: true, ..Request::default() }).await;
    let learned = &dry.projects[0].learned;
    assert_eq!(learned.len(), 3, "{learned:?}");
    let cell = |provider: i64| learned.iter().find(|w| w.provider_id == provider).unwrap();
    assert_eq!((cell(beta).allocated, cell(beta).success), (10_000, 600));
    assert!((cell(beta).mean - 0.06).abs() < 0.003, "{:?}", cell(beta));
    // The converting cell leads; the untried one is explored (its interval is wide), and
    // DNC numbers do not count as what the cell holds.
    assert!(cell(beta).share > 0.6 && cell(beta).share > cell(gamma).share, "{learned:?}");
    assert_eq!(cell(beta).capacity, 2000);
    assert!(cell(gamma).high - cell(gamma).low > 2.0 * (cell(beta).high - cell(beta).low), "{learned:?}");
    // The floor: the untried provider and the poor one are still tried.
    assert!(cell(gamma).share >= 0.1 / 3.0 - 1e-9 && cell(alpha).share >= 0.1 / 3.0 - 1e-9);

    let real = pool.run(Request { date: Some(today), ..Request::default() }).await;
    assert_eq!(allocated(&real, p), 1000);
    let shares: Vec<f64> = real.projects[0].learned.iter().map(|w| w.share).collect();
    assert_eq!(shares, learned.iter().map(|w| w.share).collect::<Vec<_>>(), "the dry run showed what ran");
    let client = pool.db.client().await;
    let by_provider: HashMap<i64, i64> = client
        .query(
            "SELECT provider_id, count(*) FROM phone_numbers WHERE tenant_id = $1 AND project_id = $2 GROUP BY 1",
            &[&pool.tenant.0, &p],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert!(by_provider[&beta] > 600 && by_provider[&beta] > by_provider[&gamma], "{by_provider:?}");
    assert!(by_provider[&gamma] >= 33 && by_provider[&alpha] >= 33, "{by_provider:?}");
    let dnc_taken: i64 = client
        .query_one(
            "SELECT count(*) FROM phone_numbers n JOIN dnc_numbers d USING (tenant_id, phone)
              WHERE n.tenant_id = $1 AND n.project_id = $2",
            &[&pool.tenant.0, &p],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(dnc_taken, 0);
}

#[tokio::test]
async fn a_pinned_cell_gets_its_share_and_a_quota_shared_with_a_fixed_project_still_holds() {
    let pool = pool().await;
    let (alpha, beta) = (pool.providers[0], pool.providers[1]);
    let kz = pool.geos[2];
    pool.numbers(77_010_000_000, 600, alpha, Some(kz)).await;
    pool.numbers(77_020_000_000, 600, beta, Some(kz)).await;
    let mut doc = input("Pinned", 400, vec![(Some(alpha), Some(kz), 1), (Some(beta), Some(kz), 1)]);
    doc.learning = Some(project::Learning {
        cells: vec![project::CellSetting {
            provider_id: alpha,
            geo_id: Some(kz),
            pin: Some(0.75),
            cap: None,
        }],
        ..project::Learning::default()
    });
    let p = pool.project(doc).await;
    let other = pool.project(input("Fixed", 500, vec![(None, Some(kz), 1)])).await;
    let today = "2026-11-23".parse().unwrap();
    history(&pool, p, beta, kz, today, 100, 30).await;
    let report = pool.run(Request { date: Some(today), ..Request::default() }).await;
    let run = report.projects.iter().find(|r| r.project_id == p).unwrap();
    assert_eq!(allocated(&report, p), 400);
    assert_eq!(allocated(&report, other), 500);
    // Credited to the rules: alpha's rule took the pinned 75%.
    assert_eq!((run.rules[0].allocated, run.rules[1].allocated), (300, 100));
    assert!(
        run.learned
            .iter()
            .any(|w| w.provider_id == alpha && w.reason == allocate::learn::ShareReason::Pinned)
    );
    // A bad pin is refused with the cell named.
    let mut bad = input("Bad", 10, vec![(Some(alpha), None, 1)]);
    bad.learning = Some(project::Learning {
        cells: vec![project::CellSetting { provider_id: alpha, geo_id: None, pin: Some(1.5), cap: None }],
        ..project::Learning::default()
    });
    let mut client = pool.db.client().await;
    let err = project::create(&mut **client, pool.tenant, &actor(), &bad).await.unwrap_err().to_string();
    assert!(err.contains("cell 1") && err.contains("between 0 and 1"), "{err}");
    let mut unknown = input("Unknown", 10, vec![(Some(alpha), None, 1)]);
    unknown.learning = Some(project::Learning {
        cells: vec![project::CellSetting { provider_id: 999_999, geo_id: None, pin: None, cap: Some(0.5) }],
        ..project::Learning::default()
    });
    let err = project::create(&mut **client, pool.tenant, &actor(), &unknown).await.unwrap_err().to_string();
    assert!(err.contains("provider 999999"), "{err}");
}

#[tokio::test]
async fn a_rule_with_a_block_prefix_takes_only_that_operators_range() {
    let pool = pool().await;
    let alpha = pool.providers[0];
    let kz = pool.geos[2];
    // KZ +7 701 … (50 numbers) and +7 702 … (100 numbers).
    pool.numbers(77_010_000_000, 50, alpha, Some(kz)).await;
    pool.numbers(77_020_000_000, 100, alpha, Some(kz)).await;
    let mut block = input("Block 701", 80, vec![(None, Some(kz), 1)]);
    block.sources[0].prefix = Some("7701".into());
    let block = pool.project(block).await;
    let mut wide = input("Blocks 70x", 40, vec![(None, Some(kz), 1)]);
    wide.sources[0].prefix = Some("770".into());
    let wide = pool.project(wide).await;

    let dry = pool.run(Request { date: day("2026-11-23"), dry_run: true, ..Request::default() }).await;
    assert_eq!(dry.projects.iter().find(|p| p.project_id == block).unwrap().eligible, 50);
    assert_eq!(dry.projects.iter().find(|p| p.project_id == wide).unwrap().eligible, 150);
    let report = pool.run(Request { date: day("2026-11-23"), ..Request::default() }).await;
    let held = pool.held().await;
    assert!(held[&block].iter().all(|p| p.to_string().starts_with("7701")), "{:?}", held[&block]);
    assert!(held[&wide].iter().all(|p| p.to_string().starts_with("770")));
    // The block holds 50; the wider rule takes the rest of its quota from +7 702.
    assert_eq!(
        allocated(&report, block)
            + held[&wide].iter().filter(|p| p.to_string().starts_with("7701")).count() as i64,
        50
    );
    assert_eq!(allocated(&report, wide), 40);
    // A prefix that is not digits is refused, naming the rule.
    let mut bad = input("Bad", 10, vec![(None, None, 1)]);
    bad.sources[0].prefix = Some("77a".into());
    let mut client = pool.db.client().await;
    let err = project::create(&mut **client, pool.tenant, &actor(), &bad).await.unwrap_err().to_string();
    assert!(err.contains("rule 1"), "{err}");
}

#[tokio::test]
async fn learned_weights_keep_every_cell_two_rules_with_blocks_match() {
    let pool = pool().await;
    let alpha = pool.providers[0];
    let kz = pool.geos[2];
    pool.numbers(77_010_000_000, 30, alpha, Some(kz)).await;
    pool.numbers(77_020_000_000, 30, alpha, Some(kz)).await;
    // The block +7 701 first, then the rest of KZ: one provider × geo, two rules.
    let mut doc = input("Blocks learned", 60, vec![(None, Some(kz), 1), (None, Some(kz), 1)]);
    doc.sources[0].prefix = Some("7701".into());
    doc.learning = Some(project::Learning::default());
    let p = pool.project(doc).await;
    let report = pool.run(Request { date: day("2026-11-23"), ..Request::default() }).await;
    assert_eq!(allocated(&report, p), 60, "{report:?}");
}
