//! A dialer through the HTTP API with an API token: lease, screen pop, outcomes posted
//! twice, giving leases back; permissions and calling hours.

use axum::http::{Method, StatusCode};
use serde_json::json;

use dialpool_engine::platform::access::Scopes;

use crate::support::{Api, Auth};

#[tokio::test]
async fn a_dialer_token_leases_looks_up_and_posts_outcomes_once() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leads").await;
    let project = api.dial_project(provider, 3).await;
    let token = api
        .post("/api/v1/tokens", &admin, json!({"name": "dialer", "permissions": ["calls.work", "scope.all"]}))
        .await
        .expect(StatusCode::CREATED)
        .json();
    let dialer = Auth::Bearer(token["secret"].as_str().unwrap().to_owned());

    let lease = api
        .post(&format!("/api/v1/projects/{project}/leases"), &dialer, json!({"count": 2, "lease_s": 60}))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(lease["numbers"].as_array().unwrap().len(), 2, "{lease}");
    assert_eq!(lease["numbers"][0]["attributes"]["name"], "Person 1");
    let phone = lease["numbers"][0]["phone"].as_str().unwrap().to_owned();

    let pop = api
        .get(&format!("/api/v1/screen-pop/{}", phone.replace('+', "%2B")), &dialer)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!((pop["status"].clone(), pop["project_id"].clone()), (json!("new"), json!(project)));
    let national =
        api.get("/api/v1/screen-pop/89161000002?region=RU", &dialer).await.expect(StatusCode::OK).json();
    assert_eq!(national["phone"], "+79161000002");

    // The server leases by its own clock, so the call is dated by it too: its 4-hour
    // cool-down must still hold when the next lease is asked for below.
    let started_at = chrono::Utc::now().to_rfc3339();
    let outcome = json!({"call_id": "a-1", "phone": phone, "disposition": "NO ANSWER",
                         "started_at": started_at, "duration_s": 0, "agent": "anna"});
    let first = api.post("/api/v1/outcomes", &dialer, outcome.clone()).await.expect(StatusCode::OK).json();
    assert_eq!(
        (first["duplicate"].clone(), first["status_to"].clone(), first["attempts"].clone()),
        (json!(false), json!("no_answer"), json!(1))
    );
    let second = api.post("/api/v1/outcomes", &dialer, outcome).await.expect(StatusCode::OK).json();
    assert_eq!((second["duplicate"].clone(), second["attempts"].clone()), (json!(true), json!(1)));
    let pop = api
        .get(&format!("/api/v1/screen-pop/{}", phone.replace('+', "%2B")), &dialer)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(pop["last_calls"][0]["call_id"], "a-1");

    let unknown = json!({"call_id": "a-2", "phone": phone, "disposition": "MAYBE", "started_at": started_at});
    let problem =
        api.post("/api/v1/outcomes", &dialer, unknown).await.expect(StatusCode::UNPROCESSABLE_ENTITY).json();
    assert!(problem["detail"].as_str().unwrap().contains("MAYBE"), "{problem}");

    let other = lease["numbers"][1]["phone"].as_str().unwrap();
    let returned = api
        .post(&format!("/api/v1/projects/{project}/leases/return"), &dialer, json!({"phones": [other]}))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(returned["returned"], 1);
    let next = api
        .post(&format!("/api/v1/projects/{project}/leases"), &dialer, json!({"count": 5}))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        next["numbers"].as_array().unwrap().len(),
        2,
        "the returned one and the third; the called one cools down"
    );

    // The token cannot do what it was not given; nor reach another tenant's project.
    api.get("/api/v1/numbers", &dialer).await.expect(StatusCode::FORBIDDEN);
    api.post("/api/v1/projects/999999/leases", &dialer, json!({})).await.expect(StatusCode::NOT_FOUND);
    api.request(
        Method::PUT,
        "/api/v1/calling-hours",
        &dialer,
        Some(json!({"start": "08:00", "end": "20:00"})),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    let set = api
        .request(
            Method::PUT,
            "/api/v1/calling-hours",
            &admin,
            Some(json!({"start": "09:00", "end": "24:00", "max_calls_24h": 3})),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!((set["start"].clone(), set["end"].clone()), (json!("09:00"), json!("24:00")));
    let bad = api
        .request(
            Method::PUT,
            "/api/v1/calling-hours",
            &admin,
            Some(json!({"start": "21:00", "end": "08:00"})),
        )
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY)
        .json();
    assert!(bad["detail"].as_str().unwrap().contains("ends before it starts"), "{bad}");
}

#[tokio::test]
async fn outcome_files_upload_through_the_api_within_the_callers_scope() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leads").await;
    let project = api.dial_project(provider, 3).await;
    // A number no project of the manager's holds.
    api.db
        .client()
        .await
        .execute(
            "INSERT INTO phone_numbers (tenant_id, phone, provider_id, import_id, last_import_id)
             SELECT tenant_id, 79169999999, $1, 0, 0 FROM providers WHERE id = $1",
            &[&provider],
        )
        .await
        .unwrap();
    let tenant = api.tenant("default").await;
    api.user(tenant, "manager@example.com", "manager", Scopes { providers: vec![], projects: vec![project] })
        .await;
    let manager = api.sign_in("manager@example.com").await;

    let file = "phone,call_id,disposition,at,agent\n\
                +79161000001,f-1,SALE,2026-11-20T10:00:00Z,anna\n\
                +79161000002,f-2,BUSY,2026-11-20T10:05:00Z,anna\n\
                +79169999999,f-3,BUSY,2026-11-20T10:06:00Z,anna\n\
                +79161000003,f-4,SALE,not a time,anna\n";
    let upload = |auth: &Auth, format: &str| {
        let auth = auth.clone();
        let format = format.to_owned();
        let api = &api;
        async move {
            api.upload_form(
                "/api/v1/outcomes/files",
                &auth,
                &[("format", &format)],
                "calls.csv",
                file.as_bytes(),
            )
            .await
        }
    };
    let summary = upload(&manager, "csv").await.expect(StatusCode::OK).json();
    assert_eq!(
        (&summary["file"], &summary["received"], &summary["applied"], &summary["rejected"]),
        (&json!("calls.csv"), &json!(4), &json!(2), &json!(2)),
        "{summary}"
    );
    let reasons: Vec<(i64, &str)> = summary["rejections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_i64().unwrap(), r["field"].as_str().unwrap()))
        .collect();
    assert_eq!(reasons, [(4, "phone"), (5, "at")], "{summary}");
    assert!(summary.to_string().contains("not in a project of your scope"), "{summary}");
    let again = upload(&manager, "csv").await.expect(StatusCode::OK).json();
    assert_eq!((&again["applied"], &again["duplicates"]), (&json!(0), &json!(2)), "the same file twice");

    let bad = upload(&manager, "excel").await.expect(StatusCode::UNPROCESSABLE_ENTITY).json();
    assert!(bad["detail"].as_str().unwrap().contains("asterisk, vicidial or csv"), "{bad}");
    let leftovers =
        std::fs::read_dir(api.data_dir.join("uploads").join(tenant.0.to_string())).unwrap().count();
    assert_eq!(leftovers, 0, "uploaded outcome files are removed once applied");
}
