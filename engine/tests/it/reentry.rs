//! Look-back windows against a real PostgreSQL: a number stored before comes back fresh
//! only as its rule says (window, status categories, scope), never from the do-not-call
//! list, a live lease or an exclusive project outside the project scope; the import
//! counts it apart and the number's history names the rule.

use dialpool_engine::intake::import::reentry::ReentryRule;
use dialpool_engine::intake::provider::{self, ProviderInput};
use dialpool_engine::platform::audit::Actor;

use crate::support::{self, Setup};

const N: [i64; 5] = [79160000001, 79160000002, 79160000003, 79160000004, 79160000005];

async fn exec(s: &Setup, sql: &str) {
    s.db.client().await.batch_execute(sql).await.unwrap();
}

async fn scalar(s: &Setup, sql: &str) -> i64 {
    s.db.client().await.query_one(sql, &[]).await.unwrap().get(0)
}

async fn again(
    s: &Setup,
    file: &std::path::Path,
    rule: Option<&str>,
) -> dialpool_engine::intake::import::Counts {
    let mut request = s.request(file);
    request.reentry = rule.map(|r| ReentryRule::parse("reentry", r).unwrap());
    let summary = s.import(request).await.unwrap();
    assert!(summary.counts.reconciles(), "{:?}", summary.counts);
    summary.counts
}

#[tokio::test]
async fn a_number_seen_before_comes_back_fresh_only_as_its_rule_says() {
    let s = support::setup().await;
    let file = s.dir.path().join("leads.csv");
    let rows: Vec<String> = N.iter().map(|n| format!("+{n},Person {n}")).collect();
    std::fs::write(&file, format!("phone,name\n{}\n", rows.join("\n"))).unwrap();
    assert_eq!(again(&s, &file, None).await.inserted, 5);
    // Stored 40 days ago; 1 refused (failure), 2 no answer (retry), 3 held by an exclusive
    // project, 4 on the do-not-call list, 5 leased right now.
    exec(
        &s,
        "UPDATE phone_numbers SET created_at = now() - interval '40 days';
         INSERT INTO projects (tenant_id, name, exclusive) VALUES (1, 'Mine', true), (1, 'Shared', false);
         UPDATE phone_numbers SET status = 6, attempts = 3, next_eligible_at = 'infinity' WHERE phone = 79160000001;
         UPDATE phone_numbers SET status = 2, attempts = 1 WHERE phone = 79160000002;
         UPDATE phone_numbers SET status = 1, project_id = (SELECT id FROM projects WHERE name = 'Mine'),
                allocated_at = now() - interval '39 days' WHERE phone = 79160000003;
         INSERT INTO dnc_numbers (tenant_id, phone, source) VALUES (1, 79160000004, 'test');
         UPDATE phone_numbers SET project_id = (SELECT id FROM projects WHERE name = 'Shared'), allocated_at = now(),
                leased_until = now() + interval '1 hour' WHERE phone = 79160000005;",
    )
    .await;

    // Skip (no rule): all duplicates, as always.
    let c = again(&s, &file, None).await;
    assert_eq!((c.refreshed, c.duplicate_existing, c.dnc), (0, 4, 1));

    // Only failures, after 30 days: the refused number comes back fresh, its history kept.
    let c = again(&s, &file, Some("refresh_if_status:30:failure")).await;
    assert_eq!((c.refreshed, c.duplicate_existing, c.dnc), (1, 3, 1));
    assert_eq!(
        scalar(
            &s,
            "SELECT count(*) FROM phone_numbers WHERE phone = 79160000001 AND status = 0 AND attempts = 0
                     AND next_eligible_at IS NULL AND project_id IS NULL AND refreshed_at IS NOT NULL"
        )
        .await,
        1
    );
    assert_eq!(
        scalar(
            &s,
            "SELECT count(*) FROM number_events WHERE phone = 79160000001 AND kind = 'refreshed'
                     AND status_from = 6 AND data->>'rule' = 'refresh from failure after 30 days (system)'"
        )
        .await,
        1
    );
    assert_eq!(scalar(&s, "SELECT refreshed FROM imports ORDER BY id DESC LIMIT 1").await, 1);

    // Any status after 30 days: the window restarts at a refresh, so 1 stays; 2 comes
    // back; the exclusive project's 3, the listed 4 and the leased 5 never do.
    let c = again(&s, &file, Some("refresh:30")).await;
    assert_eq!((c.refreshed, c.duplicate_existing, c.dnc), (1, 3, 1));
    assert_eq!(scalar(&s, "SELECT status::bigint FROM phone_numbers WHERE phone = 79160000002").await, 0);

    // A longer window than the numbers' age: nothing.
    assert_eq!(again(&s, &file, Some("refresh:60")).await.refreshed, 0);

    // The project scope refreshes what a project holds, inside that project (the
    // exclusive one too); the leased number still waits.
    let c = again(&s, &file, Some("refresh:30:project")).await;
    assert_eq!(c.refreshed, 1);
    assert_eq!(
        scalar(
            &s,
            "SELECT count(*) FROM phone_numbers WHERE phone = 79160000003 AND status = 0
                     AND project_id = (SELECT id FROM projects WHERE name = 'Mine')"
        )
        .await,
        1
    );
    assert_eq!(scalar(&s, "SELECT count(*) FROM phone_numbers WHERE phone = 79160000004").await, 1);
}

#[tokio::test]
async fn the_providers_rule_applies_its_scope_decides_whose_numbers_and_a_repeat_is_counted_once() {
    let s = support::setup().await;
    let file = s.dir.path().join("leads.csv");
    std::fs::write(&file, "phone\n+79160000001\n+79160000002\n").unwrap();
    again(&s, &file, None).await;
    exec(&s, "UPDATE phone_numbers SET created_at = now() - interval '10 days', status = 2").await;
    let mut client = s.db.client().await;
    let beta = provider::add(
        &mut **client,
        s.tenant,
        &Actor::system("test"),
        ProviderInput {
            code: Some("beta".into()),
            name: "Beta".into(),
            default_region: Some("RU".into()),
            column_mapping: String::new(),
            reentry: Some(ReentryRule::parse("r", "refresh:7:provider").unwrap()),
        }
        .into_new()
        .unwrap(),
    )
    .await
    .unwrap();
    // Beta's rule is scoped to its own numbers: acme's stay acme's.
    let mut request = s.request(&file);
    request.provider_code = "beta".into();
    let c = s.import(request).await.unwrap().counts;
    assert_eq!((c.refreshed, c.duplicate_existing), (0, 2));

    // Acme's own rule, from the provider: the same number twice, in two batches, is
    // refreshed once and then a duplicate in the file.
    let acme = provider::find_by_code(&**client, s.tenant, "acme").await.unwrap();
    provider::update(
        &mut **client,
        s.tenant,
        &Actor::system("test"),
        acme.id,
        ProviderInput {
            code: None,
            name: "Acme".into(),
            default_region: Some("RU".into()),
            column_mapping: String::new(),
            reentry: Some(ReentryRule::parse("r", "refresh:7").unwrap()),
        },
    )
    .await
    .unwrap();
    let twice = s.dir.path().join("twice.csv");
    std::fs::write(&twice, "phone\n+79160000001\n+79160000001\n").unwrap();
    let mut request = s.request(&twice);
    request.batch_rows = Some(1);
    let summary = s.import(request).await.unwrap();
    assert_eq!((summary.counts.refreshed, summary.counts.duplicate_in_file), (1, 1), "{:?}", summary.counts);
    assert_eq!(summary.reentry, "refresh after 7 days (system)");

    // The system scope moves a number to the provider that sent it.
    let mut request = s.request(&file);
    request.provider_code = "beta".into();
    request.reentry = Some(ReentryRule::parse("r", "refresh:7:system").unwrap());
    let c = s.import(request).await.unwrap().counts;
    assert_eq!(c.refreshed, 1, "the number refreshed a moment ago waits out its window: {c:?}");
    assert_eq!(
        scalar(
            &s,
            &format!(
                "SELECT count(*) FROM phone_numbers WHERE phone = 79160000002 AND provider_id = {}",
                beta.id
            )
        )
        .await,
        1
    );
}
