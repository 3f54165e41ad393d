//! The numbers page's API: filters, bulk actions on a selection and on a whole filter, one
//! number's detail; the DNC list; the disposition map.

use axum::http::{Method, StatusCode};
use dialpool_engine::platform::access::Scopes;
use serde_json::{Value, json};

use crate::support::Api;

fn phones(page: &Value) -> Vec<&str> {
    page["items"].as_array().unwrap().iter().map(|n| n["phone"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn filters_and_bulk_actions_touch_exactly_what_they_say() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leads").await;
    let project = api.dial_project(provider, 5).await;
    api.db
        .client()
        .await
        .execute("UPDATE phone_numbers SET attempts = 3, last_called_at = '2026-11-20T10:00:00Z' WHERE phone = 79161000004", &[])
        .await
        .unwrap();

    let called = api
        .get("/api/v1/numbers?attempts_min=2&called_from=2026-11-20T00:00:00Z", &admin)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(phones(&called), ["+79161000004"]);
    let page = api
        .get(&format!("/api/v1/numbers?project_id={project}&limit=2"), &admin)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(phones(&page), ["+79161000001", "+79161000002"]);
    let next = api
        .get(
            &format!(
                "/api/v1/numbers?project_id={project}&limit=2&cursor={}",
                page["next_cursor"].as_str().unwrap()
            ),
            &admin,
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(phones(&next), ["+79161000003", "+79161000004"]);

    // A dry run on the whole filter counts and changes nothing.
    let filter = json!({"project_id": project});
    let dry = api
        .post(
            "/api/v1/numbers/bulk",
            &admin,
            json!({"selection": {"filter": filter}, "action": "release", "dry_run": true}),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!((&dry["matched"], &dry["touched"]), (&json!(5), &json!(0)));

    let statused = api
        .post(
            "/api/v1/numbers/bulk",
            &admin,
            json!({"selection": {"phones": ["+79161000001", "+79161000002"]}, "action": "set_status", "status": 2}),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!((&statused["matched"], &statused["touched"]), (&json!(2), &json!(2)));
    let detail = api.get("/api/v1/numbers/%2B79161000001", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(detail["status"], "no_answer");
    let explained =
        api.get("/api/v1/numbers/%2B79161000001/explain", &admin).await.expect(StatusCode::OK).json();
    assert!(explained.to_string().contains("status_changed"), "the event is in the history: {explained}");

    let released = api
        .post("/api/v1/numbers/bulk", &admin, json!({"selection": {"filter": filter}, "action": "release"}))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!((&released["matched"], &released["touched"]), (&json!(5), &json!(5)));
    let left =
        api.get(&format!("/api/v1/numbers?project_id={project}"), &admin).await.expect(StatusCode::OK).json();
    assert!(phones(&left).is_empty());
    let audit = api.get("/api/v1/audit?action=numbers.bulk", &admin).await.expect(StatusCode::OK).json();
    let counts: Vec<&Value> =
        audit["items"].as_array().unwrap().iter().map(|e| &e["after"]["touched"]).collect();
    assert_eq!(
        counts,
        [&json!(5), &json!(2)],
        "each bulk action audited with its count, dry runs not: {audit}"
    );

    // A manager without dnc.write cannot list numbers as DNC in bulk.
    let tenant = api.tenant("default").await;
    api.user(
        tenant,
        "manager@example.com",
        "manager",
        Scopes { providers: vec![provider], projects: vec![] },
    )
    .await;
    let manager = api.sign_in("manager@example.com").await;
    let to_dnc =
        json!({"selection": {"phones": ["+79161000003"]}, "action": "add_to_dnc", "reason": "asked"});
    api.post("/api/v1/numbers/bulk", &manager, to_dnc.clone()).await.expect(StatusCode::FORBIDDEN);
    let listed = api.post("/api/v1/numbers/bulk", &admin, to_dnc).await.expect(StatusCode::OK).json();
    assert_eq!(listed["touched"], 1);
    let bad = api
        .post("/api/v1/numbers/bulk", &admin, json!({"selection": {"phones": []}, "action": "release"}))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .json();
    assert!(bad.to_string().contains("selection"), "{bad}");
}

#[tokio::test]
async fn the_dnc_list_says_who_listed_a_number_and_when() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let added = api
        .post(
            "/api/v1/dnc",
            &admin,
            json!({"phone": "8 916 100-00-09", "region": "RU", "reason": "complaint"}),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (&added["phone"], &added["added"], &added["added_by"]),
        (&json!("+79161000009"), &json!(true), &json!("admin@example.com"))
    );
    let again =
        api.post("/api/v1/dnc", &admin, json!({"phone": "+79161000009"})).await.expect(StatusCode::OK).json();
    assert_eq!(
        (&again["added"], &again["reason"]),
        (&json!(false), &json!("complaint")),
        "the first entry stays"
    );

    let file = "phone\n+79162000001\n+79162000002\n+79161000009\nnot a number\n";
    let summary = api
        .upload_form(
            "/api/v1/dnc/files",
            &admin,
            &[("reason", "regulator list")],
            "regulator.csv",
            file.as_bytes(),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (&summary["added"], &summary["already_listed"], &summary["invalid"]),
        (&json!(2), &json!(1), &json!(1)),
        "{summary}"
    );

    let found = api.get("/api/v1/dnc?phone=7916200", &admin).await.expect(StatusCode::OK).json();
    // One file's entries share their time; the newest-first order breaks the tie by phone.
    assert_eq!(phones(&found), ["+79162000002", "+79162000001"]);
    assert!(
        found["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["source"] == "regulator.csv" && e["reason"] == "regulator list")
    );
    api.request(Method::DELETE, "/api/v1/dnc/%2B79161000009", &admin, None)
        .await
        .expect(StatusCode::NO_CONTENT);
    api.request(Method::DELETE, "/api/v1/dnc/%2B79161000009", &admin, None)
        .await
        .expect(StatusCode::NOT_FOUND);
    let all = api.get("/api/v1/dnc", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let audit = api.get("/api/v1/audit?entity=dnc", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 2, "added and removed: {audit}");
}

#[tokio::test]
async fn administrators_edit_the_disposition_map_and_project_finish_policy() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let map = api.get("/api/v1/dispositions", &admin).await.expect(StatusCode::OK).json();
    assert!(
        map.as_array().unwrap().iter().any(|d| d["disposition"] == "NO ANSWER" && d["status"] == "no_answer")
    );
    let set = api
        .request(
            Method::PUT,
            "/api/v1/dispositions",
            &admin,
            Some(json!({"disposition": "voicemail", "status_id": 2})),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (&set["disposition"], &set["status"], &set["dnc"]),
        (&json!("VOICEMAIL"), &json!("no_answer"), &json!(false))
    );
    api.request(
        Method::PUT,
        "/api/v1/dispositions",
        &admin,
        Some(json!({"disposition": "X", "status_id": 99})),
    )
    .await
    .expect(StatusCode::NOT_FOUND);
    api.request(Method::DELETE, "/api/v1/dispositions/voicemail", &admin, None)
        .await
        .expect(StatusCode::NO_CONTENT);

    let project = |on_final: &str, exclusive: bool| {
        json!({"name": format!("P {on_final} {exclusive}"), "time_zone": "UTC", "daily_quota": 10,
               "exclusive": exclusive, "on_final": on_final})
    };
    let created = api
        .post("/api/v1/projects", &admin, project("release", false))
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!(created["on_final"], "release");
    let refused = api
        .post("/api/v1/projects", &admin, project("release", true))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .json();
    assert!(refused.to_string().contains("on_final"), "{refused}");
}

#[tokio::test]
async fn a_bulk_status_change_is_undone_once_by_its_author_and_spares_numbers_that_moved_on() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leads").await;
    let project = api.dial_project(provider, 5).await;
    let db = api.db.client().await;
    // Each number's status and due time as the change will find them, made to differ.
    db.execute(
        "UPDATE phone_numbers SET status = 2, next_eligible_at = '2026-12-01T08:00:00Z' WHERE phone = 79161000003",
        &[],
    )
    .await
    .unwrap();
    let state = |phone: i64| {
        let db = &db;
        async move {
            let row = db
                .query_one(
                    "SELECT status, next_eligible_at::text FROM phone_numbers WHERE phone = $1",
                    &[&phone],
                )
                .await
                .unwrap();
            (row.get::<_, i16>(0), row.get::<_, Option<String>>(1))
        }
    };
    let before = [state(79161000001).await, state(79161000003).await, state(79161000005).await];

    let filter = json!({"project_id": project});
    let dry = api
        .post(
            "/api/v1/numbers/bulk",
            &admin,
            json!({"selection": {"filter": filter}, "action": "set_status", "status": 6, "dry_run": true}),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert!(dry.get("undo_id").is_none(), "a dry run changes nothing to undo: {dry}");
    let changed = api
        .post(
            "/api/v1/numbers/bulk",
            &admin,
            json!({"selection": {"filter": filter}, "action": "set_status", "status": 6}),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(changed["touched"], 5);
    let undo = format!("/api/v1/numbers/bulk/{}/undo", changed["undo_id"].as_i64().expect("an undo id"));
    assert_eq!(state(79161000001).await.0, 6);

    // A call outcome moves one number on after the change: undo must not overwrite it.
    db.execute("UPDATE phone_numbers SET status = 5 WHERE phone = 79161000002", &[]).await.unwrap();

    // Nobody else undoes it: not another user of the tenant, not another tenant.
    let tenant = api.tenant("default").await;
    api.user(tenant, "second-admin@example.com", "admin", Scopes::default()).await;
    let second = api.sign_in("second-admin@example.com").await;
    api.post(&undo, &second, json!({})).await.expect(StatusCode::NOT_FOUND);
    let stranger = api.other_tenant_admin(&admin).await;
    api.post(&undo, &stranger, json!({})).await.expect(StatusCode::NOT_FOUND);
    api.post("/api/v1/numbers/bulk/999999/undo", &admin, json!({})).await.expect(StatusCode::NOT_FOUND);

    let undone = api.post(&undo, &admin, json!({})).await.expect(StatusCode::OK).json();
    assert_eq!((&undone["restored"], &undone["kept"]), (&json!(4), &json!(1)));
    assert_eq!(
        [state(79161000001).await, state(79161000003).await, state(79161000005).await],
        before,
        "status and due time as before the change"
    );
    assert_eq!(state(79161000002).await.0, 5, "the outcome that came in since stays");
    let explained =
        api.get("/api/v1/numbers/%2B79161000001/explain", &admin).await.expect(StatusCode::OK).json();
    assert!(explained.to_string().contains("\"undo\""), "the undo is in the history: {explained}");

    // Once only, and within a day.
    api.post(&undo, &admin, json!({})).await.expect(StatusCode::CONFLICT);
    let again = api
        .post(
            "/api/v1/numbers/bulk",
            &admin,
            json!({"selection": {"phones": ["+79161000004"]}, "action": "set_status", "status": 7}),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    db.execute(
        "UPDATE bulk_changes SET created_at = now() - interval '25 hours' WHERE id = $1",
        &[&again["undo_id"].as_i64().unwrap()],
    )
    .await
    .unwrap();
    let late = api
        .post(&format!("/api/v1/numbers/bulk/{}/undo", again["undo_id"]), &admin, json!({}))
        .await
        .expect(StatusCode::CONFLICT)
        .json();
    assert!(late.to_string().contains("24 hours"), "{late}");
    let audit = api.get("/api/v1/audit?action=numbers.bulk_undo", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
}

#[tokio::test]
async fn the_count_is_exact_when_cheap_an_estimate_when_not_and_only_counts_what_the_caller_sees() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leads").await;
    let project = api.dial_project(provider, 5).await;
    let count = api
        .get(&format!("/api/v1/numbers/count?project_id={project}"), &admin)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(count, json!({"count": 5, "exact": true}));
    let none = api.get("/api/v1/numbers/count?attempts_min=3", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(none, json!({"count": 0, "exact": true}));
    // A manager whose scope is another, empty project counts nothing of this one.
    let manager = api.manager_of_another_project().await;
    let theirs = api.get("/api/v1/numbers/count", &manager).await.expect(StatusCode::OK).json();
    assert_eq!(theirs, json!({"count": 0, "exact": true}));

    // Past what is cheap to count, the planner's estimate, said to be one.
    let db = api.db.client().await;
    db.batch_execute(&format!(
        "INSERT INTO phone_numbers (tenant_id, phone, provider_id, import_id, last_import_id)
         SELECT 1, 79000000000 + g, {provider}, 0, 0 FROM generate_series(1, 250000) g;
         ANALYZE phone_numbers;"
    ))
    .await
    .unwrap();
    let many = api
        .get(&format!("/api/v1/numbers/count?provider_id={provider}"), &admin)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(many["exact"], false, "{many}");
    let estimate = many["count"].as_i64().unwrap();
    assert!((200_000..=300_000).contains(&estimate), "an estimate near 250,005: {estimate}");
}

#[tokio::test]
async fn a_block_prefix_narrows_the_list_the_count_and_a_bulk_action() {
    let api = crate::support::Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "blocks").await;
    let started = api
        .upload(
            &admin,
            provider,
            "blocks.csv",
            b"phone\n+77011110001\n+77011110002\n+77021110003\n+79161110004\n",
        )
        .await
        .expect(axum::http::StatusCode::ACCEPTED)
        .json();
    api.wait_for_task(&admin, started["task_id"].as_str().unwrap()).await;
    let page =
        api.get("/api/v1/numbers?prefix=%2B7%20701", &admin).await.expect(axum::http::StatusCode::OK).json();
    let phones: Vec<&str> =
        page["items"].as_array().unwrap().iter().map(|n| n["phone"].as_str().unwrap()).collect();
    assert_eq!(phones, ["+77011110001", "+77011110002"]);
    let count =
        api.get("/api/v1/numbers/count?prefix=770", &admin).await.expect(axum::http::StatusCode::OK).json();
    assert_eq!(count["count"], 3);
    let bulk = api
        .post(
            "/api/v1/numbers/bulk",
            &admin,
            serde_json::json!({"selection": {"filter": {"prefix": "7701"}}, "action": "set_status", "status": 6}),
        )
        .await
        .expect(axum::http::StatusCode::OK)
        .json();
    assert_eq!((bulk["matched"].as_i64(), bulk["touched"].as_i64()), (Some(2), Some(2)), "{bulk}");
    let refused = api
        .get("/api/v1/numbers?prefix=KZ701", &admin)
        .await
        .expect(axum::http::StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().contains("prefix"), "{}", refused.text());
}

#[tokio::test]
async fn a_household_rule_groups_uploaded_numbers_and_explain_shows_the_group() {
    use axum::http::{Method, StatusCode};
    let api = crate::support::Api::new().await;
    let admin = api.admin().await;
    let made = api
        .post(
            "/api/v1/groups",
            &admin,
            serde_json::json!({"name": "household", "attributes": ["contact_id"]}),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    let rule = made["rule"]["id"].as_i64().unwrap();
    api.post("/api/v1/groups", &admin, serde_json::json!({"name": "household", "attributes": ["x"]}))
        .await
        .expect(StatusCode::CONFLICT);
    api.post("/api/v1/groups", &admin, serde_json::json!({"name": "none", "attributes": []}))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    let provider = api.provider(&admin, "families").await;
    let started = api
        .upload(
            &admin,
            provider,
            "families.csv",
            b"phone,contact_id\n+79161230001,C-7\n+79161230002,c-7\n+79161230003,C-8\n",
        )
        .await
        .expect(StatusCode::ACCEPTED)
        .json();
    api.wait_for_task(&admin, started["task_id"].as_str().unwrap()).await;
    let explained =
        api.get("/api/v1/numbers/%2B79161230001/explain", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(explained["group"]["size"], 2, "{explained}");
    assert_eq!(explained["group"]["others"][0]["phone"], "+79161230002");
    // Managers may not change the rules; another tenant cannot remove this one.
    let manager = api.manager_of_another_project().await;
    api.post("/api/v1/groups", &manager, serde_json::json!({"name": "m", "attributes": ["a"]}))
        .await
        .expect(StatusCode::FORBIDDEN);
    let other = api.other_tenant_admin(&admin).await;
    api.request(Method::DELETE, &format!("/api/v1/groups/{rule}"), &other, None)
        .await
        .expect(StatusCode::NOT_FOUND);
    let removed = api
        .request(Method::DELETE, &format!("/api/v1/groups/{rule}"), &admin, None)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(removed["regrouped"], 3);
}
