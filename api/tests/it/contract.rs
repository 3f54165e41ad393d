//! The API's answers where the schema fuzzer found server errors: a change the data
//! refuses is a 409 or 422 naming what is at fault, text holding U+0000 is refused at the
//! edge, and a route taking an id answers 404 for one the caller cannot see.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::Api;

#[tokio::test]
async fn deleting_a_status_a_disposition_uses_is_a_conflict_saying_what_uses_it() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let status = api
        .post(
            "/api/v1/statuses",
            &admin,
            json!({"code": "rep500", "name": "r", "category": "retry", "cooldown_s": 60}),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    let id = status["id"].as_i64().unwrap();
    api.request(
        Method::PUT,
        "/api/v1/dispositions",
        &admin,
        Some(json!({"disposition": "REP500", "status_id": id})),
    )
    .await
    .expect(StatusCode::OK);
    let problem = api
        .request(Method::DELETE, &format!("/api/v1/statuses/{id}"), &admin, None)
        .await
        .expect(StatusCode::CONFLICT)
        .json();
    assert!(problem["detail"].as_str().unwrap().contains("disposition map"), "{problem}");
    // Still there, still used.
    api.get("/api/v1/dispositions", &admin).await.expect(StatusCode::OK);
}

#[tokio::test]
async fn text_holding_a_nul_character_is_refused_at_the_edge() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let nul = "A\u{0}B";
    for (method, uri, body) in [
        (Method::PUT, "/api/v1/dispositions", json!({"disposition": nul, "status_id": 1})),
        (Method::POST, "/api/v1/providers", json!({"code": nul, "name": nul})),
        (Method::POST, "/api/v1/dnc", json!({"phone": "+79161234567", "reason": nul})),
    ] {
        let problem = api
            .request(method.clone(), uri, &admin, Some(body))
            .await
            .expect(StatusCode::UNPROCESSABLE_ENTITY)
            .json();
        assert!(problem["detail"].as_str().unwrap().contains("NUL"), "{method} {uri}: {problem}");
    }
    api.get("/api/v1/providers?q=A%00B", &admin).await.expect(StatusCode::UNPROCESSABLE_ENTITY);
    let providers: i64 =
        api.db.client().await.query_one("SELECT count(*) FROM providers", &[]).await.unwrap().get(0);
    assert_eq!(providers, 0);
}

#[tokio::test]
async fn giving_leases_back_to_a_project_the_caller_cannot_see_is_not_found() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leads").await;
    let project = api.dial_project(provider, 2).await;
    let body = json!({"phones": ["+79161000001"]});
    api.post("/api/v1/projects/999999/leases/return", &admin, body.clone())
        .await
        .expect(StatusCode::NOT_FOUND);
    api.post(&format!("/api/v1/projects/{project}/leases/return"), &admin, body).await.expect(StatusCode::OK);
}
