//! Households against a real PostgreSQL: numbers sharing a normalised address form a
//! group on import and when a rule is added; allocation keeps a group in the project
//! that has one of its numbers; a success parks the others; explain shows the group.

use crate::support::setup;
use dialpool_engine::dialing::outcome::{self, OutcomeInput};
use dialpool_engine::insight::explain;
use dialpool_engine::platform::access::Scope;
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::pool::allocate::{self, Request};
use dialpool_engine::pool::groups::{self, GroupRuleInput};
use dialpool_engine::pool::project::{self, ProjectInput};

/// One rule taking any number; newest first, and one file's numbers share a creation
/// time, so the lowest number goes first.
fn project_input(name: &str, quota: i32) -> ProjectInput {
    crate::allocation::input(name, quota, vec![(None, None, 1)])
}

#[tokio::test]
async fn a_household_stays_in_one_project_and_a_success_parks_the_others() {
    let s = setup().await;
    let actor = Actor::system("test");
    let mut client = s.db.client().await;
    let household = GroupRuleInput {
        name: "household".into(),
        attributes: vec!["address".into()],
        keep_together: true,
        park_on_success: true,
    };
    let (rule, regrouped) = groups::create(&mut **client, s.tenant, &actor, &household).await.unwrap();
    assert_eq!(regrouped, 0);
    // The same address written two ways, another address, and no address at all.
    let file = s.write(
        "family.csv",
        "phone,address\n+79160000001,12 Main St\n+79160000002,\" 12  main st \"\n+79160000003,7 Oak Rd\n+79160000004,\n",
    );
    s.import(s.request(&file)).await.unwrap();
    let keys: Vec<Option<i64>> = client
        .query("SELECT group_key FROM phone_numbers ORDER BY phone", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert!(keys[0].is_some() && keys[0] == keys[1], "{keys:?}");
    assert!(keys[2].is_some() && keys[2] != keys[0]);
    assert_eq!(keys[3], None);
    // Adding the same rule under another name changes nobody's group (the first rule wins);
    // a rule with a name taken is a conflict.
    assert!(groups::create(&mut **client, s.tenant, &actor, &household).await.is_err());

    let explained =
        explain::explain(&**client, s.tenant, &Scope::All, "+79160000001", None, None).await.unwrap();
    let group = explained.group.expect("a group");
    assert_eq!((group.rule_id, group.size), (rule.id, 2));
    assert_eq!(group.others.len(), 1);
    assert_eq!(group.others[0].phone, "+79160000002");

    // Project A gets one number of the household (+7916…0001).
    let a = project::create(&mut **client, s.tenant, &actor, &project_input("A", 1)).await.unwrap().id;
    let b = project::create(&mut **client, s.tenant, &actor, &project_input("B", 10)).await.unwrap().id;
    let day = "2026-11-23".parse().ok();
    allocate::run(
        &mut **client,
        s.tenant,
        &actor,
        &Request { date: day, projects: Some(vec![a]), ..Request::default() },
    )
    .await
    .unwrap();
    // B may not take the household's other number: it is reserved for A.
    let report = allocate::run(
        &mut **client,
        s.tenant,
        &actor,
        &Request { date: day, projects: Some(vec![b]), ..Request::default() },
    )
    .await
    .unwrap();
    assert_eq!(report.projects[0].allocated, 2, "{report:?}");
    assert_eq!(report.projects[0].skipped.held_by_other_project, 2, "A's own and the one kept for A");
    let holder: Option<i64> = client
        .query_one("SELECT project_id FROM phone_numbers WHERE phone = 79160000002", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(holder, None);
    // A's next day takes it.
    let next = "2026-11-24".parse().ok();
    allocate::run(
        &mut **client,
        s.tenant,
        &actor,
        &Request { date: next, projects: Some(vec![a]), ..Request::default() },
    )
    .await
    .unwrap();
    let holder: Option<i64> = client
        .query_one("SELECT project_id FROM phone_numbers WHERE phone = 79160000002", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(holder, Some(a));

    // A sale on one parks the other.
    let now = chrono::Utc::now().to_rfc3339();
    let input = OutcomeInput {
        answered_at: Some(chrono::Utc::now()),
        ..crate::calls::outcome_input("sale-1", "+79160000001", "SALE", &now)
    };
    outcome::post(&mut **client, s.tenant, &Scope::All, &actor, &input).await.unwrap();
    let parked: String = client
        .query_one(
            "SELECT s.code FROM phone_numbers n JOIN number_statuses s ON s.tenant_id = n.tenant_id AND s.id = n.status
              WHERE n.phone = 79160000002",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(parked, groups::PARKED_STATUS);
    let why: serde_json::Value = client
        .query_one(
            "SELECT data FROM number_events WHERE phone = 79160000002 AND kind = 'status_changed' ORDER BY at DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(why["group_success"], 79160000001i64);
    // The other household was not touched.
    let other: i16 = client
        .query_one("SELECT status FROM phone_numbers WHERE phone = 79160000003", &[])
        .await
        .unwrap()
        .get(0);
    assert_ne!(other, 5);

    // Removing the rule ungroups everyone.
    let ungrouped = groups::delete(&mut **client, s.tenant, &actor, rule.id).await.unwrap();
    assert_eq!(ungrouped, 3);
    assert_eq!(s.count("SELECT count(*) FROM phone_numbers WHERE group_key IS NOT NULL").await, 0);
}
