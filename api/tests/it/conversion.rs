//! The conversion report over HTTP: JSON grouped by dimensions with totals, the same as
//! CSV (escaped) and XLSX, the weekday × hour heat map, within a manager's projects only.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::Api;

#[tokio::test]
async fn the_report_groups_totals_and_downloads_within_the_callers_projects() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leads").await;
    let project = api.dial_project(provider, 4).await;
    api.db
        .client()
        .await
        .execute("UPDATE projects SET name = '=Dial' WHERE id = $1", &[&project])
        .await
        .unwrap();
    let at = chrono::Utc::now().to_rfc3339();
    for (call, phone, disposition) in [
        ("c1", "+79161000001", "SALE"),
        ("c2", "+79161000002", "NO ANSWER"),
        ("c3", "+79161000003", "NO ANSWER"),
    ] {
        api.post(
            "/api/v1/outcomes",
            &admin,
            json!({"call_id": call, "phone": phone, "disposition": disposition, "started_at": at}),
        )
        .await
        .expect(StatusCode::OK);
    }
    dialpool_engine::insight::conversion::refresh(&api.db.pool, false).await.unwrap();

    let report =
        api.get("/api/v1/conversion?by=project,provider", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(report["by"], json!(["project", "provider"]));
    assert_eq!(report["rows"][0]["labels"], json!(["=Dial", "leads"]));
    assert_eq!(report["totals"]["dialed"], 3);
    assert_eq!(report["totals"]["success"], 1);
    assert!((report["totals"]["conversion_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert!(report["refreshed_at"].is_string());

    let csv = api.get("/api/v1/conversion?by=project&format=csv", &admin).await.expect(StatusCode::OK);
    let text = csv.text();
    assert!(text.starts_with("project,allocated,exported,leased,dialed"), "{text}");
    assert!(text.contains("'=Dial,"), "a label a spreadsheet would run is escaped: {text}");
    assert!(text.lines().last().unwrap().starts_with("total,"), "{text}");
    let xlsx = api.get("/api/v1/conversion?by=day&format=xlsx", &admin).await.expect(StatusCode::OK);
    assert_eq!(&xlsx.body[..2], b"PK");

    // The three calls started in one hour of one weekday, in the project's zone.
    let (weekday, hour): (f64, f64) = {
        let row = api
            .db
            .client()
            .await
            .query_one(
                "SELECT extract(isodow FROM $1::timestamptz AT TIME ZONE time_zone)::float8,
                        extract(hour FROM $1::timestamptz AT TIME ZONE time_zone)::float8
                   FROM projects WHERE id = $2",
                &[&chrono::DateTime::parse_from_rfc3339(&at).unwrap(), &project],
            )
            .await
            .unwrap();
        (row.get(0), row.get(1))
    };
    let heat = api
        .get(&format!("/api/v1/conversion/hours?project_id={project}"), &admin)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        heat["cells"],
        json!([{"weekday": weekday as i64, "hour": hour as i64, "dialed": 3, "contacted": 1, "success": 1,
                "conversion_rate": 1.0 / 3.0, "contact_rate": 1.0 / 3.0}])
    );
    api.get("/api/v1/conversion/hours?by=day", &admin).await.expect(StatusCode::BAD_REQUEST);
    api.get("/api/v1/conversion?by=hour", &admin).await.expect(StatusCode::UNPROCESSABLE_ENTITY);
    api.get("/api/v1/conversion?format=pdf", &admin).await.expect(StatusCode::UNPROCESSABLE_ENTITY);

    // A manager of another project sees none of it.
    let other = api.manager_of_another_project().await;
    let theirs = api.get("/api/v1/conversion?by=project", &other).await.expect(StatusCode::OK).json();
    assert_eq!(theirs["rows"], json!([]));
    assert_eq!(theirs["totals"]["dialed"], 0);
    let theirs = api.get("/api/v1/conversion/hours", &other).await.expect(StatusCode::OK).json();
    assert_eq!(theirs["cells"], json!([]));
}
