//! Provider scorecards, prices and returns over the API: a priced upload shows in the
//! scorecard as JSON, CSV and XLSX; a scoped manager is refused; return rules and a
//! return batch answer only for this tenant's providers.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::Api;

#[tokio::test]
async fn a_priced_batch_shows_in_the_scorecard_and_bad_numbers_go_back_once() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leadco").await;
    let started = api
        .upload(&admin, provider, "leads.csv", b"phone\n+79161234567\n+79031112233\n+79031112233\nnope\n")
        .await
        .expect(StatusCode::ACCEPTED)
        .json();
    let (done, _) = api.wait_for_task(&admin, started["task_id"].as_str().unwrap()).await;
    let import = done["import_id"].as_i64().unwrap();
    let priced = api
        .request(
            Method::PUT,
            &format!("/api/v1/imports/{import}/price"),
            &admin,
            Some(json!({"price_per_number": 0.5})),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(priced["price_per_number"], 0.5);
    api.request(
        Method::PUT,
        &format!("/api/v1/imports/{import}/price"),
        &admin,
        Some(json!({"price_batch": -1})),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);

    let card = api.get("/api/v1/providers/scorecard", &admin).await.expect(StatusCode::OK).json();
    let row = &card["rows"][0];
    assert_eq!((row["delivered"].as_i64(), row["valid"].as_i64()), (Some(4), Some(2)), "{card}");
    assert_eq!((row["duplicate_in_file"].as_i64(), row["invalid"].as_i64()), (Some(1), Some(1)), "{card}");
    assert_eq!(row["cost"], 2.0);
    let csv = api.get("/api/v1/providers/scorecard?format=csv&by=batch", &admin).await.expect(StatusCode::OK);
    assert!(csv.text().contains("leads.csv"), "{}", csv.text());
    let xlsx = api.get("/api/v1/providers/scorecard?format=xlsx", &admin).await.expect(StatusCode::OK);
    assert!(xlsx.content_type().contains("spreadsheetml"));
    api.get("/api/v1/providers/scorecard?by=colour", &admin).await.expect(StatusCode::UNPROCESSABLE_ENTITY);
    // Blocks: a prefix needs by=block, and is digits.
    api.get("/api/v1/providers/scorecard?by=block&digits=5&prefix=%2B7%20903", &admin)
        .await
        .expect(StatusCode::OK);
    for bad in ["by=provider&prefix=7903", "by=block&prefix=79x", "by=block&digits=9"] {
        api.get(&format!("/api/v1/providers/scorecard?{bad}"), &admin)
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY);
    }
    // Another project's manager does not see the whole tenant's figures.
    let manager = api.manager_of_another_project().await;
    api.get("/api/v1/providers/scorecard", &manager).await.expect(StatusCode::FORBIDDEN);

    // Returns: rules first, then a batch; the second batch finds nothing.
    let uri = format!("/api/v1/providers/{provider}/returns");
    api.post("/api/v1/returns", &admin, json!({"provider_id": provider})).await.expect(StatusCode::CONFLICT);
    api.request(
        Method::PUT,
        &uri,
        &admin,
        Some(json!({"rules": {"window_days": 30, "statuses": [], "refused": ["late"]}})),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
    let rules = api
        .request(
            Method::PUT,
            &uri,
            &admin,
            Some(json!({"rules": {"window_days": 30, "statuses": ["invalid"], "refused": ["dnc_at_delivery"]}})),
        )
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(rules["rules"]["refused"], json!(["dnc_at_delivery"]), "{rules}");
    let client = api.db.client().await;
    client.execute("UPDATE phone_numbers SET status = 7 WHERE phone = 79031112233", &[]).await.unwrap();
    let dry = api.post("/api/v1/returns", &admin, json!({"provider_id": provider, "dry_run": true})).await;
    assert_eq!(dry.expect(StatusCode::OK).json()["numbers"], 1);
    let made = api
        .post("/api/v1/returns", &admin, json!({"provider_id": provider, "format": "xlsx"}))
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!((made["numbers"].as_i64(), made["credit"].as_f64()), (Some(1), Some(0.5)), "{made}");
    let again =
        api.post("/api/v1/returns", &admin, json!({"provider_id": provider})).await.expect(StatusCode::OK);
    assert_eq!(again.json()["numbers"], 0);
    let list = api.get("/api/v1/returns", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let card = api.get("/api/v1/providers/scorecard", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(card["rows"][0]["returned"], 1);

    // Another tenant's administrator: this provider is not theirs.
    let other = api.other_tenant_admin(&admin).await;
    api.get(&uri, &other).await.expect(StatusCode::NOT_FOUND);
    api.post("/api/v1/returns", &other, json!({"provider_id": provider})).await.expect(StatusCode::NOT_FOUND);
    let theirs = api.get("/api/v1/returns", &other).await.expect(StatusCode::OK).json();
    assert_eq!(theirs.as_array().unwrap().len(), 0);
    let their_card = api.get("/api/v1/providers/scorecard", &other).await.expect(StatusCode::OK).json();
    assert_eq!(their_card["rows"].as_array().unwrap().len(), 0, "{their_card}");
    assert_eq!(their_card["tenant"]["delivered"], 0);
    api.request(
        Method::PUT,
        &format!("/api/v1/imports/{import}/price"),
        &other,
        Some(json!({"price_batch": 1})),
    )
    .await
    .expect(StatusCode::NOT_FOUND);
}
