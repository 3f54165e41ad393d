//! The permission matrix, generated from the OpenAPI document so that a new route cannot
//! forget its check: every operation answers 401 to a caller with no credentials, 403 to a
//! token holding no permission (but the few that are about the caller itself), and 404 to
//! another tenant's administrator naming this tenant's ids.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{Api, Auth};

/// Operations anyone signed in may call, whatever their permissions: about themselves.
const SELF_SERVICE: &[(&str, &str)] = &[
    ("get", "/api/v1/me"),
    ("post", "/api/v1/me/password"),
    ("post", "/api/v1/auth/logout"),
    // The names and meanings of the permissions themselves.
    ("get", "/api/v1/permissions"),
];

/// Operations only a platform administrator signed in at a browser may call: 403 to any
/// token, also to one holding every permission.
const PLATFORM: &[&str] = &["/api/v1/tenants", "/api/v1/tenants/{id}"];

fn operations() -> Vec<(String, String)> {
    let doc = serde_json::to_value(dialpool_api::http::openapi()).unwrap();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                ops.push((method.to_owned(), path.clone()));
            }
        }
    }
    assert!(ops.len() > 100, "{} operations", ops.len());
    ops
}

fn method(name: &str) -> Method {
    Method::from_bytes(name.to_uppercase().as_bytes()).unwrap()
}

/// The path with each parameter replaced from `ids` (by the path's first segment after
/// /api/v1 and the parameter's name), or None when the path names something `ids` lacks.
fn fill(path: &str, ids: &[(&str, &str, String)]) -> Option<String> {
    let rest = path.trim_start_matches("/api/v1/");
    let family = if rest.starts_with("webhooks/deliveries/") {
        "webhooks/deliveries"
    } else {
        rest.split('/').next().unwrap_or_default()
    };
    let mut filled = path.to_owned();
    while let Some(start) = filled.find('{') {
        let end = filled[start..].find('}')? + start;
        let name = &filled[start + 1..end];
        let value = ids.iter().find(|(f, n, _)| *f == family && *n == name).map(|(_, _, v)| v.clone())?;
        filled.replace_range(start..=end, &value);
    }
    Some(filled)
}

#[tokio::test]
async fn every_operation_checks_who_calls_what_they_may_do_and_whose_ids_they_name() {
    let api = Api::new().await;
    let admin = api.admin().await;

    // One of everything in this tenant, made the way a user makes it.
    let provider = api.provider(&admin, "leadco").await;
    let project = api.dial_project(provider, 2).await;
    let created = |reply: crate::support::Reply| reply.expect(StatusCode::CREATED).json();
    let id = |value: &Value, key: &str| value[key].as_i64().unwrap().to_string();
    let geo = created(
        api.post(
            "/api/v1/geos",
            &admin,
            json!({"country": "RU", "region": "MOW", "name": "Moscow", "time_zone": "Europe/Moscow"}),
        )
        .await,
    );
    let role = created(
        api.post("/api/v1/roles", &admin, json!({"name": "custom", "permissions": ["numbers.read"]})).await,
    );
    let status = created(
        api.post(
            "/api/v1/statuses",
            &admin,
            json!({"code": "later2", "name": "Later", "category": "retry", "cooldown_s": 60}),
        )
        .await,
    );
    let token = created(
        api.post("/api/v1/tokens", &admin, json!({"name": "nothing", "permissions": ["scope.all"]})).await,
    );
    let no_permission = Auth::Bearer(token["secret"].as_str().unwrap().to_owned());
    let user =
        api.user(api.tenant("default").await, "someone@example.com", "viewer", Default::default()).await;
    let hours = api
        .request(
            Method::PUT,
            "/api/v1/calling-hours",
            &admin,
            Some(json!({"start": "08:00", "end": "20:00"})),
        )
        .await;
    let hours = hours.expect(StatusCode::OK).json();
    let webhook = created(
        api.post(
            "/api/v1/webhooks",
            &admin,
            json!({"url": "https://hooks.example.com/x", "events": ["import.finished"]}),
        )
        .await,
    );
    let remote = created(
        api.post(
            "/api/v1/sftp/remotes",
            &admin,
            json!({"name": "r", "host": "sftp.example.com", "username": "u", "password": "remote password 1",
                   "direction": "push_exports"}),
        )
        .await,
    );
    let started = api
        .upload(&admin, provider, "n.csv", b"phone\n+79161234567\n")
        .await
        .expect(StatusCode::ACCEPTED)
        .json();
    let task = started["task_id"].as_str().unwrap().to_owned();
    let (done, _) = api.wait_for_task(&admin, &task).await;
    let import = done["import_id"].as_i64().unwrap().to_string();
    let export = api
        .post(&format!("/api/v1/projects/{project}/exports"), &admin, json!({}))
        .await
        .expect(StatusCode::ACCEPTED)
        .json();
    let client = api.db.client().await;
    let job: i64 = client.query_one("SELECT max(id) FROM jobs", &[]).await.unwrap().get(0);
    let schedule: i64 = client.query_one("SELECT min(id) FROM schedules", &[]).await.unwrap().get(0);
    let delivery: i64 = client
        .query_one(
            "INSERT INTO webhook_deliveries (tenant_id, subscription_id, event_id, event, payload)
             SELECT tenant_id, id, gen_random_uuid(), 'import.finished', '{}' FROM webhook_subscriptions LIMIT 1
             RETURNING id",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    api.post("/api/v1/dnc", &admin, json!({"phone": "+79161000001"})).await.expect(StatusCode::OK);
    let tenant_id: i64 =
        client.query_one("SELECT id FROM tenants WHERE slug = 'default'", &[]).await.unwrap().get(0);
    let bulk = api
        .post(
            "/api/v1/numbers/bulk",
            &admin,
            json!({"selection": {"phones": ["+79161000002"]}, "action": "set_status", "status": 3}),
        )
        .await
        .expect(StatusCode::OK)
        .json();

    let group = api
        .post("/api/v1/groups", &admin, json!({"name": "household", "attributes": ["address"]}))
        .await
        .expect(StatusCode::CREATED)
        .json();

    let ids: Vec<(&str, &str, String)> = vec![
        ("groups", "id", group["rule"]["id"].as_i64().unwrap().to_string()),
        ("calling-hours", "id", id(&hours, "id")),
        ("dispositions", "disposition", "BUSY".into()),
        ("dnc", "phone", "%2B79161000001".into()),
        ("exports", "id", export["id"].as_i64().map(|i| i.to_string()).unwrap_or_else(|| "0".into())),
        ("geos", "id", id(&geo, "id")),
        ("imports", "task_id", task.clone()),
        ("imports", "id", import),
        ("jobs", "id", job.to_string()),
        ("numbers", "phone", "%2B79161000001".into()),
        ("numbers", "id", bulk["undo_id"].as_i64().expect("an undo id").to_string()),
        ("projects", "id", project.to_string()),
        ("providers", "id", provider.to_string()),
        ("roles", "id", id(&role, "id")),
        ("schedules", "id", schedule.to_string()),
        ("screen-pop", "phone", "%2B79161000001".into()),
        ("sftp", "id", id(&remote, "id")),
        ("statuses", "id", id(&status, "id")),
        ("tenants", "id", tenant_id.to_string()),
        ("tokens", "id", id(&token["token"], "id")),
        ("tombstones", "phone", "%2B79161000001".into()),
        ("subjects", "phone", "%2B79161000001".into()),
        ("users", "id", user.to_string()),
        ("webhooks", "id", id(&webhook, "id")),
        ("webhooks/deliveries", "id", delivery.to_string()),
    ];

    // Another company and its administrator.
    let other = api.other_tenant_admin(&admin).await;

    let mut wrong = Vec::new();
    for (name, path) in operations() {
        if path == "/api/v1/auth/login" {
            continue;
        }
        let Some(uri) = fill(&path, &ids) else {
            wrong.push(format!("{name} {path}: the matrix has no id for it; add one above"));
            continue;
        };
        let body = if name == "get" || name == "delete" { None } else { Some(json!({})) };
        let anonymous = api.request(method(&name), &uri, &Auth::Anonymous, body.clone()).await;
        if anonymous.status != StatusCode::UNAUTHORIZED {
            wrong.push(format!("{name} {uri} as no one: {}", anonymous.status));
        }
        let lacking = api.request(method(&name), &uri, &no_permission, body.clone()).await;
        let self_service = SELF_SERVICE.iter().any(|(m, p)| *m == name && *p == path);
        if !self_service && lacking.status != StatusCode::FORBIDDEN {
            wrong.push(format!("{name} {uri} with no permission: {} {}", lacking.status, lacking.text()));
        }
        // Another tenant's administrator, naming this tenant's ids: not found. (A body the
        // route would refuse may be refused first; never may it succeed.)
        if path.contains('{')
            && !PLATFORM.contains(&path.as_str())
            && !path.ends_with("/explain")
            // Subject access answers for any number: "nothing held" is itself the answer.
            && !path.starts_with("/api/v1/subjects/")
            && !path.starts_with("/api/v1/dispositions")
        {
            let reply = api.request(method(&name), &uri, &other, body.clone()).await;
            let refused_first = body.is_some()
                && [StatusCode::BAD_REQUEST, StatusCode::UNPROCESSABLE_ENTITY].contains(&reply.status);
            if reply.status != StatusCode::NOT_FOUND && !refused_first {
                wrong.push(format!("{name} {uri} as another tenant: {} {}", reply.status, reply.text()));
            }
        }
    }
    assert!(wrong.is_empty(), "{} operations break the matrix:\n{}", wrong.len(), wrong.join("\n"));
}
