//! Conversion aggregates against a real PostgreSQL: the refresh (COPY → Polars → COPY)
//! gives the figures plain SQL computes over the same rows, by day and by hour; days and
//! hours are the project's own; an incremental refresh equals a full rebuild.

use dialpool_engine::TenantId;
use dialpool_engine::delivery::export::{self, ExportFilter, ExportOptions, ExportRequest};
use dialpool_engine::dialing::outcome::{self, OutcomeInput};
use dialpool_engine::insight::conversion::{self, ConversionQuery};
use dialpool_engine::platform::access::Scope;
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::platform::tenant;
use dialpool_engine::testkit::TestDb;

struct Floor {
    db: TestDb,
    tenant: TenantId,
    project: i64,
}

/// Project "Sales" (Europe/Moscow) holds 6 numbers of two providers in two geos,
/// allocated on 2026-11-23 at 08:00 Moscow time; 4 of them are leased that day.
async fn floor() -> Floor {
    let db = TestDb::new().await;
    let client = db.client().await;
    let tenant = tenant::find_by_slug(&**client, "default").await.unwrap();
    client
        .batch_execute(
            "INSERT INTO providers (tenant_id, code, name) VALUES (1, 'alpha', 'Alpha'), (1, 'beta', 'Beta');
             INSERT INTO geos (tenant_id, country, region, name, time_zone)
                  VALUES (1, 'RU', 'MOW', 'Moscow', 'Europe/Moscow'), (1, 'RU', 'SPE', 'Saint Petersburg', 'Europe/Moscow');
             INSERT INTO projects (tenant_id, name, time_zone, daily_quota) VALUES (1, 'Sales', 'Europe/Moscow', 100);",
        )
        .await
        .unwrap();
    let project: i64 =
        client.query_one("SELECT id FROM projects WHERE name = 'Sales'", &[]).await.unwrap().get(0);
    client
        .execute(
            "INSERT INTO phone_numbers (tenant_id, phone, provider_id, geo_id, project_id, allocated_at, import_id, last_import_id)
             SELECT 1, 79160000000 + i,
                    (SELECT id FROM providers WHERE code = CASE WHEN i < 4 THEN 'alpha' ELSE 'beta' END),
                    (SELECT id FROM geos WHERE region = CASE WHEN i % 2 = 0 THEN 'MOW' ELSE 'SPE' END),
                    $1, '2026-11-23T05:00:00Z', 0, 0
               FROM generate_series(1, 6) i",
            &[&project],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO number_events (tenant_id, at, phone, kind, project_id, provider_id, geo_id)
             SELECT 1, '2026-11-23T05:00:00Z', phone, 'allocated', project_id, provider_id, geo_id FROM phone_numbers",
            &[],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO number_events (tenant_id, at, phone, kind, project_id, provider_id, geo_id)
             SELECT 1, '2026-11-23T06:00:00Z', phone, 'leased', project_id, provider_id, geo_id
               FROM phone_numbers WHERE phone <= 79160000004",
            &[],
        )
        .await
        .unwrap();
    Floor { db, tenant, project }
}

impl Floor {
    async fn call(&self, id: &str, phone: &str, disposition: &str, at: &str, answered: bool) {
        let mut client = self.db.client().await;
        let started: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
        let input = OutcomeInput {
            call_id: id.into(),
            phone: phone.into(),
            project_id: None,
            disposition: disposition.into(),
            started_at: started,
            answered_at: answered.then_some(started),
            ended_at: None,
            duration_s: Some(30),
            agent: None,
            notes: None,
        };
        outcome::post(&mut **client, self.tenant, &Scope::All, &Actor::system("test"), &input).await.unwrap();
    }

    async fn cells(&self) -> Vec<Vec<String>> {
        self.db
            .client()
            .await
            .query(
                "SELECT ARRAY[day::text, provider_id::text, geo_id::text, weekday::text, allocated::text,
                              exported::text, leased::text, dialed::text, contacted::text, success::text,
                              failure::text, no_answer::text, success_hours_sum::text,
                              success_hours::text]
                   FROM project_conversions ORDER BY project_id, day, provider_id, geo_id",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// The calls by cell and hour, then the same by plain SQL.
    async fn hour_cells(&self) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
        let client = self.db.client().await;
        let read = |sql: &'static str| {
            let client = &client;
            async move {
                client.query(sql, &[]).await.unwrap().iter().map(|r| r.get(0)).collect::<Vec<Vec<String>>>()
            }
        };
        let stored = read(
            "SELECT ARRAY[day::text, provider_id::text, geo_id::text, hour::text, weekday::text, dialed::text,
                          contacted::text, success::text]
               FROM project_conversion_hours ORDER BY day, provider_id, geo_id, hour",
        )
        .await;
        let plain = read(
            "SELECT ARRAY[local::date::text, o.provider_id::text, COALESCE(o.geo_id, 0)::text,
                          extract(hour FROM local)::text, extract(isodow FROM local)::text, count(*)::text,
                          count(*) FILTER (WHERE o.answered_at IS NOT NULL
                                              OR s.category IN ('success', 'failure', 'in_work', 'callback', 'dnc'))::text,
                          count(*) FILTER (WHERE s.category = 'success')::text]
               FROM call_outcomes o JOIN number_statuses s ON s.id = o.status_to,
                    LATERAL (SELECT o.started_at AT TIME ZONE 'Europe/Moscow' AS local) l
              GROUP BY local::date, o.provider_id, COALESCE(o.geo_id, 0), extract(hour FROM local), extract(isodow FROM local)
              ORDER BY 1",
        )
        .await;
        (stored, plain)
    }

    /// The same figures by plain SQL, one GROUP BY per source.
    async fn plain_sql(&self) -> Vec<Vec<String>> {
        self.db
            .client()
            .await
            .query(
                "WITH rows AS (
                    SELECT (e.at AT TIME ZONE 'Europe/Moscow')::date AS day, e.provider_id, COALESCE(e.geo_id, 0) AS geo,
                           count(*) FILTER (WHERE e.kind = 'allocated') AS allocated, 0 AS exported,
                           count(*) FILTER (WHERE e.kind = 'leased') AS leased, 0 AS dialed, 0 AS contacted,
                           0 AS success, 0 AS failure, 0 AS no_answer
                      FROM number_events e WHERE e.kind IN ('allocated', 'leased') GROUP BY 1, 2, 3
                    UNION ALL
                    SELECT (x.started_at AT TIME ZONE 'Europe/Moscow')::date, n.provider_id, COALESCE(n.geo_id, 0),
                           0, count(*), 0, 0, 0, 0, 0, 0
                      FROM exports x JOIN export_batches b ON b.export_id = x.id
                      CROSS JOIN LATERAL unnest(b.phones) AS taken(phone)
                      JOIN phone_numbers n ON n.phone = taken.phone GROUP BY 1, 2, 3
                    UNION ALL
                    SELECT (o.started_at AT TIME ZONE 'Europe/Moscow')::date, o.provider_id, COALESCE(o.geo_id, 0),
                           0, 0, 0, count(*),
                           count(*) FILTER (WHERE o.answered_at IS NOT NULL OR s.category IN ('success', 'failure', 'in_work', 'callback', 'dnc')),
                           count(*) FILTER (WHERE s.category = 'success'), count(*) FILTER (WHERE s.category = 'failure'),
                           count(*) FILTER (WHERE s.category = 'retry' AND o.answered_at IS NULL)
                      FROM call_outcomes o JOIN number_statuses s ON s.id = o.status_to GROUP BY 1, 2, 3
                 )
                 SELECT ARRAY[day::text, provider_id::text, geo::text, extract(isodow FROM day)::text,
                              sum(allocated)::text, sum(exported)::text, sum(leased)::text, sum(dialed)::text,
                              sum(contacted)::text, sum(success)::text, sum(failure)::text, sum(no_answer)::text]
                   FROM rows GROUP BY day, provider_id, geo ORDER BY day, provider_id, geo",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
}

fn without_hours(cells: &[Vec<String>]) -> Vec<Vec<String>> {
    cells.iter().map(|c| c[..12].to_vec()).collect()
}

#[tokio::test]
async fn the_refresh_matches_plain_sql_and_incremental_equals_full() {
    let floor = floor().await;
    // 2026-11-23 in Moscow: a sale 6 hours after allocation, a no answer, a busy line,
    // a refusal answered by a person. 23:30 UTC is already the 24th in Moscow.
    floor.call("c1", "+79160000001", "SALE", "2026-11-23T11:00:00Z", true).await;
    floor.call("c2", "+79160000002", "NO ANSWER", "2026-11-23T11:05:00Z", false).await;
    floor.call("c3", "+79160000003", "BUSY", "2026-11-23T11:10:00Z", false).await;
    floor.call("c4", "+79160000004", "REFUSED", "2026-11-23T23:30:00Z", true).await;
    let exported = export::export(
        &floor.db.pool,
        ExportRequest {
            tenant: floor.tenant,
            project_id: floor.project,
            filter: ExportFilter { limit: Some(2), ..ExportFilter::default() },
            options: ExportOptions::default(),
            out: std::env::temp_dir().join(format!("dialpool-conversion-{}.csv", floor.db.name)),
            stored_path: None,
            expires_at: None,
            actor: Actor::system("test"),
        },
    )
    .await
    .unwrap();
    let _ =
        std::fs::remove_file(std::env::temp_dir().join(format!("dialpool-conversion-{}.csv", floor.db.name)));
    assert_eq!(exported.rows, 2);

    let full = conversion::refresh(&floor.db.pool, true).await.unwrap();
    assert!(full.full && full.rows_read > 0, "{full:?}");
    let cells = floor.cells().await;
    assert_eq!(without_hours(&cells), floor.plain_sql().await, "the refresh and plain SQL agree");
    let (hours, plain_hours) = floor.hour_cells().await;
    assert_eq!(hours, plain_hours, "by hour too");

    let client = floor.db.client().await;
    let report =
        conversion::report(&**client, floor.tenant, None, &ConversionQuery::default()).await.unwrap();
    let t = &report.totals;
    assert_eq!(
        (t.allocated, t.exported, t.leased, t.dialed, t.contacted, t.success, t.no_answer),
        (6, 2, 4, 4, 2, 1, 2),
        "BUSY is a retry nobody answered: counted as no answer"
    );
    assert_eq!(t.conversion_rate, Some(0.25));
    // Allocated 05:00, sold 11:00: the median is read from the hours histogram, within its
    // hour's bucket.
    assert_eq!(t.hours_to_success_median, Some(6.5));
    let by_day = conversion::report(
        &**client,
        floor.tenant,
        None,
        &ConversionQuery { by: Some("day".into()), ..ConversionQuery::default() },
    )
    .await
    .unwrap();
    let days: Vec<(String, i64)> =
        by_day.rows.iter().filter(|r| r.dialed > 0).map(|r| (r.keys[0].clone(), r.dialed)).collect();
    assert_eq!(days, [("2026-11-23".to_owned(), 3), ("2026-11-24".to_owned(), 1)], "the project's own days");
    let medians: Vec<Option<f64>> = by_day.rows.iter().map(|r| r.hours_to_success_median).collect();
    assert!(medians.contains(&Some(6.5)), "each group reads its own histogram: {medians:?}");
    assert_eq!(medians.iter().filter(|m| m.is_some()).count(), 1, "only the day with the sale has a median");
    let export_days: Vec<_> = by_day.rows.iter().filter(|r| r.exported > 0).collect();
    assert_eq!(export_days.len(), 1, "the export counts on the day it ran");
    assert_eq!(export_days[0].exported, 2);
    let by_provider = conversion::report(
        &**client,
        floor.tenant,
        None,
        &ConversionQuery { by: Some("provider,weekday".into()), ..ConversionQuery::default() },
    )
    .await
    .unwrap();
    assert_eq!(by_provider.rows[0].labels[0], "alpha");
    assert_eq!(by_provider.rows.iter().map(|r| r.dialed).sum::<i64>(), 4);
    let error = conversion::report(
        &**client,
        floor.tenant,
        None,
        &ConversionQuery { by: Some("hour".into()), ..ConversionQuery::default() },
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains("'hour' is not one of"), "{error}");

    // 2026-11-23 is a Monday: three calls at 14:xx Moscow time; the refusal at 02:30 on
    // Tuesday.
    let heat = conversion::hours(&**client, floor.tenant, None, &ConversionQuery::default()).await.unwrap();
    let cells: Vec<(i16, i16, i64, i64, i64)> =
        heat.cells.iter().map(|c| (c.weekday, c.hour, c.dialed, c.contacted, c.success)).collect();
    assert_eq!(cells, [(1, 14, 3, 1, 1), (2, 2, 1, 1, 0)]);
    let other =
        conversion::hours(&**client, floor.tenant, Some(&[floor.project + 1]), &ConversionQuery::default())
            .await
            .unwrap();
    assert!(other.cells.is_empty(), "another project's scope sees none of it");
    drop(client);

    // New calls, one for a day already aggregated: the incremental refresh recomputes the
    // cells they touch, and a full rebuild afterwards changes nothing.
    floor.call("c5", "+79160000002", "SALE", "2026-11-23T15:00:00Z", true).await;
    floor.call("c6", "+79160000005", "NO ANSWER", "2026-11-25T09:00:00Z", false).await;
    let incremental = conversion::refresh(&floor.db.pool, false).await.unwrap();
    assert!(!incremental.full && incremental.cells >= 2, "{incremental:?}");
    let after_incremental = floor.cells().await;
    assert_eq!(without_hours(&after_incremental), floor.plain_sql().await);
    let (hours_incremental, plain_hours) = floor.hour_cells().await;
    assert_eq!(hours_incremental, plain_hours);
    let again = conversion::refresh(&floor.db.pool, false).await.unwrap();
    assert_eq!(
        floor.cells().await,
        after_incremental,
        "a refresh over the same rows changes nothing: {again:?}"
    );
    conversion::refresh(&floor.db.pool, true).await.unwrap();
    assert_eq!(floor.cells().await, after_incremental, "incremental equals full");
    assert_eq!(floor.hour_cells().await.0, hours_incremental, "by hour too");
}

/// The outcome of one call.
fn call_input(id: &str, phone: &str, disposition: &str, at: &str) -> OutcomeInput {
    let started: chrono::DateTime<chrono::Utc> = at.parse().unwrap();
    OutcomeInput {
        call_id: id.into(),
        phone: phone.into(),
        project_id: None,
        disposition: disposition.into(),
        started_at: started,
        answered_at: Some(started),
        ended_at: None,
        duration_s: Some(30),
        agent: None,
        notes: None,
    }
}

impl Floor {
    /// Every row of the provider scorecard's aggregate.
    async fn provider_rows(&self) -> Vec<Vec<String>> {
        let client = self.db.client().await;
        let rows = client
            .query(
                "SELECT ARRAY[dimension::text, day::text, provider_id::text, key::text, allocated::text, dialed::text,
                              contacted::text, success::text, success_hours_sum::text, success_attempts::text,
                              success_hours::text]
                   FROM provider_outcomes ORDER BY dimension, day, provider_id, key",
                &[],
            )
            .await
            .unwrap();
        rows.iter().map(|r| r.get(0)).collect()
    }
}

/// A refresh adds what rows committed since the last one contribute, so every row must
/// count exactly once whatever order its writer commits in and whatever time it carries:
/// a writer still open during a refresh (its leases dated a day the cells already hold,
/// as a dialer's late clock or an allocation dated in the past would write them), a
/// writer that rolls back, and two refreshes at once.
#[tokio::test]
async fn each_row_counts_once_however_and_whenever_its_writer_commits() {
    let floor = floor().await;
    let actor = Actor::system("test");
    floor.call("c1", "+79160000001", "SALE", "2026-11-23T11:00:00Z", true).await;
    let first = conversion::refresh(&floor.db.pool, false).await.unwrap();
    assert!(first.full, "the first refresh after the migration is a full one: {first:?}");

    let mut open = floor.db.client().await;
    let open: &mut tokio_postgres::Client = &mut open;
    let mut late = open.transaction().await.unwrap();
    outcome::post(
        &mut late,
        floor.tenant,
        &Scope::All,
        &actor,
        &call_input("late-1", "+79160000002", "SALE", "2026-11-23T12:00:00Z"),
    )
    .await
    .unwrap();
    late.execute(
        "INSERT INTO number_events (tenant_id, at, phone, kind, project_id, provider_id, geo_id)
         SELECT 1, '2026-11-23T07:00:00Z', phone, 'leased', project_id, provider_id, geo_id
           FROM phone_numbers WHERE phone > 79160000004",
        &[],
    )
    .await
    .unwrap();
    floor.call("c2", "+79160000003", "NO ANSWER", "2026-11-23T13:00:00Z", false).await;
    let during = conversion::refresh(&floor.db.pool, false).await.unwrap();
    assert_eq!(
        (during.full, during.rows_read),
        (false, 1),
        "only the committed call; the open writer's rows wait: {during:?}"
    );

    let mut undone = floor.db.client().await;
    let undone: &mut tokio_postgres::Client = &mut undone;
    let rolled_back = undone.transaction().await.unwrap();
    rolled_back
        .execute(
            "INSERT INTO number_events (tenant_id, at, phone, kind, project_id, provider_id, geo_id)
             SELECT 1, now(), phone, 'allocated', project_id, provider_id, geo_id FROM phone_numbers",
            &[],
        )
        .await
        .unwrap();
    rolled_back.rollback().await.unwrap();
    late.commit().await.unwrap();

    let (a, b) =
        tokio::join!(conversion::refresh(&floor.db.pool, false), conversion::refresh(&floor.db.pool, false));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        a.rows_read + b.rows_read,
        3,
        "the late call and its two leases, once, by whichever refresh ran first: {a:?} {b:?}"
    );
    let again = conversion::refresh(&floor.db.pool, false).await.unwrap();
    assert_eq!(again.rows_read, 0, "{again:?}");

    let cells = floor.cells().await;
    assert_eq!(without_hours(&cells), floor.plain_sql().await, "the sums plain SQL gives");
    let hours = floor.hour_cells().await;
    assert_eq!(hours.0, hours.1, "by hour too");
    let providers = floor.provider_rows().await;
    conversion::refresh(&floor.db.pool, true).await.unwrap();
    assert_eq!(floor.cells().await, cells, "incremental equals full, histograms included");
    assert_eq!(floor.hour_cells().await.0, hours.0);
    assert_eq!(floor.provider_rows().await, providers, "the scorecard's rows too");
    let client = floor.db.client().await;
    let report =
        conversion::report(&**client, floor.tenant, None, &ConversionQuery::default()).await.unwrap();
    assert_eq!((report.totals.leased, report.totals.dialed, report.totals.success), (6, 3, 2));
    // Sales at 6 and 7 hours after allocation: half the mass lies below 7.
    assert_eq!(report.totals.hours_to_success_median, Some(7.0));
}
