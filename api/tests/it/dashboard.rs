//! The home page's figures over HTTP: today's allocations, leases, calls and successes per
//! project (in its zone) and in total, the exports running, within the caller's projects;
//! the same as a stream of Server-Sent Events.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::Api;

#[tokio::test]
async fn the_dashboard_counts_today_per_project_and_shows_running_work_in_scope() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leads").await;
    let project = api.dial_project(provider, 4).await;
    let client = api.db.client().await;
    // Three numbers allocated and two leased today; one allocated two days ago.
    client
        .execute(
            "INSERT INTO number_events (tenant_id, at, phone, kind, project_id, provider_id)
             SELECT 1, CASE WHEN phone = 79161000004 THEN now() - interval '2 days' ELSE now() END, phone,
                    'allocated'::number_event_kind, project_id, provider_id
               FROM phone_numbers WHERE project_id = $1
             UNION ALL
             SELECT 1, now(), phone, 'leased'::number_event_kind, project_id, provider_id
               FROM phone_numbers WHERE project_id = $1 AND phone <= 79161000002",
            &[&project],
        )
        .await
        .unwrap();
    client
        .execute(
            "INSERT INTO exports (tenant_id, project_id, format, status) VALUES (1, $1, 'csv', 'running')",
            &[&project],
        )
        .await
        .unwrap();
    let now = chrono::Utc::now();
    let earlier = now - chrono::Duration::days(2);
    for (call, phone, disposition, at) in [
        ("c1", "+79161000001", "SALE", now),
        ("c2", "+79161000002", "NO ANSWER", now),
        ("c3", "+79161000003", "SALE", earlier),
    ] {
        api.post(
            "/api/v1/outcomes",
            &admin,
            json!({"call_id": call, "phone": phone, "disposition": disposition, "started_at": at.to_rfc3339()}),
        )
        .await
        .expect(StatusCode::OK);
    }

    let board = api.get("/api/v1/dashboard", &admin).await.expect(StatusCode::OK).json();
    let today: String = client
        .query_one(
            "SELECT (now() AT TIME ZONE time_zone)::date::text FROM projects WHERE id = $1",
            &[&project],
        )
        .await
        .unwrap()
        .get(0);
    let row =
        board["projects"].as_array().unwrap().iter().find(|p| p["project_id"] == project).unwrap().clone();
    assert_eq!(row["day"], today);
    assert_eq!(
        (&row["allocated"], &row["leased"], &row["dialed"], &row["contacted"], &row["success"]),
        (&json!(3), &json!(2), &json!(2), &json!(1), &json!(1)),
        "only today's rows: {row}"
    );
    assert_eq!(row["conversion_rate"], 0.5);
    assert_eq!(row["daily_quota"], 100);
    assert_eq!(board["totals"]["dialed"], 2);
    assert_eq!(board["running_exports"].as_array().unwrap().len(), 1);
    assert_eq!(board["running_exports"][0]["project_id"], project);
    assert_eq!(board["running_imports"], json!([]));

    // A manager of another project sees neither the figures nor the running export.
    let other = api.manager_of_another_project().await;
    let theirs = api.get("/api/v1/dashboard", &other).await.expect(StatusCode::OK).json();
    assert!(theirs["projects"].as_array().unwrap().iter().all(|p| p["project_id"] != project), "{theirs}");
    assert_eq!(theirs["totals"]["dialed"], 0);
    assert_eq!(theirs["running_exports"], json!([]));
    api.request(axum::http::Method::GET, "/api/v1/dashboard", &crate::support::Auth::Anonymous, None)
        .await
        .expect(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_dashboard_stream_sends_the_figures_then_each_change() {
    use axum::body::Body;
    use axum::http::{Request, header};
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leads").await;
    api.dial_project(provider, 2).await;
    let crate::support::Auth::Session { cookie, .. } = &admin else { panic!("the admin signs in") };
    let request =
        Request::get("/api/v1/dashboard/events").header(header::COOKIE, cookie).body(Body::empty()).unwrap();
    let response = api.app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut body = response.into_body();
    // The next `dashboard` event's data, skipping keep-alive comments.
    let mut next_figures = async || -> serde_json::Value {
        loop {
            let frame = body.frame().await.expect("the stream ends only after minutes").unwrap();
            let Ok(data) = frame.into_data() else { continue };
            let text = String::from_utf8(data.to_vec()).unwrap();
            if let Some(json) = text.lines().find_map(|l| l.strip_prefix("data: ")) {
                assert!(text.starts_with("event: dashboard"), "{text}");
                return serde_json::from_str(json).unwrap();
            }
        }
    };
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), next_figures()).await.unwrap();
    assert_eq!(first["totals"]["dialed"], 0);

    api.post(
        "/api/v1/outcomes",
        &admin,
        json!({"call_id": "s1", "phone": "+79161000001", "disposition": "SALE", "started_at": chrono::Utc::now().to_rfc3339()}),
    )
    .await
    .expect(StatusCode::OK);
    let changed = tokio::time::timeout(std::time::Duration::from_secs(20), next_figures()).await.unwrap();
    assert_eq!(changed["totals"]["dialed"], 1, "{changed}");
    assert_eq!(changed["totals"]["success"], 1);
}
