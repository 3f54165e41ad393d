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
             INSERT INTO number_events (tenant_id, at, phone, kind, project_id, provider_id, geo_id)
             SELECT 1, '2026-11-23T05:00:00Z', phone, 'allocated', project_id, provider_id, geo_id FROM phone_numbers;",
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

    // By batch: delivery and cost, no outcomes (they are not kept per batch); by geo:
    // outcomes, no delivery figures.
    let batches = scorecard::scorecard(
        &**client,
        s.tenant,
        &ScorecardQuery { by: Some("batch".into()), ..Default::default() },
    )
    .await
    .unwrap();
    assert_eq!(batches.rows.len(), 2);
    assert!(batches.rows.iter().all(|r| r.delivered.is_some() && r.success.is_none()));
    assert_eq!(batches.rows[0].label.as_deref(), Some("acme.csv"));
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
    let bad = ReturnRules { window_days: 14, statuses: vec!["nonsense".into()] };
    assert!(returns::set_rules(&mut **client, s.tenant, &actor, acme, Some(bad)).await.is_err());
    let rules = ReturnRules { window_days: 14, statuses: vec!["invalid".into(), "refused".into()] };
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
