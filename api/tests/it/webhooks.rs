//! Webhooks end to end: a real HTTP receiver on loopback, subscribers managed through the
//! API, deliveries written with the change they report, signed, retried, logged.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, Method, StatusCode};
use dialpool_jobs::webhooks::{Sender, SenderConfig, verify};
use serde_json::{Value, json};

use crate::support::{Api, Auth};

#[derive(Clone, Default)]
struct Receiver {
    /// (headers, body) of every request, in arrival order.
    seen: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    /// Statuses to answer with, one per request; 200 when empty.
    answers: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start() -> (Receiver, String) {
        let receiver = Receiver::default();
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    state.seen.lock().unwrap().push((headers, body));
                    let status = state.answers.lock().unwrap().pop_front().unwrap_or(200);
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (receiver, url)
    }

    fn answer(&self, statuses: &[u16]) {
        self.answers.lock().unwrap().extend(statuses);
    }

    /// (headers, parsed body, raw body) of what arrived since the last call.
    fn take(&self) -> Vec<(HeaderMap, Value, String)> {
        self.seen
            .lock()
            .unwrap()
            .drain(..)
            .map(|(headers, raw)| {
                let json = serde_json::from_str(&raw).unwrap();
                (headers, json, raw)
            })
            .collect()
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).unwrap_or_else(|| panic!("no {name} header")).to_str().unwrap()
}

fn sender(api: &Api, allow_private: bool, max_attempts: i32) -> Sender {
    let config = SenderConfig {
        allow_private,
        retry_base: Duration::ZERO,
        max_attempts,
        timeout: Duration::from_secs(5),
        ..SenderConfig::default()
    };
    Sender::new(api.db.pool.clone(), config).unwrap()
}

#[tokio::test]
async fn status_changes_reach_the_subscriber_signed_and_retried_until_it_answers() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leads").await;
    let project = api.dial_project(provider, 2).await;
    let (receiver, url) = Receiver::start().await;

    for (input, field) in [
        (json!({"url": "ftp://example.com/x", "events": ["ping"]}), "url"),
        (json!({"url": url, "events": []}), "events"),
        (json!({"url": url, "events": ["number.deleted"]}), "events"),
    ] {
        let reply =
            api.post("/api/v1/webhooks", &admin, input).await.expect(StatusCode::UNPROCESSABLE_ENTITY);
        assert!(reply.text().contains(field), "{}", reply.text());
    }
    let created = api
        .post(
            "/api/v1/webhooks",
            &admin,
            json!({"url": url, "description": "CRM", "events": ["number.status_changed", "import.finished"]}),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    let hook = created["id"].as_i64().unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{created}");
    let listed = api.get("/api/v1/webhooks", &admin).await.expect(StatusCode::OK).json();
    assert!(!listed.to_string().contains(&secret), "the secret is shown once only: {listed}");

    let token = api
        .post("/api/v1/tokens", &admin, json!({"name": "dialer", "permissions": ["calls.work", "scope.all"]}))
        .await
        .expect(StatusCode::CREATED)
        .json();
    let dialer = Auth::Bearer(token["secret"].as_str().unwrap().to_owned());
    api.get("/api/v1/webhooks", &dialer).await.expect(StatusCode::FORBIDDEN);

    // One call moves a number new → no_answer; posting it again changes nothing.
    let outcome = json!({"call_id": "w-1", "phone": "+79161000001", "project_id": project, "disposition": "NO ANSWER",
                         "started_at": "2026-11-20T10:00:00Z"});
    api.post("/api/v1/outcomes", &dialer, outcome.clone()).await.expect(StatusCode::OK);
    api.post("/api/v1/outcomes", &dialer, outcome).await.expect(StatusCode::OK);

    // The receiver fails twice, then takes it.
    receiver.answer(&[500, 503]);
    let sender = sender(&api, true, 8);
    for _ in 0..3 {
        assert_eq!(sender.round().await.unwrap(), 1);
    }
    assert_eq!(sender.round().await.unwrap(), 0, "nothing left to send");
    let seen = receiver.take();
    assert_eq!(seen.len(), 3);
    let (headers, body, raw) = &seen[2];
    assert_eq!(header(headers, "dialpool-event"), "number.status_changed");
    assert_eq!(header(headers, "dialpool-attempt"), "3");
    assert_eq!(seen[0].1["id"], body["id"], "every try carries the same event id");
    let now = chrono::Utc::now().timestamp();
    let signature = header(headers, "dialpool-signature");
    // Receivers verify the bytes as they arrived, before parsing.
    assert!(verify(&secret, signature, raw.as_bytes(), now, 300), "{signature}");
    assert!(!verify("whsec_wrong", signature, raw.as_bytes(), now, 300));
    let changes = body["data"]["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{body}");
    assert_eq!(
        (&changes[0]["phone"], &changes[0]["from"], &changes[0]["to"], &changes[0]["call_id"]),
        (&json!("+79161000001"), &json!("new"), &json!("no_answer"), &json!("w-1"))
    );

    let log =
        api.get(&format!("/api/v1/webhooks/{hook}/deliveries"), &admin).await.expect(StatusCode::OK).json();
    let delivery = &log["items"][0];
    assert_eq!((&delivery["status"], &delivery["attempts"]), (&json!("succeeded"), &json!(3)), "{log}");
    let detail = api
        .get(&format!("/api/v1/webhooks/deliveries/{}", delivery["id"]), &admin)
        .await
        .expect(StatusCode::OK)
        .json();
    let statuses: Vec<&Value> = detail["tries"].as_array().unwrap().iter().map(|t| &t["status"]).collect();
    assert_eq!(statuses, [&json!(500), &json!(503), &json!(200)], "{detail}");

    // An import that ends announces itself with its counts.
    let reply = api.upload(&admin, provider, "more.csv", b"phone\n+79161000100\n+79161000101\nbad\n").await;
    let task = reply.expect(StatusCode::ACCEPTED).json();
    api.wait_for_task(&admin, task["task_id"].as_str().unwrap()).await;
    assert_eq!(sender.round().await.unwrap(), 1);
    let seen = receiver.take();
    assert_eq!(seen[0].1["type"], "import.finished");
    assert_eq!(
        (
            &seen[0].1["data"]["status"],
            &seen[0].1["data"]["counts"]["inserted"],
            &seen[0].1["data"]["counts"]["invalid"]
        ),
        (&json!("succeeded"), &json!(2), &json!(1)),
        "{}",
        seen[0].1
    );

    // A new secret signs from now on; the old one no longer verifies.
    let rotated = api
        .post(&format!("/api/v1/webhooks/{hook}/rotate-secret"), &admin, json!({}))
        .await
        .expect(StatusCode::OK);
    let new_secret = rotated.json()["secret"].as_str().unwrap().to_owned();
    api.post(&format!("/api/v1/webhooks/{hook}/ping"), &admin, json!({})).await.expect(StatusCode::ACCEPTED);
    assert_eq!(sender.round().await.unwrap(), 1);
    let (headers, body, raw) = receiver.take().pop().unwrap();
    assert_eq!(body["type"], "ping");
    assert!(verify(&new_secret, header(&headers, "dialpool-signature"), raw.as_bytes(), now, 300));
    assert!(!verify(&secret, header(&headers, "dialpool-signature"), raw.as_bytes(), now, 300));

    let audit = api.get("/api/v1/audit?entity=webhook", &admin).await.expect(StatusCode::OK).json();
    let actions: Vec<&str> =
        audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"webhook.create") && actions.contains(&"webhook.rotate_secret"), "{actions:?}");
}

#[tokio::test]
async fn a_failing_receiver_is_given_up_on_and_can_be_sent_again() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let (receiver, url) = Receiver::start().await;
    let hook = api
        .post("/api/v1/webhooks", &admin, json!({"url": url, "events": ["import.finished"]}))
        .await
        .expect(StatusCode::CREATED)
        .json()["id"]
        .as_i64()
        .unwrap();
    api.post(&format!("/api/v1/webhooks/{hook}/ping"), &admin, json!({})).await.expect(StatusCode::ACCEPTED);

    receiver.answer(&[500, 500]);
    let sender = sender(&api, true, 2);
    sender.round().await.unwrap();
    sender.round().await.unwrap();
    assert_eq!(sender.round().await.unwrap(), 0, "a dead delivery is not tried again by itself");
    let log = api
        .get(&format!("/api/v1/webhooks/{hook}/deliveries?status=dead"), &admin)
        .await
        .expect(StatusCode::OK);
    let dead = log.json()["items"][0].clone();
    assert_eq!((&dead["attempts"], &dead["last_status"]), (&json!(2), &json!(500)), "{dead}");
    let hooks = api.get("/api/v1/webhooks", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(hooks[0]["dead"], 1);

    let again = api
        .post(&format!("/api/v1/webhooks/deliveries/{}/redeliver", dead["id"]), &admin, json!({}))
        .await
        .expect(StatusCode::ACCEPTED)
        .json();
    assert_eq!(again["status"], "pending");
    // Sent again, it has a fresh set of tries: one failure does not give it up.
    receiver.answer(&[500]);
    assert_eq!(sender.round().await.unwrap(), 1);
    assert_eq!(sender.round().await.unwrap(), 1);
    assert_eq!(receiver.take().len(), 4);
    let detail = api
        .get(&format!("/api/v1/webhooks/deliveries/{}", dead["id"]), &admin)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!((&detail["status"], &detail["attempts"]), (&json!("succeeded"), &json!(4)), "{detail}");
    assert_eq!(detail["tries"].as_array().unwrap().len(), 4, "every try stays in the log");

    // A paused subscriber's deliveries wait; they go out when it is active again.
    api.request(
        Method::PUT,
        &format!("/api/v1/webhooks/{hook}"),
        &admin,
        Some(json!({"url": url, "events": ["import.finished"], "active": false})),
    )
    .await
    .expect(StatusCode::OK);
    let client = api.db.client().await;
    let tenant = api.tenant("default").await;
    dialpool_engine::platform::webhook::enqueue(
        &**client,
        tenant,
        "import.finished",
        &json!({"import_id": 1}),
    )
    .await
    .unwrap();
    assert_eq!(sender.round().await.unwrap(), 0);
}

#[tokio::test]
async fn receivers_on_private_addresses_are_refused_unless_allowed() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let (receiver, url) = Receiver::start().await;
    let hook = api
        .post("/api/v1/webhooks", &admin, json!({"url": url, "events": ["ping"]}))
        .await
        .expect(StatusCode::CREATED)
        .json()["id"]
        .as_i64()
        .unwrap();
    // By name too: localhost resolves to loopback, which the resolver drops.
    let by_name = url.replace("127.0.0.1", "localhost");
    api.request(
        Method::PUT,
        &format!("/api/v1/webhooks/{hook}"),
        &admin,
        Some(json!({"url": by_name, "events": ["ping"]})),
    )
    .await
    .expect(StatusCode::OK);
    api.post(&format!("/api/v1/webhooks/{hook}/ping"), &admin, json!({})).await.expect(StatusCode::ACCEPTED);
    let guarded = sender(&api, false, 8);
    assert_eq!(guarded.round().await.unwrap(), 1);
    assert!(receiver.take().is_empty(), "nothing reached the loopback receiver");
    let log =
        api.get(&format!("/api/v1/webhooks/{hook}/deliveries"), &admin).await.expect(StatusCode::OK).json();
    let error = log["items"][0]["last_error"].as_str().unwrap();
    assert!(error.contains("loopback, private or link-local"), "{error}");
}
