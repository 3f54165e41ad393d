//! Retention by partition against a real PostgreSQL: months past every tenant's window go
//! whole (rows written before their month had a partition too), each archiving tenant's
//! rows are in Parquet first, newer months and conversion counts stay (a full refresh
//! included), and a tenant that keeps for ever keeps the months for everyone.

use dialpool_engine::compliance::retention::{self, RetentionSettings};
use dialpool_engine::platform::audit::Actor;

use crate::support::{self, Setup};

async fn exec(s: &Setup, sql: &str) {
    s.db.client().await.batch_execute(sql).await.unwrap();
}

async fn scalar(s: &Setup, sql: &str) -> i64 {
    s.db.client().await.query_one(sql, &[]).await.unwrap().get(0)
}

fn keep(events: i32, audit: i32, outcomes: i32) -> RetentionSettings {
    RetentionSettings {
        events_months: Some(events),
        audit_months: Some(audit),
        outcomes_months: Some(outcomes),
        export_files_days: Some(7),
        archive_parquet: true,
    }
}

#[tokio::test]
async fn months_past_the_window_are_dropped_whole_and_counts_before_them_stay() {
    let s = support::setup().await;
    let t = s.tenant.0;
    // Old rows land in the default partitions (their months never had one); recent ones
    // in this month's.
    exec(
        &s,
        &format!(
            "INSERT INTO number_events (tenant_id, phone, kind, at) VALUES
                ({t}, 79160000001, 'allocated', '2024-10-15'), ({t}, 79160000002, 'allocated', '2024-10-20'),
                ({t}, 79160000003, 'allocated', now());
             INSERT INTO call_outcomes (tenant_id, call_id, phone, disposition, status_to, started_at, source) VALUES
                ({t}, 'old', 79160000001, 'SALE', 5, '2024-10-15', 'api'), ({t}, 'new', 79160000003, 'SALE', 5, now(), 'api');
             INSERT INTO audit_log (tenant_id, actor_label, action, entity, at) VALUES
                ({t}, 'test', 'old.thing', 'x', '2018-01-10'), ({t}, 'test', 'kept.thing', 'x', '2020-05-01');
             INSERT INTO projects (tenant_id, name) VALUES ({t}, 'P');
             INSERT INTO project_conversions (tenant_id, project_id, day, provider_id, geo_id, weekday, allocated, exported,
                                              leased, dialed, contacted, success, failure, no_answer, success_hours_sum)
             SELECT {t}, id, '2024-10-15', 1, 0, 2, 2, 0, 0, 1, 1, 1, 0, 0, 0 FROM projects;"
        ),
    )
    .await;
    let data = s.dir.path().join("data");

    // No window set: nothing goes.
    let nothing = retention::run(&s.db.pool, &data, false, None).await.unwrap();
    assert!(nothing.dropped.is_empty(), "{nothing:?}");

    let mut client = s.db.client().await;
    retention::set(&mut **client, s.tenant, &Actor::system("test"), &keep(24, 84, 24)).await.unwrap();
    let bad = RetentionSettings { audit_months: Some(3), ..keep(24, 84, 24) };
    assert!(retention::set(&mut **client, s.tenant, &Actor::system("test"), &bad).await.is_err());

    // A second tenant that keeps for ever keeps the shared months for everyone.
    exec(&s, "INSERT INTO tenants (slug, name) VALUES ('other', 'Other')").await;
    let planned = retention::run(&s.db.pool, &data, true, None).await.unwrap();
    assert!(planned.dropped.is_empty(), "{planned:?}");
    let other: i64 = scalar(&s, "SELECT id FROM tenants WHERE slug = 'other'").await;
    retention::set(
        &mut **client,
        dialpool_engine::TenantId(other),
        &Actor::system("test"),
        &RetentionSettings { archive_parquet: false, ..keep(12, 12, 12) },
    )
    .await
    .unwrap();

    let planned = retention::run(&s.db.pool, &data, true, None).await.unwrap();
    let mut names: Vec<&str> = planned.dropped.iter().map(|d| d.partition.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["audit_log_2018_01", "call_outcomes_2024_10", "number_events_2024_10"]);
    assert_eq!(scalar(&s, "SELECT count(*) FROM number_events").await, 3, "a dry run changes nothing");

    let done = retention::run(&s.db.pool, &data, false, None).await.unwrap();
    assert_eq!(done.dropped.len(), 3, "{done:?}");
    let events = done.dropped.iter().find(|d| d.table == "number_events").unwrap();
    assert_eq!(events.rows, 2);
    assert_eq!(events.archived, [format!("archive/{t}/number_events_2024_10.parquet")]);
    let parquet = std::fs::read(data.join(&events.archived[0])).unwrap();
    assert!(parquet.starts_with(b"PAR1") && parquet.ends_with(b"PAR1"), "a whole Parquet file");
    assert_eq!(scalar(&s, "SELECT count(*) FROM number_events").await, 1);
    assert_eq!(scalar(&s, "SELECT count(*) FROM call_outcomes").await, 1);
    assert_eq!(
        scalar(&s, "SELECT count(*) FROM audit_log WHERE action IN ('old.thing', 'kept.thing')").await,
        1
    );
    assert_eq!(scalar(&s, "SELECT count(*) FROM pg_class WHERE relname = 'number_events_2024_10'").await, 0);
    assert_eq!(
        scalar(&s, "SELECT count(*) FROM audit_log WHERE action = 'retention.drop'").await,
        6,
        "3 drops × 2 tenants"
    );

    // The conversion counts of the dropped months stay, also through a full refresh.
    dialpool_engine::insight::conversion::refresh(&s.db.pool, true).await.unwrap();
    assert_eq!(
        scalar(&s, "SELECT sum(success)::bigint FROM project_conversions WHERE day = '2024-10-15'").await,
        1
    );

    let overview = retention::overview(&**client, s.tenant).await.unwrap();
    let log = overview.logs.iter().find(|l| l.table == "number_events").unwrap();
    assert_eq!((log.months, log.effective_months), (Some(24), Some(24)));
    let next = log.next_drop.as_ref().unwrap();
    assert!(next.on > chrono::Utc::now().date_naive(), "{next:?}");
    assert_eq!(overview.dropped.len(), 3);

    // Run again: nothing more.
    assert!(retention::run(&s.db.pool, &data, false, None).await.unwrap().dropped.is_empty());
}
