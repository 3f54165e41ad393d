//! Erasure over the API: an erased number uploaded again is refused and counted, subject
//! access and tombstones answer only with `privacy.manage`, another tenant's erasure
//! touches nothing here, and no answer names an erased number.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Api, Auth};

/// The import record of a started upload, once its task is done.
async fn import_of(api: &Api, auth: &Auth, started: &Value) -> Value {
    let (done, _) = api.wait_for_task(auth, started["task_id"].as_str().unwrap()).await;
    let id = done["import_id"].as_i64().unwrap_or_else(|| panic!("{done}"));
    api.get(&format!("/api/v1/imports/{id}"), auth).await.expect(StatusCode::OK).json()
}

#[tokio::test]
async fn an_erased_number_uploaded_again_is_refused_and_only_privacy_managers_erase() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leadco").await;
    let file = b"phone,name\n+79161234567,Anna\n+79031112233,Boris\n";
    let started = api.upload(&admin, provider, "leads.csv", file).await.expect(StatusCode::ACCEPTED).json();
    let done = import_of(&api, &admin, &started).await;
    assert_eq!(done["inserted"], 2, "{done}");

    // A manager may import but not erase; another tenant's erasure touches nothing here.
    let manager = api.manager_of_another_project().await;
    api.post("/api/v1/erasures", &manager, json!({"phones": ["+79161234567"]}))
        .await
        .expect(StatusCode::FORBIDDEN);
    let other = api.other_tenant_admin(&admin).await;
    let theirs = api.post("/api/v1/erasures", &other, json!({"phones": ["+79161234567"]})).await;
    assert_eq!(theirs.expect(StatusCode::OK).json()["found"], 0);
    api.get("/api/v1/tombstones/%2B79161234567", &admin).await.expect(StatusCode::NOT_FOUND);

    // Bad input is named and erases nothing.
    let bad = api.post("/api/v1/erasures", &admin, json!({"phones": ["+79161234567", "call me"]})).await;
    assert!(bad.expect(StatusCode::UNPROCESSABLE_ENTITY).text().contains("phones"));
    api.post("/api/v1/erasures", &admin, json!({"phones": []}))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);

    let erased = api
        .post(
            "/api/v1/erasures",
            &admin,
            json!({"phones": ["+7 916 123-45-67"], "reason": "at the subject's request", "requested_at": "2026-12-01T09:00:00Z"}),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!((erased["numbers"].as_i64(), erased["found"].as_i64()), (Some(1), Some(1)), "{erased}");

    let again =
        api.upload(&admin, provider, "leads-again.csv", file).await.expect(StatusCode::ACCEPTED).json();
    let done = import_of(&api, &admin, &again).await;
    assert_eq!((done["erased"].as_i64(), done["duplicate_existing"].as_i64()), (Some(1), Some(1)), "{done}");
    api.get("/api/v1/numbers/%2B79161234567", &admin).await.expect(StatusCode::NOT_FOUND);

    let list = api.get("/api/v1/erasures", &admin).await.expect(StatusCode::OK);
    assert!(!list.text().contains("9161234567"), "the history never names the number: {}", list.text());
    assert_eq!(list.json()[0]["requested_at"], "2026-12-01T09:00:00Z");
    let subject = api.get("/api/v1/subjects/%2B79161234567", &admin).await.expect(StatusCode::OK).json();
    assert!(subject["number"].is_null() && subject["calls"].as_array().unwrap().is_empty(), "{subject}");
    assert_eq!(subject["erasure"]["reason"], "at the subject's request");
    api.get("/api/v1/subjects/%2B79161234567", &manager).await.expect(StatusCode::FORBIDDEN);
    let kept = api.get("/api/v1/subjects/%2B79031112233", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(kept["number"]["attributes"]["name"], "Boris");
    assert!(kept["erasure"].is_null());

    let tombstone = api.get("/api/v1/tombstones/%2B79161234567", &admin).await.expect(StatusCode::OK).json();
    assert!(tombstone["lifted_at"].is_null());
    let lift = json!({"phone": "+79161234567", "reason": "asked to be called again"});
    // The other company lifts its own tombstone of the same number; ours stays.
    api.post("/api/v1/tombstones/lift", &other, lift.clone()).await.expect(StatusCode::OK);
    let ours = api.get("/api/v1/tombstones/%2B79161234567", &admin).await.expect(StatusCode::OK).json();
    assert!(ours["lifted_at"].is_null(), "{ours}");
    api.post("/api/v1/tombstones/lift", &admin, lift.clone()).await.expect(StatusCode::OK);
    api.post("/api/v1/tombstones/lift", &admin, lift).await.expect(StatusCode::NOT_FOUND);
    let back = api.upload(&admin, provider, "leads-3.csv", file).await.expect(StatusCode::ACCEPTED).json();
    let done = import_of(&api, &admin, &back).await;
    assert_eq!((done["erased"].as_i64(), done["inserted"].as_i64()), (Some(0), Some(1)), "{done}");
}

#[tokio::test]
async fn retention_is_set_shown_and_checked_per_tenant() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let shown = api.get("/api/v1/retention", &admin).await.expect(StatusCode::OK).json();
    assert!(shown["settings"]["events_months"].is_null(), "for ever by default: {shown}");
    let tables: Vec<&str> =
        shown["logs"].as_array().unwrap().iter().map(|l| l["table"].as_str().unwrap()).collect();
    assert_eq!(tables, ["number_events", "audit_log", "call_outcomes"]);

    let too_short = json!({"events_months": 24, "audit_months": 6});
    let refused = api.request(axum::http::Method::PUT, "/api/v1/retention", &admin, Some(too_short)).await;
    assert!(refused.expect(StatusCode::UNPROCESSABLE_ENTITY).text().contains("audit_months"));
    // Another company keeps for ever, so nothing applies to the shared months yet.
    let other = api.other_tenant_admin(&admin).await;
    let set =
        json!({"events_months": 24, "audit_months": 84, "outcomes_months": 24, "export_files_days": 30});
    let saved = api.request(axum::http::Method::PUT, "/api/v1/retention", &admin, Some(set.clone())).await;
    let saved = saved.expect(StatusCode::OK).json();
    assert_eq!(saved["settings"]["audit_months"], 84);
    assert!(saved["logs"][0]["effective_months"].is_null(), "{saved}");
    let theirs = api.get("/api/v1/retention", &other).await.expect(StatusCode::OK).json();
    assert!(theirs["settings"]["events_months"].is_null());
    let manager = api.manager_of_another_project().await;
    api.request(axum::http::Method::PUT, "/api/v1/retention", &manager, Some(set))
        .await
        .expect(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_compliance_report_comes_as_json_csv_or_xlsx_to_privacy_managers_only() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leadco").await;
    let project = api.dial_project(provider, 2).await;
    let uri = format!("/api/v1/projects/{project}/compliance");
    let json = api.get(&uri, &admin).await.expect(StatusCode::OK).json();
    assert_eq!(json["leases_by_local_hour"].as_array().unwrap().len(), 24, "{json}");
    assert_eq!(json["withheld"]["now"]["due"], 2);
    let csv = api
        .get(&format!("{uri}?format=csv&from=2026-11-01&to=2026-11-30"), &admin)
        .await
        .expect(StatusCode::OK);
    assert!(csv.content_type().starts_with("text/csv"));
    assert!(csv.text().contains("withheld,due now,2"), "{}", csv.text());
    let xlsx = api.get(&format!("{uri}?format=xlsx"), &admin).await.expect(StatusCode::OK);
    assert!(xlsx.content_type().contains("spreadsheetml"));
    api.get(&format!("{uri}?format=pdf"), &admin).await.expect(StatusCode::UNPROCESSABLE_ENTITY);
    api.get(&format!("{uri}?from=2026-12-01&to=2026-11-01"), &admin)
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    let manager = api.manager_of_another_project().await;
    api.get(&uri, &manager).await.expect(StatusCode::FORBIDDEN);
    let other = api.other_tenant_admin(&admin).await;
    api.get(&uri, &other).await.expect(StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_kept_export_that_held_an_erased_number_is_withdrawn_and_says_why() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leadco").await;
    let project = api.dial_project(provider, 3).await;
    let started = api
        .post(&format!("/api/v1/projects/{project}/exports"), &admin, json!({"options": {"format": "csv"}}))
        .await
        .expect(StatusCode::ACCEPTED)
        .json();
    let id = started["id"].as_i64().unwrap();
    assert_eq!(crate::exports::finished(&api, &admin, id).await["rows"], 3);
    let file = api.get(&format!("/api/v1/exports/{id}/file"), &admin).await.expect(StatusCode::OK);
    assert!(file.text().contains("79161000002"));

    let erased = api.post("/api/v1/erasures", &admin, json!({"phones": ["+79161000002"]})).await;
    assert_eq!(erased.expect(StatusCode::OK).json()["exports_withdrawn"], 1);
    let gone = api.get(&format!("/api/v1/exports/{id}/file"), &admin).await.expect(StatusCode::CONFLICT);
    assert!(gone.text().contains("withdrawn"), "{}", gone.text());
    let record = api.get(&format!("/api/v1/exports/{id}"), &admin).await.expect(StatusCode::OK).json();
    assert_eq!(
        (record["downloadable"].as_bool(), record["withdrawn_reason"].as_str()),
        (Some(false), Some("erasure"))
    );
}
