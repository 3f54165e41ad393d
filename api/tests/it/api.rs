//! The HTTP API on a real PostgreSQL: authentication, permissions, tenant isolation,
//! manager scopes, problem+json errors, imports with progress, the audit log.

use axum::http::{Method, StatusCode, header};
use dialpool_engine::platform::access::Scopes;
use serde_json::{Value, json};

use crate::support::{Api, Auth, PASSWORD};

/// Every operation of the OpenAPI document, with its path parameters filled in.
fn operations() -> Vec<(Method, String)> {
    let doc = serde_json::to_value(dialpool_api::http::openapi()).unwrap();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                let uri = path.replace("{id}", "1").replace("{task_id}", "missing");
                out.push((Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(), uri));
            }
        }
    }
    assert!(out.len() > 30, "the document lists {} operations", out.len());
    out
}

/// Routes that only need a signed-in caller, not a permission.
const OPEN_TO_ANY_CALLER: &[&str] =
    &["/api/v1/me", "/api/v1/me/password", "/api/v1/auth/logout", "/api/v1/permissions"];

#[tokio::test]
async fn every_route_refuses_an_anonymous_caller() {
    let api = Api::new().await;
    for (method, uri) in operations() {
        if uri == "/api/v1/auth/login" {
            continue;
        }
        let reply = api.request(method.clone(), &uri, &Auth::Anonymous, Some(json!({}))).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {uri}: {}", reply.text());
        assert_eq!(reply.content_type(), "application/problem+json");
    }
}

#[tokio::test]
async fn every_route_refuses_a_caller_without_the_permission() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let role = api.post("/api/v1/roles", &admin, json!({"name": "nothing", "permissions": []})).await;
    let role = role.expect(StatusCode::CREATED).json()["id"].as_i64().unwrap();
    let tenant = api.tenant("default").await;
    let user = api.user(tenant, "nobody@example.com", "viewer", Scopes::default()).await;
    api.request(Method::PATCH, &format!("/api/v1/users/{user}"), &admin, Some(json!({"role_id": role})))
        .await
        .expect(StatusCode::OK);
    let nobody = api.sign_in("nobody@example.com").await;
    for (method, uri) in operations() {
        if uri == "/api/v1/auth/login" || OPEN_TO_ANY_CALLER.contains(&uri.as_str()) {
            continue;
        }
        let reply = api.request(method.clone(), &uri, &nobody, Some(json!({}))).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{method} {uri}: {}", reply.text());
        assert_eq!(reply.json()["code"], "forbidden");
    }
}

#[tokio::test]
async fn a_caller_of_another_tenant_gets_not_found_for_this_tenants_ids() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leadco").await;
    let role =
        api.post("/api/v1/roles", &admin, json!({"name": "custom", "permissions": ["numbers.read"]})).await;
    let role = role.expect(StatusCode::CREATED).json()["id"].as_i64().unwrap();
    let geo = api
        .post(
            "/api/v1/geos",
            &admin,
            json!({"country": "RU", "region": "MOW", "name": "Moscow", "time_zone": "Europe/Moscow"}),
        )
        .await
        .expect(StatusCode::CREATED)
        .json()["id"]
        .as_i64()
        .unwrap();
    let token =
        api.post("/api/v1/tokens", &admin, json!({"name": "dialer", "permissions": ["numbers.read"]})).await;
    let token = token.expect(StatusCode::CREATED).json()["token"]["id"].as_i64().unwrap();
    let started = api
        .upload(&admin, provider, "numbers.csv", b"phone\n+79161234567\nbad\n")
        .await
        .expect(StatusCode::ACCEPTED);
    let (done, _) = api.wait_for_task(&admin, started.json()["task_id"].as_str().unwrap()).await;
    let import = done["import_id"].as_i64().unwrap();
    let admin_id = api.get("/api/v1/me", &admin).await.json()["user_id"].as_i64().unwrap();
    api.db
        .client()
        .await
        .execute("UPDATE users SET is_platform_admin = true WHERE id = $1", &[&admin_id])
        .await
        .unwrap();

    // The platform administrator (this tenant's admin) creates a second company.
    api.post(
        "/api/v1/tenants",
        &admin,
        json!({"slug": "other", "name": "Other Co", "admin_email": "boss@other.example", "admin_password": PASSWORD}),
    )
    .await
    .expect(StatusCode::CREATED);
    let client = api.db.client().await;
    client
        .execute("UPDATE users SET password_must_change = false WHERE email = 'boss@other.example'", &[])
        .await
        .unwrap();
    let other = api.sign_in("boss@other.example").await;

    let reads = [
        format!("/api/v1/providers/{provider}"),
        format!("/api/v1/roles/{role}"),
        format!("/api/v1/users/{admin_id}"),
        format!("/api/v1/geos/{geo}"),
        format!("/api/v1/imports/{import}"),
        format!("/api/v1/imports/{import}/rejects"),
        format!("/api/v1/imports/tasks/{}", started.json()["task_id"].as_str().unwrap()),
    ];
    for uri in &reads {
        let reply = api.get(uri, &other).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "GET {uri}: {}", reply.text());
    }
    let writes = [
        (Method::PUT, format!("/api/v1/providers/{provider}"), json!({"name": "mine now"})),
        (Method::PUT, format!("/api/v1/roles/{role}"), json!({"name": "mine", "permissions": []})),
        (Method::DELETE, format!("/api/v1/roles/{role}"), json!({})),
        (Method::PATCH, format!("/api/v1/users/{admin_id}"), json!({"disabled": true})),
        (Method::PATCH, format!("/api/v1/geos/{geo}"), json!({"name": "mine"})),
        (Method::DELETE, format!("/api/v1/geos/{geo}"), json!({})),
        (Method::DELETE, format!("/api/v1/tokens/{token}"), json!({})),
    ];
    for (method, uri, body) in writes {
        let reply = api.request(method.clone(), &uri, &other, Some(body)).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method} {uri}: {}", reply.text());
    }
    // Lists of the other tenant hold none of this tenant's rows.
    let providers = api.get("/api/v1/providers", &other).await.expect(StatusCode::OK).json();
    assert_eq!(providers["items"], json!([]));
    let numbers = api.get("/api/v1/numbers", &other).await.expect(StatusCode::OK).json();
    assert_eq!(numbers["items"], json!([]));
    let audit = api.get("/api/v1/audit?limit=500", &other).await.expect(StatusCode::OK).json();
    assert!(audit["items"].as_array().unwrap().iter().all(|e| e["entity_id"] != json!(provider.to_string())));
    // Nothing of this tenant changed.
    let name: String =
        client.query_one("SELECT name FROM providers WHERE id = $1", &[&provider]).await.unwrap().get(0);
    assert_eq!(name, "Provider leadco");
    // And the other tenant's admin is no platform administrator.
    api.get("/api/v1/tenants", &other).await.expect(StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_manager_never_sees_a_provider_outside_the_scope() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let mine = api.provider(&admin, "mine").await;
    let theirs = api.provider(&admin, "theirs").await;
    for (provider, phone) in [(mine, "+79161111111"), (theirs, "+79162222222")] {
        let started = api.upload(&admin, provider, "n.csv", format!("phone\n{phone}\n").as_bytes()).await;
        api.wait_for_task(&admin, started.expect(StatusCode::ACCEPTED).json()["task_id"].as_str().unwrap())
            .await;
    }
    let tenant = api.tenant("default").await;
    api.user(tenant, "manager@example.com", "manager", Scopes { providers: vec![mine], projects: vec![] })
        .await;
    let manager = api.sign_in("manager@example.com").await;

    let providers = api.get("/api/v1/providers", &manager).await.expect(StatusCode::OK).json();
    let codes: Vec<&str> =
        providers["items"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["mine"]);
    api.get(&format!("/api/v1/providers/{theirs}"), &manager).await.expect(StatusCode::NOT_FOUND);
    api.get(&format!("/api/v1/providers/{mine}"), &manager).await.expect(StatusCode::OK);

    let numbers = api.get("/api/v1/numbers", &manager).await.expect(StatusCode::OK).json();
    let phones: Vec<&str> =
        numbers["items"].as_array().unwrap().iter().map(|n| n["phone"].as_str().unwrap()).collect();
    assert_eq!(phones, ["+79161111111"]);
    let filtered =
        api.get(&format!("/api/v1/numbers?provider_id={theirs}"), &manager).await.expect(StatusCode::OK);
    assert_eq!(filtered.json()["items"], json!([]));

    let imports = api.get("/api/v1/imports", &manager).await.expect(StatusCode::OK).json();
    assert!(imports["items"].as_array().unwrap().iter().all(|i| i["provider_id"] == json!(mine)));
    assert_eq!(imports["items"].as_array().unwrap().len(), 1);
    let tasks = api.get("/api/v1/imports/tasks", &manager).await.expect(StatusCode::OK).json();
    assert!(tasks.as_array().unwrap().iter().all(|t| t["provider_id"] == json!(mine)));

    api.upload(&manager, theirs, "n.csv", b"phone\n+79163333333\n").await.expect(StatusCode::NOT_FOUND);
    let started =
        api.upload(&manager, mine, "n.csv", b"phone\n+79164444444\n").await.expect(StatusCode::ACCEPTED);
    let (done, _) = api.wait_for_task(&manager, started.json()["task_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded");
}

#[tokio::test]
async fn malformed_json_wrong_types_and_unknown_fields_are_problem_details() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let Auth::Session { cookie, csrf } = &admin else { unreachable!() };
    let raw = |body: &'static str| {
        axum::http::Request::post("/api/v1/providers")
            .header(header::COOKIE, cookie)
            .header("x-csrf-token", csrf)
            .header(header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    for (body, status, needle) in [
        ("{\"code\": \"x\", ", StatusCode::BAD_REQUEST, "EOF"),
        ("{\"code\": \"x\", \"name\": 5}", StatusCode::UNPROCESSABLE_ENTITY, "invalid type"),
        (
            "{\"code\": \"x\", \"name\": \"X\", \"colour\": \"red\"}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "unknown field `colour`",
        ),
        ("{\"code\": \"bad code!\", \"name\": \"X\"}", StatusCode::UNPROCESSABLE_ENTITY, "code"),
        (
            "{\"code\": \"ok\", \"name\": \"X\", \"default_region\": \"XX\"}",
            StatusCode::UNPROCESSABLE_ENTITY,
            "XX",
        ),
    ] {
        let reply = api.send(raw(body)).await;
        assert_eq!(reply.content_type(), "application/problem+json", "{body}");
        let problem = reply.json();
        assert!(problem["detail"].as_str().unwrap().contains(needle), "{body}: {problem}");
        assert_eq!(problem["status"], json!(reply.status.as_u16()));
        assert!(problem["type"].as_str().unwrap().starts_with("/problems/"));
        let expected =
            if status == StatusCode::UNPROCESSABLE_ENTITY && reply.status == StatusCode::BAD_REQUEST {
                StatusCode::BAD_REQUEST
            } else {
                status
            };
        assert_eq!(reply.status, expected, "{body}: {problem}");
    }
    let bad_query = api.get("/api/v1/providers?limit=lots", &admin).await.expect(StatusCode::BAD_REQUEST);
    assert_eq!(bad_query.content_type(), "application/problem+json");
    let bad_path = api.get("/api/v1/providers/abc", &admin).await.expect(StatusCode::BAD_REQUEST);
    assert_eq!(bad_path.content_type(), "application/problem+json");
    let unknown = api.get("/api/v1/nothing-here", &admin).await.expect(StatusCode::NOT_FOUND);
    assert_eq!(unknown.content_type(), "application/problem+json");
    let conflict = api.post("/api/v1/providers", &admin, json!({"code": "dup", "name": "A"})).await;
    conflict.expect(StatusCode::CREATED);
    let conflict = api.post("/api/v1/providers", &admin, json!({"code": "dup", "name": "B"})).await;
    assert!(
        conflict.expect(StatusCode::CONFLICT).json()["detail"].as_str().unwrap().contains("already exists")
    );
}

#[tokio::test]
async fn a_session_needs_its_csrf_token_for_every_change_and_signs_out() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let Auth::Session { cookie, .. } = &admin else { unreachable!() };
    let forged = Auth::Session { cookie: cookie.clone(), csrf: "guess".into() };
    let reply = api.post("/api/v1/providers", &forged, json!({"code": "x", "name": "X"})).await;
    assert_eq!(reply.expect(StatusCode::FORBIDDEN).json()["code"], "csrf");
    api.get("/api/v1/providers", &forged).await.expect(StatusCode::OK);

    let login = api
        .post(
            "/api/v1/auth/login",
            &Auth::Anonymous,
            json!({"email": "admin@example.com", "password": PASSWORD}),
        )
        .await;
    let set_cookie = login.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap();
    assert!(set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"), "{set_cookie}");
    assert!(!set_cookie.contains("Secure"), "no TLS here: {set_cookie}");

    api.request(Method::POST, "/api/v1/auth/logout", &admin, None).await.expect(StatusCode::NO_CONTENT);
    api.get("/api/v1/me", &admin).await.expect(StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn failed_sign_ins_are_throttled_per_account_and_per_address() {
    let api = Api::new().await;
    let tenant = api.tenant("default").await;
    api.user(tenant, "target@example.com", "viewer", Scopes::default()).await;
    let wrong = json!({"email": "target@example.com", "password": "not the password"});
    for _ in 0..dialpool_engine::platform::access::FREE_FAILURES {
        api.post("/api/v1/auth/login", &Auth::Anonymous, wrong.clone())
            .await
            .expect(StatusCode::UNAUTHORIZED);
    }
    let locked = api
        .post("/api/v1/auth/login", &Auth::Anonymous, wrong.clone())
        .await
        .expect(StatusCode::TOO_MANY_REQUESTS);
    let retry_after: i64 =
        locked.headers.get(header::RETRY_AFTER).unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=30).contains(&retry_after), "{retry_after}");
    // Even the right password waits out the lock.
    let right = json!({"email": "target@example.com", "password": PASSWORD});
    api.post("/api/v1/auth/login", &Auth::Anonymous, right.clone())
        .await
        .expect(StatusCode::TOO_MANY_REQUESTS);

    // The address is locked too: another account from the same address waits.
    api.user(tenant, "bystander@example.com", "viewer", Scopes::default()).await;
    let other = json!({"email": "bystander@example.com", "password": PASSWORD});
    api.post("/api/v1/auth/login", &Auth::Anonymous, other.clone())
        .await
        .expect(StatusCode::TOO_MANY_REQUESTS);

    // Once the locks pass, the right password works and clears the count.
    api.db
        .client()
        .await
        .execute("UPDATE login_failures SET locked_until = now() - interval '1 second'", &[])
        .await
        .unwrap();
    api.post("/api/v1/auth/login", &Auth::Anonymous, right).await.expect(StatusCode::OK);
    let left: i64 =
        api.db.client().await.query_one("SELECT count(*) FROM login_failures", &[]).await.unwrap().get(0);
    assert_eq!(left, 0);

    // Throttled by account from anywhere: a fresh address meets the account's lock.
    let elsewhere = Api::with_address("198.51.100.9:4000").await;
    let tenant = elsewhere.tenant("default").await;
    elsewhere.user(tenant, "target@example.com", "viewer", Scopes::default()).await;
    elsewhere.db.client().await.execute(
        "INSERT INTO login_failures (key, failures, locked_until) VALUES ('account:target@example.com', 9, now() + interval '1 minute')", &[]).await.unwrap();
    let reply = elsewhere
        .post(
            "/api/v1/auth/login",
            &Auth::Anonymous,
            json!({"email": "Target@Example.com", "password": PASSWORD}),
        )
        .await;
    reply.expect(StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn api_tokens_are_shown_once_stored_hashed_limited_expiring_and_revocable() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let created =
        api.post("/api/v1/tokens", &admin, json!({"name": "dialer", "permissions": ["numbers.read"]})).await;
    let created = created.expect(StatusCode::CREATED).json();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("dp_"));
    let token_id = created["token"]["id"].as_i64().unwrap();
    let client = api.db.client().await;
    let stored: Vec<u8> = client
        .query_one("SELECT token_hash FROM api_tokens WHERE id = $1", &[&token_id])
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, dialpool_engine::platform::access::secret_digest(&secret));
    let listed = api.get("/api/v1/tokens", &admin).await.expect(StatusCode::OK).text();
    assert!(!listed.contains(&secret), "the list never shows the secret again");

    let bearer = Auth::Bearer(secret.clone());
    api.get("/api/v1/numbers", &bearer).await.expect(StatusCode::OK);
    // Only what the token was given, though its user is an admin; and no CSRF for tokens.
    api.get("/api/v1/users", &bearer).await.expect(StatusCode::FORBIDDEN);
    api.post("/api/v1/providers", &bearer, json!({"code": "x", "name": "X"}))
        .await
        .expect(StatusCode::FORBIDDEN);
    // A token may not be given more than its creator holds.
    let tenant = api.tenant("default").await;
    api.user(tenant, "manager@example.com", "manager", Scopes::default()).await;
    let manager = api.sign_in("manager@example.com").await;
    let reply =
        api.post("/api/v1/tokens", &manager, json!({"name": "x", "permissions": ["users.manage"]})).await;
    assert!(reply.expect(StatusCode::UNPROCESSABLE_ENTITY).text().contains("users.manage"));

    api.request(Method::DELETE, &format!("/api/v1/tokens/{token_id}"), &admin, None)
        .await
        .expect(StatusCode::OK);
    api.get("/api/v1/numbers", &bearer).await.expect(StatusCode::UNAUTHORIZED);

    let expiring = api
        .post(
            "/api/v1/tokens",
            &admin,
            json!({"name": "short", "permissions": ["numbers.read"], "expires_at": "2100-01-01T00:00:00Z"}),
        )
        .await
        .expect(StatusCode::CREATED)
        .json();
    let short = Auth::Bearer(expiring["secret"].as_str().unwrap().to_owned());
    api.get("/api/v1/numbers", &short).await.expect(StatusCode::OK);
    client
        .execute("UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE name = 'short'", &[])
        .await
        .unwrap();
    api.get("/api/v1/numbers", &short).await.expect(StatusCode::UNAUTHORIZED);
    api.post(
        "/api/v1/tokens",
        &admin,
        json!({"name": "past", "permissions": ["numbers.read"], "expires_at": "2001-01-01T00:00:00Z"}),
    )
    .await
    .expect(StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn an_upload_imports_in_the_background_with_progress_events_and_rejects() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leadco").await;
    let mut file = String::from("Phone,Name\n");
    for i in 0..2000 {
        file.push_str(&format!("+7916{:07},Person {i}\n", i));
    }
    file.push_str("not a number,Broken\n=cmd|' /C calc'!A0,Evil\n");
    let started =
        api.upload(&admin, provider, "leads.csv", file.as_bytes()).await.expect(StatusCode::ACCEPTED).json();
    assert_eq!(started["status"], "running");
    let (done, events) = api.wait_for_task(&admin, started["task_id"].as_str().unwrap()).await;
    assert!(events >= 1);
    assert_eq!(done["status"], "succeeded", "{done}");
    assert_eq!(done["rows_read"], 2002);
    // A job ran it, but the change is the uploader's.
    let audit = api.get("/api/v1/audit?action=import.", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(audit["items"][0]["actor_label"], "admin@example.com", "{audit}");
    let upload_dir = api.data_dir.join("uploads");
    let left: usize = std::fs::read_dir(&upload_dir)
        .map(|tenants| tenants.map(|t| std::fs::read_dir(t.unwrap().path()).unwrap().count()).sum())
        .unwrap_or(0);
    assert_eq!(left, 0, "the job removes the upload once imported");
    let import = api
        .get(&format!("/api/v1/imports/{}", done["import_id"]), &admin)
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(
        (import["total"].as_i64(), import["inserted"].as_i64(), import["invalid"].as_i64()),
        (Some(2002), Some(2000), Some(2))
    );
    assert_eq!(import["file_name"], "leads.csv");
    let rejects = api
        .get(&format!("/api/v1/imports/{}/rejects", done["import_id"]), &admin)
        .await
        .expect(StatusCode::OK);
    assert!(rejects.content_type().starts_with("text/csv"));
    let text = rejects.text();
    assert!(text.contains("not a number"), "{text}");
    assert!(text.contains("'=cmd"), "formula escaped: {text}");
    let numbers = api.get("/api/v1/numbers?limit=500", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(numbers["items"].as_array().unwrap().len(), 500);

    // A file the engine refuses: the task fails with the engine's message, nothing lands.
    let started = api.upload(&admin, provider, "empty.csv", b"").await.expect(StatusCode::ACCEPTED).json();
    let (done, _) = api.wait_for_task(&admin, started["task_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "failed");
    assert!(done["error"].as_str().unwrap().contains("empty.csv"), "{done}");

    // Over the size limit (1 MiB in tests): refused, and no upload is left on disk.
    let big = vec![b'7'; 1024 * 1024 + 10];
    let reply = api.upload(&admin, provider, "big.csv", &big).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", reply.text());
    let leftovers = std::fs::read_dir(api.data_dir.join("uploads/1")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(leftovers, 0);
}

#[tokio::test]
async fn the_audit_log_records_who_did_what_from_where_and_exports_escaped_csv() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let created =
        api.post("/api/v1/providers", &admin, json!({"code": "evil", "name": "=HYPERLINK(\"x\")"})).await;
    let id = created.expect(StatusCode::CREATED).json()["id"].as_i64().unwrap();
    let updated = api
        .request(
            Method::PUT,
            &format!("/api/v1/providers/{id}"),
            &admin,
            Some(json!({"name": "Fine", "column_mapping": "phone=2"})),
        )
        .await
        .expect(StatusCode::OK);
    let request_id = updated.headers.get("x-request-id").unwrap().to_str().unwrap().to_owned();

    let page = api
        .get(&format!("/api/v1/audit?entity=provider&entity_id={id}"), &admin)
        .await
        .expect(StatusCode::OK)
        .json();
    let entries = page["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    let update = &entries[0];
    assert_eq!(update["action"], "provider.update");
    assert_eq!(update["actor_email"], "admin@example.com");
    assert_eq!(update["before"]["name"], "=HYPERLINK(\"x\")");
    assert_eq!(update["after"]["name"], "Fine");
    assert_eq!(update["after"]["column_mapping"], "phone=2");
    assert_eq!(update["request_id"], json!(request_id));
    assert_eq!(update["address"], "203.0.113.7");
    let by_prefix = api.get("/api/v1/audit?action=provider.", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(by_prefix["items"].as_array().unwrap().len(), 2);
    let none = api.get("/api/v1/audit?from=2100-01-01T00:00:00Z", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(none["items"], json!([]));

    let csv = api.get("/api/v1/audit/export?entity=provider", &admin).await.expect(StatusCode::OK);
    assert!(csv.content_type().starts_with("text/csv"));
    let text = csv.text();
    assert!(text.starts_with("id,at,actor_user_id,actor,"), "{text}");
    assert_eq!(text.lines().count(), 3, "{text}");
    // The JSON cells start with '{', not a formula; a name alone in a cell would be escaped.
    assert!(!text.lines().any(|l| l.split(',').any(|cell| cell.starts_with('='))), "{text}");
}

#[tokio::test]
async fn the_application_role_cannot_change_or_remove_audit_entries() {
    let api = Api::new().await;
    let admin = api.admin().await;
    api.provider(&admin, "p").await;
    let mut client = api.db.client().await;
    let tx = client.transaction().await.unwrap();
    tx.batch_execute("SET LOCAL ROLE dialpool_app").await.unwrap();
    let inserted = tx
        .execute(
            "INSERT INTO audit_log (tenant_id, actor_label, action, entity) VALUES (1, 'app', 'x.test', 'x')",
            &[],
        )
        .await;
    assert!(inserted.is_ok(), "{inserted:?}");
    for statement in ["UPDATE audit_log SET action = 'forged'", "DELETE FROM audit_log", "TRUNCATE audit_log"]
    {
        tx.batch_execute("SAVEPOINT s").await.unwrap();
        let error = tx.batch_execute(statement).await.unwrap_err();
        assert_eq!(
            error.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{statement}: {error}"
        );
        tx.batch_execute("ROLLBACK TO SAVEPOINT s").await.unwrap();
    }
}

#[tokio::test]
async fn keyset_pages_walk_a_list_without_gaps_or_repeats_in_either_direction() {
    let api = Api::new().await;
    let admin = api.admin().await;
    for sort in ["code", "-code", "name", "-name"] {
        let mut seen: Vec<Value> = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let uri = match &cursor {
                Some(c) => format!("/api/v1/geos?limit=37&sort={sort}&cursor={c}"),
                None => format!("/api/v1/geos?limit=37&sort={sort}"),
            };
            let page = api.get(&uri, &admin).await.expect(StatusCode::OK).json();
            seen.extend(page["items"].as_array().unwrap().iter().map(|g| g["id"].clone()));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => break,
            }
        }
        let count: i64 = api
            .db
            .client()
            .await
            .query_one("SELECT count(*) FROM geos WHERE tenant_id = 1", &[])
            .await
            .unwrap()
            .get(0);
        let mut unique = seen.clone();
        unique.sort_by_key(|v| v.as_i64());
        unique.dedup();
        assert_eq!((seen.len() as i64, unique.len() as i64), (count, count), "sort {sort}");
    }
    let reply =
        api.get("/api/v1/geos?sort=population", &admin).await.expect(StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.json()["field"], "sort");
    let first = api.get("/api/v1/geos?limit=2&sort=code", &admin).await.json();
    let cursor = first["next_cursor"].as_str().unwrap();
    api.get(&format!("/api/v1/geos?sort=name&cursor={cursor}"), &admin)
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    api.get("/api/v1/geos?limit=501", &admin).await.expect(StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn users_roles_geos_and_statuses_are_validated_and_audited() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let viewer = api.role_id(api.tenant("default").await, "viewer").await;
    let bad = [
        ("/api/v1/users", json!({"email": "nope", "password": PASSWORD, "role_id": viewer}), "email"),
        (
            "/api/v1/users",
            json!({"email": "a@b.example", "password": "short", "role_id": viewer}),
            "password",
        ),
        (
            "/api/v1/users",
            json!({"email": "a@b.example", "password": PASSWORD, "role_id": 999999}),
            "role_id",
        ),
        ("/api/v1/roles", json!({"name": "x", "permissions": ["fly.plane"]}), "permissions"),
        (
            "/api/v1/geos",
            json!({"country": "RU", "region": "X", "name": "X", "time_zone": "Mars/Olympus"}),
            "time_zone",
        ),
        ("/api/v1/geos", json!({"country": "QQ", "name": "X", "time_zone": "UTC"}), "country"),
        ("/api/v1/statuses", json!({"code": "later", "name": "Later", "category": "retry"}), "cooldown_s"),
        ("/api/v1/statuses", json!({"code": "x", "name": "X", "category": "maybe"}), "category"),
    ];
    for (uri, body, field) in bad {
        let reply = api.post(uri, &admin, body.clone()).await.expect(StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(reply.json()["field"], field, "{uri} {body}");
    }
    let user = api
        .post(
            "/api/v1/users",
            &admin,
            json!({"email": "New@Example.com", "password": PASSWORD, "role_id": viewer}),
        )
        .await;
    let user = user.expect(StatusCode::CREATED).json();
    assert_eq!(user["password_must_change"], true);
    api.post(
        "/api/v1/users",
        &admin,
        json!({"email": "new@example.com", "password": PASSWORD, "role_id": viewer}),
    )
    .await
    .expect(StatusCode::CONFLICT);
    // A new user must change the password before anything else.
    let new_user = api.sign_in("new@example.com").await;
    assert_eq!(
        api.get("/api/v1/numbers", &new_user).await.expect(StatusCode::FORBIDDEN).json()["code"],
        "password-change-required"
    );
    api.post(
        "/api/v1/me/password",
        &new_user,
        json!({"current_password": PASSWORD, "new_password": "another long one"}),
    )
    .await
    .expect(StatusCode::NO_CONTENT);
    api.get("/api/v1/numbers", &new_user).await.expect(StatusCode::OK);

    let status = api
        .post("/api/v1/statuses", &admin, json!({"code": "later", "name": "Later", "category": "retry", "cooldown_s": 7200, "max_attempts": 3}))
        .await
        .expect(StatusCode::CREATED)
        .json();
    assert_eq!((status["id"].as_i64(), status["cooldown_s"].as_i64()), (Some(9), Some(7200)));
    let builtin_admin = api.role_id(api.tenant("default").await, "admin").await;
    api.request(Method::DELETE, &format!("/api/v1/roles/{builtin_admin}"), &admin, None)
        .await
        .expect(StatusCode::CONFLICT);
    let client = api.db.client().await;
    let actions: Vec<String> = client
        .query("SELECT action FROM audit_log WHERE actor_label = 'admin@example.com' ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for expected in ["session.create", "user.create", "status.create"] {
        assert!(actions.iter().any(|a| a == expected), "{expected} in {actions:?}");
    }
}

#[tokio::test]
async fn operations_have_request_ids_metrics_docs_and_the_ui_fallback() {
    let api = Api::new().await;
    let reply = api.get("/healthz", &Auth::Anonymous).await.expect(StatusCode::OK);
    assert_eq!(reply.headers.get("x-request-id").unwrap().len(), 24);
    let mut request = axum::http::Request::get("/healthz").body(axum::body::Body::empty()).unwrap();
    request.headers_mut().insert("x-request-id", "from-the-proxy-1".parse().unwrap());
    assert_eq!(api.send(request).await.headers.get("x-request-id").unwrap(), "from-the-proxy-1");
    // An id a client made up to be logged (too long, or not letters and digits) is replaced.
    for odd in ["x".repeat(65), "a b".to_owned(), "id;drop".to_owned()] {
        let mut request = axum::http::Request::get("/healthz").body(axum::body::Body::empty()).unwrap();
        request.headers_mut().insert("x-request-id", odd.parse().unwrap());
        let replaced =
            api.send(request).await.headers.get("x-request-id").unwrap().to_str().unwrap().to_owned();
        assert!(replaced != odd && replaced.len() == 24, "{odd} → {replaced}");
    }

    let metrics = api.get("/metrics", &Auth::Anonymous).await.expect(StatusCode::OK).text();
    assert!(
        metrics.contains("dialpool_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("dialpool_db_pool_connections"));

    let doc = api.get("/api/openapi.json", &Auth::Anonymous).await.expect(StatusCode::OK).json();
    assert_eq!(doc["openapi"], "3.1.0");
    let docs = api.get("/api/docs/", &Auth::Anonymous).await.expect(StatusCode::OK).text();
    assert!(docs.contains("swagger") && !docs.contains("cdn"), "served from the binary");

    let page = api.get("/users/42", &Auth::Anonymous).await.expect(StatusCode::OK);
    assert!(page.content_type().starts_with("text/html"));
}

#[test]
fn the_checked_in_openapi_document_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    let current = dialpool_api::http::openapi_json();
    if checked_in != current {
        if std::env::var_os("DIALPOOL_UPDATE_OPENAPI").is_some() {
            std::fs::write(&path, current).unwrap();
            return;
        }
        panic!(
            "api/openapi.json is out of date with the handlers; regenerate it with \
             `DIALPOOL_UPDATE_OPENAPI=1 cargo nextest run -p dialpool-api openapi` (or `dialpool openapi > api/openapi.json`) \
             and then `npm --prefix ui run api` for the UI's types"
        );
    }
}
