use axum::body::Body;
use axum::http::{Request, StatusCode};
use dialpool_api::http::{AppState, HttpConfig, router};
use dialpool_engine::testkit::TestDb;
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn get(app: axum::Router, uri: &str) -> (StatusCode, serde_json::Value) {
    let response = app.oneshot(Request::get(uri).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&body).unwrap())
}

#[tokio::test]
async fn health_says_ok_and_readiness_checks_the_schema() {
    let db = TestDb::new().await;
    let app = router(AppState::new(db.pool.clone(), HttpConfig::default()));
    assert_eq!(get(app.clone(), "/healthz").await, (StatusCode::OK, serde_json::json!({"status": "ok"})));
    assert_eq!(get(app.clone(), "/readyz").await.0, StatusCode::OK);

    db.client().await.batch_execute("DELETE FROM schema_migrations WHERE version = 3").await.unwrap();
    let (status, body) = get(app, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "migrations pending");
}
