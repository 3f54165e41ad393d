//! Provider scorecards and returns against a real PostgreSQL: two providers' files
//! imported, priced, allocated and called; the scorecard's figures checked against the
//! files and plain SQL over the calls; a return batch credited, written and kept out of
//! every later batch.

use crate::support::{Setup, setup};
use dialpool_engine::dialing::outcome::{self, OutcomeInput};
use dialpool_engine::insight::conversion;
use dialpool_engine::insight::scorecard::{self, ScorecardQuery};
use dialpool_engine::intake::import::history::{self, Price};
use dialpool_engine::intake::returns::{self, ReturnRequest, ReturnRules};
use dialpool_engine::platform::access::Scope;
use dialpool_engine::platform::audit::Actor;

async fn call(s: &Setup, id: &str, phone: &str, disposition: &str, answered: bool) {
    let mut client = s.db.client().await;
    let started = "2026-11-23T11:00:00Z";
    let input = OutcomeInput {
        answered_at: answered.then(|| started.parse().unwrap()),
        ..crate::calls::outcome_input(id, phone, disposition, started)
    };
    outcome::post(&mut **client, s.tenant, &Scope::All, &Actor::system("test"), &input).await.unwrap();
}

/// acme: 7 rows (5 numbers, one repeated, one invalid) at 0.10 a row; beta: 3 numbers
/// for 5.00 the batch. All allocated to one project; acme's calls: a sale, an answered
/// refusal, a no answer; beta's: a sale.
async fn floor() -> (Setup, i64, i64) {
    let s = setup().await;
    let client = s.db.client().await;
    client
        .execute(
            "INSERT INTO providers (tenant_id, code, name, default_region) VALUES ($1, 'beta', 'Beta', 'RU')",
            &[&s.tenant.0],
        )
        .await
        .unwrap();
    let acme_file = s.write(
        "acme.csv",
        "phone\n+79160000001\n+79160000002\n+79160000003\n+79160000004\n+79160000005\n+79160000001\n12\n",
    );
    let acme = s.import(s.request(&acme_file)).await.unwrap();
    let beta_file = s.write("beta.csv", "phone\n+79170000001\n+79170000002\n+79170000003\n");
    let mut request = s.request(&beta_file);
    request.provider_code = "beta".into();
    let beta = s.import(request).await.unwrap();
    let mut c = s.db.client().await;
    let actor = Actor::system("test");
    history::set_price(
        &mut **c,
        s.tenant,
        &actor,
        None,
        acme.import_id,
        Price { price_per_number: Some(0.10), price_batch: None },
    )
    .await
    .unwrap();
    history::set_price(
        &mut **c,
        s.tenant,
        &actor,
        None,
        beta.import_id,
        Price { price_per_number: None, price_batch: Some(5.0) },
    )
    .await
    .unwrap();
    client
        .batch_execute(
            "INSERT INTO projects (tenant_id, name, time_zone, daily_quota) VALUES (1, 'Sales', 'Europe/Moscow', 100);
             UPDATE phone_numbers SET project_id = (SELECT id FROM projects), allocated_at = '2026-11-23T05:00:00Z';
             INSERT INTO number_events (tenant_id, at, phone, kind, project_id, provider_id, geo_id, import_id)
             SELECT 1, '2026-11-23T05:00:00Z', phone, 'allocated', project_id, provider_id, geo_id, import_id
               FROM phone_numbers;",
        )
        .await
        .unwrap();
    call(&s, "a1", "+79160000001", "SALE", true).await;
    call(&s, "a2", "+79160000002", "REFUSED", true).await;
    call(&s, "a3", "+79160000003", "NO ANSWER", false).await;
    call(&s, "b1", "+79170000001", "SALE", true).await;
    conversion::refresh(&s.db.pool, true).await.unwrap();
    let ids = client
        .query("SELECT id FROM providers WHERE code IN ('acme', 'beta') ORDER BY code", &[])
        .await
        .unwrap();
    let (acme_id, beta_id) = (ids[0].get(0), ids[1].get(0));
    (s, acme_id, beta_id)
}

#[tokio::test]
async fn the_scorecard_adds_up_to_the_files_and_the_calls() {
    let (s, acme, beta) = floor().await;
    let client = s.db.client().await;
    let card = scorecard::scorecard(&**client, s.tenant, &ScorecardQuery::default()).await.unwrap();
    let row = |p: i64| card.rows.iter().find(|r| r.provider_id == Some(p)).unwrap().clone();
    let a = row(acme);
    assert_eq!(
        (a.delivered, a.valid, a.duplicate_in_file, a.invalid),
        (Some(7), Some(5), Some(1), Some(1)),
        "{a:?}"
    );
    // The calls, counted again from the calls themselves.
    let plain: Vec<(i64, i64, i64)> = client
        .query(
            "SELECT count(*), count(*) FILTER (WHERE o.answered_at IS NOT NULL OR s.category IN ('success', 'failure')),
                    count(*) FILTER (WHERE s.category = 'success')
               FROM call_outcomes o JOIN number_statuses s ON s.tenant_id = o.tenant_id AND s.id = o.status_to
              WHERE o.provider_id = $1",
            &[&acme],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!((a.dialed.unwrap(), a.contacted.unwrap(), a.success.unwrap()), plain[0]);
    assert_eq!(plain[0], (3, 2, 1));
    assert_eq!(a.allocated, Some(5));
    assert!((a.cost.unwrap() - 0.70).abs() < 1e-9, "{a:?}");
    assert!((a.cost_per_success.unwrap() - 0.70).abs() < 1e-9);
    assert!((a.cost_per_contact.unwrap() - 0.35).abs() < 1e-9);
    assert!((a.success_rate.unwrap() - 0.2).abs() < 1e-9);
    // The tenant: 2 successes of 8 allocated; acme is at 0.8 of it, beta at 1.33.
    assert!((card.tenant.success_rate.unwrap() - 0.25).abs() < 1e-9);
    assert!((a.vs_average.unwrap() - 0.8).abs() < 1e-9);
    let b = row(beta);
    assert_eq!((b.delivered, b.success, b.cost), (Some(3), Some(1), Some(5.0)));
    assert!((b.vs_average.unwrap() - (1.0 / 3.0) / 0.25).abs() < 1e-9);

    // By batch: delivery, cost and outcomes (each provider sent one file, so its
    // batch's figures are the provider's); by geo: outcomes, no delivery figures.
    let batches = scorecard::scorecard(
        &**client,
        s.tenant,
        &ScorecardQuery { by: Some("batch".into()), ..Default::default() },
    )
    .await
    .unwrap();
    assert_eq!(batches.rows.len(), 2);
    assert_eq!(batches.rows[0].label.as_deref(), Some("acme.csv"));
    for (batch, provider) in batches.rows.iter().zip([&a, &b]) {
        assert_eq!(
            (batch.delivered, batch.allocated, batch.dialed, batch.success, batch.cost),
            (provider.delivered, provider.allocated, provider.dialed, provider.success, provider.cost),
            "{batch:?}"
        );
    }
    let geos = scorecard::scorecard(
        &**client,
        s.tenant,
        &ScorecardQuery { by: Some("geo".into()), ..Default::default() },
    )
    .await
    .unwrap();
    assert!(geos.rows.iter().all(|r| r.delivered.is_none() && r.success.is_some()));
    let months = scorecard::scorecard(
        &**client,
        s.tenant,
        &ScorecardQuery { by: Some("month".into()), ..Default::default() },
    )
    .await
    .unwrap();
    assert!(months.rows.iter().any(|r| r.key.as_deref() == Some("2026-11") && r.success == Some(1)));
    // A period with nothing in it, and a wrong dimension.
    let empty = scorecard::scorecard(
        &**client,
        s.tenant,
        &ScorecardQuery {
            from: "2020-01-01".parse().ok(),
            to: "2020-01-31".parse().ok(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(empty.rows.is_empty());
    assert!(
        scorecard::scorecard(
            &**client,
            s.tenant,
            &ScorecardQuery { by: Some("color".into()), ..Default::default() }
        )
        .await
        .is_err()
    );
    // The files: the CSV escapes a file name a spreadsheet would run.
    let csv = String::from_utf8(scorecard::to_csv(&card).unwrap()).unwrap();
    assert!(csv.lines().count() == 4 && csv.contains("acme"), "{csv}");
    assert!(!scorecard::to_xlsx(&card).unwrap().is_empty());
}

#[tokio::test]
async fn a_return_credits_writes_and_takes_each_number_once() {
    let (s, acme, beta) = floor().await;
    let data = s.dir.path().join("data");
    let actor = Actor::system("test");
    let mut client = s.db.client().await;
    // Without rules the provider takes no returns.
    let request = ReturnRequest {
        provider_id: acme,
        format: None,
        sftp_account_id: None,
        sftp_remote_id: None,
        dry_run: true,
    };
    let err =
        returns::create(&mut **client, s.tenant, &actor, &data, &request).await.unwrap_err().to_string();
    assert!(err.contains("takes no returns"), "{err}");
    let bad = ReturnRules { window_days: 14, statuses: vec!["nonsense".into()], refused: vec![] };
    assert!(returns::set_rules(&mut **client, s.tenant, &actor, acme, Some(bad)).await.is_err());
    let bad = ReturnRules { window_days: 14, statuses: vec![], refused: vec!["late".into()] };
    assert!(returns::set_rules(&mut **client, s.tenant, &actor, acme, Some(bad)).await.is_err());
    let rules =
        ReturnRules { window_days: 14, statuses: vec!["invalid".into(), "refused".into()], refused: vec![] };
    returns::set_rules(&mut **client, s.tenant, &actor, acme, Some(rules)).await.unwrap();
    client.execute("UPDATE phone_numbers SET status = 7 WHERE phone = 79160000005", &[]).await.unwrap();

    let dry = returns::create(&mut **client, s.tenant, &actor, &data, &request).await.unwrap();
    assert_eq!((dry.numbers, dry.return_id), (2, None));
    assert_eq!(dry.by_reason.get("refused"), Some(&1));
    let real = returns::create(
        &mut **client,
        s.tenant,
        &actor,
        &data,
        &ReturnRequest { dry_run: false, ..request.clone() },
    )
    .await
    .unwrap();
    assert_eq!(real.numbers, 2);
    assert!((real.credit - 0.20).abs() < 1e-9);
    let file = std::fs::read_to_string(data.join(real.file.as_ref().unwrap())).unwrap();
    assert!(file.starts_with("phone,reason,import_id,file,delivered_at,credit\n"), "{file}");
    assert!(file.contains("79160000002,refused,") && file.contains("79160000005,invalid,"), "{file}");
    // Kept out of pools: the returned status is of category invalid.
    let category: String = client
        .query_one(
            "SELECT s.category::text FROM phone_numbers n JOIN number_statuses s ON s.tenant_id = n.tenant_id AND s.id = n.status
              WHERE n.phone = 79160000002",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(category, "invalid");
    // Once only.
    let again = returns::create(
        &mut **client,
        s.tenant,
        &actor,
        &data,
        &ReturnRequest { dry_run: false, ..request.clone() },
    )
    .await
    .unwrap();
    assert_eq!((again.numbers, again.return_id), (0, None));
    // The scorecard credits it: acme's net cost per success is 0.70 - 0.20.
    let card = scorecard::scorecard(&**client, s.tenant, &ScorecardQuery::default()).await.unwrap();
    let a = card.rows.iter().find(|r| r.provider_id == Some(acme)).unwrap();
    assert_eq!(a.returned, Some(2));
    assert!((a.cost_per_success.unwrap() - 0.50).abs() < 1e-9, "{a:?}");
    // Another tenant's provider, or an account of another provider, is not this one's.
    let other = ReturnRequest { provider_id: beta + 1000, ..request.clone() };
    assert!(
        returns::create(&mut **client, s.tenant, &actor, &data, &other)
            .await
            .unwrap_err()
            .to_string()
            .contains("not found")
    );
    assert_eq!(returns::list(&**client, s.tenant, Some(acme)).await.unwrap().len(), 1);

    // To a remote host that pushes files: the file waits in its outbox and a push is queued
    // in the same transaction; a remote that pulls is refused.
    let remote = |direction: &'static str| {
        let client = &client;
        async move {
            client
                .query_one(
                    // Sealed bytes stand in for a password: nothing here connects.
                    "INSERT INTO sftp_remotes (tenant_id, name, host, username, direction, password_sealed, provider_id)
                     VALUES (1, $1, 'sftp.example.com', 'u', $1, '\\x00',
                             CASE WHEN $1 = 'pull_numbers' THEN (SELECT min(id) FROM providers) END) RETURNING id",
                    &[&direction],
                )
                .await
                .unwrap()
                .get::<_, i64>(0)
        }
    };
    let (push, pull) = (remote("push_exports").await, remote("pull_numbers").await);
    client.execute("UPDATE phone_numbers SET status = 7 WHERE phone = 79160000004", &[]).await.unwrap();
    let refused = ReturnRequest { dry_run: false, sftp_remote_id: Some(pull), ..request.clone() };
    assert!(
        returns::create(&mut **client, s.tenant, &actor, &data, &refused)
            .await
            .unwrap_err()
            .to_string()
            .contains("does not push")
    );
    let pushed = returns::create(
        &mut **client,
        s.tenant,
        &actor,
        &data,
        &ReturnRequest { dry_run: false, sftp_remote_id: Some(push), ..request.clone() },
    )
    .await
    .unwrap();
    assert_eq!(pushed.numbers, 1);
    let name = pushed.file.unwrap().trim_start_matches("outbox/").to_owned();
    assert!(data.join("remotes").join(push.to_string()).join("outbox").join(&name).exists());
    let queued: i64 = client
        .query_one(
            "SELECT count(*) FROM jobs WHERE kind = 'sftp_push' AND args->>'remote_id' = $1",
            &[&push.to_string()],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(queued, 1);
}

/// Successes per attempt and hours, computed from the calls themselves: each call's
/// attempt is its place among the number's calls.
async fn plain_medians(client: &tokio_postgres::Client, provider: i64) -> (f64, f64) {
    let row = client
        .query_one(
            "WITH numbered AS (
                SELECT o.*, row_number() OVER (PARTITION BY o.phone ORDER BY o.started_at, o.call_id) AS nth
                  FROM call_outcomes o)
             SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY nth),
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM o.started_at - o.allocated_at) / 3600)
               FROM numbered o JOIN number_statuses s ON s.tenant_id = o.tenant_id AND s.id = o.status_to
              WHERE s.category = 'success' AND o.provider_id = $1",
            &[&provider],
        )
        .await
        .unwrap();
    (row.get(0), row.get::<_, f64>(1))
}

#[tokio::test]
async fn blocks_batches_and_medians_add_up_to_the_calls() {
    let (s, acme, beta) = floor().await;
    // A second sale for acme, on the number's second call; refreshed incrementally.
    call(&s, "a4", "+79160000003", "SALE", true).await;
    conversion::refresh(&s.db.pool, false).await.unwrap();
    let client = s.db.client().await;
    let query = |by: &str, digits: Option<u32>, prefix: Option<&str>| ScorecardQuery {
        by: Some(by.into()),
        digits,
        prefix: prefix.map(str::to_owned),
        ..Default::default()
    };
    let card = scorecard::scorecard(&**client, s.tenant, &query("provider", None, None)).await.unwrap();
    let a = card.rows.iter().find(|r| r.provider_id == Some(acme)).unwrap();
    // Successes at attempts 1 and 2, both 6 hours after allocation.
    let (attempts, hours) = plain_medians(&client, acme).await;
    assert_eq!((attempts, a.median_attempts), (1.5, Some(1.5)), "{a:?}");
    assert!((hours - 6.0).abs() < 1e-9);
    let median_hours = a.median_hours_to_success.unwrap();
    assert!((median_hours - hours).abs() <= 0.5 + 1e-9, "{median_hours} within half an hour of {hours}");
    assert_eq!(card.tenant.median_attempts, Some(1.0), "attempts 1, 1, 2");

    // By block: four digits by default, every figure as the calls count it per prefix.
    let blocks = scorecard::scorecard(&**client, s.tenant, &query("block", None, None)).await.unwrap();
    let labels: Vec<(Option<i64>, Option<&str>)> =
        blocks.rows.iter().map(|r| (r.provider_id, r.label.as_deref())).collect();
    assert_eq!(labels, [(Some(acme), Some("+7916")), (Some(beta), Some("+7917"))]);
    let per_prefix: Vec<(String, i64, i64)> = client
        .query(
            "SELECT left(o.phone::text, 4), count(*), count(*) FILTER (WHERE s.category = 'success')
               FROM call_outcomes o JOIN number_statuses s ON s.tenant_id = o.tenant_id AND s.id = o.status_to
              GROUP BY 1 ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    for (row, (prefix, dialed, success)) in blocks.rows.iter().zip(&per_prefix) {
        assert_eq!(row.key.as_deref(), Some(prefix.as_str()));
        assert_eq!((row.dialed, row.success), (Some(*dialed), Some(*success)), "{row:?}");
        assert!(row.delivered.is_none(), "imports are not split by block");
    }
    assert_eq!(blocks.rows[0].median_attempts, Some(1.5));
    // Six digits, a prefix, and what is refused.
    let six = scorecard::scorecard(&**client, s.tenant, &query("block", Some(6), None)).await.unwrap();
    assert_eq!(six.rows[0].label.as_deref(), Some("+791600"));
    let only =
        scorecard::scorecard(&**client, s.tenant, &query("block", None, Some("+7 917"))).await.unwrap();
    assert_eq!(only.rows.iter().map(|r| r.provider_id).collect::<Vec<_>>(), [Some(beta)]);
    // The average it is compared with is still every block's.
    assert_eq!((only.tenant.success, only.tenant.median_attempts), (Some(3), Some(1.0)));
    for (by, digits, prefix) in [
        ("provider", None, Some("7916")),
        ("block", Some(7), None),
        ("block", None, Some("79a")),
        ("block", Some(4), Some("79160")),
    ] {
        let err = scorecard::scorecard(&**client, s.tenant, &query(by, digits, prefix)).await.unwrap_err();
        assert!(
            matches!(err, dialpool_engine::Error::InvalidArgument { .. }),
            "{by} {digits:?} {prefix:?}: {err}"
        );
    }
    // The batch rows carry the same outcomes as the provider's.
    let batches = scorecard::scorecard(&**client, s.tenant, &query("batch", None, None)).await.unwrap();
    let acme_batch = batches.rows.iter().find(|r| r.provider_id == Some(acme)).unwrap();
    assert_eq!(
        (acme_batch.dialed, acme_batch.success, acme_batch.median_attempts),
        (Some(4), Some(2), Some(1.5))
    );

    // The incremental refresh left exactly what a full one writes.
    let snapshot = || async {
        client
            .query(
                "SELECT dimension, day, provider_id, key, allocated, dialed, contacted, success, success_attempts,
                        success_hours FROM provider_outcomes ORDER BY 1, 2, 3, 4",
                &[],
            )
            .await
            .unwrap()
            .iter()
            .map(|r| {
                format!(
                    "{:?}",
                    (
                        r.get::<_, i16>(0),
                        r.get::<_, chrono::NaiveDate>(1),
                        r.get::<_, i64>(2),
                        r.get::<_, i64>(3),
                        (r.get::<_, i64>(4), r.get::<_, i64>(5), r.get::<_, i64>(6), r.get::<_, i64>(7)),
                        r.get::<_, Vec<i64>>(8),
                        r.get::<_, Vec<i64>>(9),
                    )
                )
            })
            .collect::<Vec<_>>()
    };
    let incremental = snapshot().await;
    conversion::refresh(&s.db.pool, true).await.unwrap();
    assert_eq!(snapshot().await, incremental);
    assert_eq!(incremental.len(), 2 * 3, "two providers, one day, three dimensions");
}

#[tokio::test]
async fn rows_refused_at_delivery_go_back_once_and_leave_the_stored_number_alone() {
    let (s, acme, beta) = floor().await;
    let data = s.dir.path().join("data");
    let actor = Actor::system("test");
    let mut client = s.db.client().await;
    let rules = ReturnRules {
        window_days: 14,
        statuses: vec![],
        refused: vec!["dnc_at_delivery".into(), "duplicate".into()],
    };
    returns::set_rules(&mut **client, s.tenant, &actor, acme, Some(rules)).await.unwrap();
    client
        .batch_execute(
            "INSERT INTO dnc_numbers (tenant_id, phone, source) VALUES (1, 79160000009, 'test'), (1, 79170000009, 'test')",
        )
        .await
        .unwrap();
    // acme re-sells its own number (a duplicate), one beta sold (stored, but not acme's
    // to take back), one on the DNC list, and a new one.
    let file = s.write("acme-2.csv", "phone\n+79160000001\n+79170000002\n+79160000009\n+79160000010\n");
    let second = s.import(s.request(&file)).await.unwrap();
    history::set_price(
        &mut **client,
        s.tenant,
        &actor,
        None,
        second.import_id,
        Price { price_per_number: Some(0.25), price_batch: None },
    )
    .await
    .unwrap();
    // beta takes no refusals: its DNC row is not kept.
    let beta_file = s.write("beta-2.csv", "phone\n+79170000009\n");
    let mut request = s.request(&beta_file);
    request.provider_code = "beta".into();
    s.import(request).await.unwrap();
    let kept: Vec<(i64, String)> = client
        .query("SELECT phone, reason FROM import_refusals ORDER BY phone", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(kept, [(79160000001, "duplicate".into()), (79160000009, "dnc_at_delivery".into())]);

    let status_before: i16 = client
        .query_one("SELECT status FROM phone_numbers WHERE phone = 79160000001", &[])
        .await
        .unwrap()
        .get(0);
    let request = ReturnRequest {
        provider_id: acme,
        format: Some("xlsx".into()),
        sftp_account_id: None,
        sftp_remote_id: None,
        dry_run: false,
    };
    let real = returns::create(&mut **client, s.tenant, &actor, &data, &request).await.unwrap();
    assert_eq!(real.numbers, 2);
    assert_eq!(real.by_reason.get("duplicate"), Some(&1));
    assert_eq!(real.by_reason.get("dnc_at_delivery"), Some(&1));
    assert!((real.credit - 0.50).abs() < 1e-9, "{real:?}");
    // The first sale of the duplicate is still a number in work.
    let status_after: i16 = client
        .query_one("SELECT status FROM phone_numbers WHERE phone = 79160000001", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(status_after, status_before);
    let again = returns::create(&mut **client, s.tenant, &actor, &data, &request).await.unwrap();
    assert_eq!(again.numbers, 0, "each refused row goes back once");
    let card = scorecard::scorecard(&**client, s.tenant, &ScorecardQuery::default()).await.unwrap();
    let a = card.rows.iter().find(|r| r.provider_id == Some(acme)).unwrap();
    assert_eq!((a.returned, a.credit), (Some(2), Some(0.5)));
    assert!(card.rows.iter().find(|r| r.provider_id == Some(beta)).unwrap().returned == Some(0));

    // An erased number's refusal goes with it.
    let secret = dialpool_engine::platform::secret::SecretKey::from_base64(
        "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=",
    )
    .unwrap();
    dialpool_engine::compliance::erasure::erase(
        &s.db.pool,
        &data,
        &secret,
        dialpool_engine::compliance::erasure::ErasureRequest {
            tenant: s.tenant,
            phones: vec![79160000009],
            reason: "at the subject's request".into(),
            requested_at: None,
            actor: actor.clone(),
        },
        None,
    )
    .await
    .unwrap();
    let left: i64 = client
        .query_one(
            "SELECT (SELECT count(*) FROM import_refusals WHERE phone = 79160000009)
                  + (SELECT count(*) FROM provider_return_numbers WHERE phone = 79160000009)",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
}
