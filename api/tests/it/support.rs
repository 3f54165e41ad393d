//! An API client over the real router (no socket) and a real PostgreSQL, with helpers to
//! make users and sign them in.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use dialpool_api::http::{AppState, HttpConfig, router};
use dialpool_engine::TenantId;
use dialpool_engine::platform::access::{self, NewUser, Scopes};
use dialpool_engine::platform::audit::Actor;
use dialpool_engine::testkit::TestDb;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

pub struct Api {
    pub db: TestDb,
    pub app: Router,
    pub data_dir: std::path::PathBuf,
    /// Runs the import and export jobs the API queues, as `serve`'s worker does.
    worker: tokio::task::JoinHandle<()>,
}

#[derive(Debug, Clone)]
pub enum Auth {
    Anonymous,
    Session { cookie: String, csrf: String },
    Bearer(String),
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {} {}", self.status, String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn content_type(&self) -> &str {
        self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    #[track_caller]
    pub fn expect(self, status: StatusCode) -> Self {
        assert_eq!(self.status, status, "body: {}", self.text());
        self
    }
}

pub const PASSWORD: &str = "correct horse battery";

impl Api {
    pub async fn new() -> Api {
        Api::with_address("203.0.113.7:50000").await
    }

    pub async fn with_address(address: &str) -> Api {
        let db = TestDb::new().await;
        let data_dir = std::env::temp_dir().join(format!("dialpool-api-test-{}", db.name));
        let config =
            HttpConfig { data_dir: data_dir.clone(), max_upload_bytes: 1024 * 1024, ..HttpConfig::default() };
        let address: SocketAddr = address.parse().unwrap();
        let app = router(AppState::new(db.pool.clone(), config)).layer(MockConnectInfo(address));
        let mut jobs = dialpool_jobs::WorkerConfig::new(data_dir.clone());
        jobs.kinds = vec![
            dialpool_engine::platform::job::JobKind::Import,
            dialpool_engine::platform::job::JobKind::Export,
        ];
        jobs.poll = std::time::Duration::from_millis(50);
        let worker =
            tokio::spawn(dialpool_jobs::Worker::new(db.pool.clone(), jobs).run(std::future::pending()));
        Api { db, app, data_dir, worker }
    }

    pub async fn request(&self, method: Method, uri: &str, auth: &Auth, body: Option<Value>) -> Reply {
        let mut builder = Request::builder().method(method).uri(uri);
        builder = match auth {
            Auth::Anonymous => builder,
            Auth::Session { cookie, csrf } => {
                builder.header(header::COOKIE, cookie).header("x-csrf-token", csrf)
            }
            Auth::Bearer(token) => builder.header(header::AUTHORIZATION, format!("Bearer {token}")),
        };
        let body = match body {
            Some(value) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Body::from(value.to_string())
            }
            None => Body::empty(),
        };
        self.send(builder.body(body).unwrap()).await
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        Reply { status, headers, body }
    }

    pub async fn get(&self, uri: &str, auth: &Auth) -> Reply {
        self.request(Method::GET, uri, auth, None).await
    }

    pub async fn post(&self, uri: &str, auth: &Auth, body: Value) -> Reply {
        self.request(Method::POST, uri, auth, Some(body)).await
    }

    pub async fn tenant(&self, slug: &str) -> TenantId {
        let client = self.db.client().await;
        dialpool_engine::platform::tenant::find_by_slug(&**client, slug).await.unwrap()
    }

    pub async fn role_id(&self, tenant: TenantId, name: &str) -> i64 {
        let client = self.db.client().await;
        client
            .query_one("SELECT id FROM roles WHERE tenant_id = $1 AND name = $2", &[&tenant.0, &name])
            .await
            .unwrap()
            .get(0)
    }

    /// A user with a password that need not change, created straight in the engine.
    pub async fn user(&self, tenant: TenantId, email: &str, role: &str, scopes: Scopes) -> i64 {
        let role_id = self.role_id(tenant, role).await;
        let mut client = self.db.client().await;
        let new = NewUser {
            email: email.into(),
            display_name: email.split('@').next().unwrap().into(),
            password: PASSWORD.into(),
            role_id,
            locale: "en".into(),
            scopes,
        };
        let user = access::create_user(&mut **client, tenant, &Actor::system("test"), &new).await.unwrap();
        client
            .execute("UPDATE users SET password_must_change = false WHERE id = $1", &[&user.id])
            .await
            .unwrap();
        user.id
    }

    pub async fn sign_in(&self, email: &str) -> Auth {
        let reply = self
            .post("/api/v1/auth/login", &Auth::Anonymous, json!({"email": email, "password": PASSWORD}))
            .await;
        let reply = reply.expect(StatusCode::OK);
        let set_cookie = reply.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_owned();
        let cookie = set_cookie.split(';').next().unwrap().to_owned();
        Auth::Session { cookie, csrf: reply.json()["csrf_token"].as_str().unwrap().to_owned() }
    }

    /// A signed-in administrator of the default tenant.
    /// A signed-in manager whose only project is a new, empty one.
    pub async fn manager_of_another_project(&self) -> Auth {
        let tenant = self.tenant("default").await;
        let elsewhere: i64 = self
            .db
            .client()
            .await
            .query_one(
                "INSERT INTO projects (tenant_id, name, time_zone, daily_quota) VALUES ($1, 'Elsewhere', 'UTC', 1) RETURNING id",
                &[&tenant.0],
            )
            .await
            .unwrap()
            .get(0);
        self.user(
            tenant,
            "other@example.com",
            "manager",
            Scopes { providers: vec![], projects: vec![elsewhere] },
        )
        .await;
        self.sign_in("other@example.com").await
    }

    /// The administrator of a second tenant, "other", made through the platform API by
    /// `admin` (admin@example.com, made a platform administrator for it).
    pub async fn other_tenant_admin(&self, admin: &Auth) -> Auth {
        let client = self.db.client().await;
        client
            .execute("UPDATE users SET is_platform_admin = true WHERE email = 'admin@example.com'", &[])
            .await
            .unwrap();
        self.post(
            "/api/v1/tenants",
            admin,
            json!({"slug": "other", "name": "Other Co", "admin_email": "boss@other.example", "admin_password": PASSWORD}),
        )
        .await
        .expect(StatusCode::CREATED);
        client
            .execute("UPDATE users SET password_must_change = false WHERE email = 'boss@other.example'", &[])
            .await
            .unwrap();
        self.sign_in("boss@other.example").await
    }

    pub async fn admin(&self) -> Auth {
        let tenant = self.tenant("default").await;
        self.user(tenant, "admin@example.com", "admin", Scopes::default()).await;
        self.sign_in("admin@example.com").await
    }

    pub async fn provider(&self, auth: &Auth, code: &str) -> i64 {
        let reply = self
            .post(
                "/api/v1/providers",
                auth,
                json!({"code": code, "name": format!("Provider {code}"), "default_region": "RU"}),
            )
            .await
            .expect(StatusCode::CREATED);
        reply.json()["id"].as_i64().unwrap()
    }

    /// A project open all day every day (also its calling hours) holding `count` numbers
    /// +79161000001… from `provider`, with a `name` attribute "Person i".
    pub async fn dial_project(&self, provider: i64, count: i32) -> i64 {
        let client = self.db.client().await;
        let tenant: i64 =
            client.query_one("SELECT id FROM tenants WHERE slug = 'default'", &[]).await.unwrap().get(0);
        let project: i64 = client
        .query_one(
            "INSERT INTO projects (tenant_id, name, time_zone, daily_quota) VALUES ($1, 'Dial', 'UTC', 100) RETURNING id",
            &[&tenant],
        )
        .await
        .unwrap()
        .get(0);
        client
            .execute(
                "INSERT INTO project_schedules (tenant_id, project_id, weekday, starts_at, ends_at)
             SELECT $1, $2, d, '00:00', '24:00' FROM generate_series(1, 7) d",
                &[&tenant, &project],
            )
            .await
            .unwrap();
        // Numbers without a geo are judged in the project's zone; all day, so the test
        // does not depend on the hour it runs at.
        client
        .execute(
            "INSERT INTO calling_hours (tenant_id, geo_id, start_local, end_local) VALUES ($1, NULL, '00:00', '24:00')",
            &[&tenant],
        )
        .await
        .unwrap();
        client
        .execute(
            "INSERT INTO phone_numbers (tenant_id, phone, provider_id, project_id, import_id, last_import_id, attributes)
             SELECT $1, 79161000000 + i, $2, $3, 0, 0, jsonb_build_object('name', 'Person ' || i)
               FROM generate_series(1, $4) i",
            &[&tenant, &provider, &project, &count],
        )
        .await
        .unwrap();
        project
    }

    /// Uploads a number file as multipart; answers with the started import task.
    pub async fn upload(&self, auth: &Auth, provider_id: i64, file_name: &str, contents: &[u8]) -> Reply {
        self.upload_form(
            "/api/v1/imports",
            auth,
            &[("provider_id", &provider_id.to_string())],
            file_name,
            contents,
        )
        .await
    }

    /// Posts a multipart form: the text `fields`, then `file`.
    pub async fn upload_form(
        &self,
        uri: &str,
        auth: &Auth,
        fields: &[(&str, &str)],
        file_name: &str,
        contents: &[u8],
    ) -> Reply {
        let boundary = "dialpool-test-boundary";
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend(
                format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                    .as_bytes(),
            );
        }
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{file_name}\"\r\nContent-Type: text/csv\r\n\r\n")
                .as_bytes(),
        );
        body.extend(contents);
        body.extend(format!("\r\n--{boundary}--\r\n").as_bytes());
        let mut builder = Request::post(uri)
            .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"));
        builder = match auth {
            Auth::Session { cookie, csrf } => {
                builder.header(header::COOKIE, cookie).header("x-csrf-token", csrf)
            }
            Auth::Bearer(token) => builder.header(header::AUTHORIZATION, format!("Bearer {token}")),
            Auth::Anonymous => builder,
        };
        self.send(builder.body(Body::from(body)).unwrap()).await
    }

    /// Follows a task's event stream to its end and returns the `done` event's data.
    pub async fn wait_for_task(&self, auth: &Auth, task_id: &str) -> (Value, usize) {
        let reply =
            self.get(&format!("/api/v1/imports/tasks/{task_id}/events"), auth).await.expect(StatusCode::OK);
        assert!(reply.content_type().starts_with("text/event-stream"), "{}", reply.content_type());
        let text = reply.text();
        let events: Vec<(&str, &str)> = text
            .split("\n\n")
            .filter_map(|block| {
                let event = block.lines().find_map(|l| l.strip_prefix("event: "))?;
                let data = block.lines().find_map(|l| l.strip_prefix("data: "))?;
                Some((event, data))
            })
            .collect();
        let (last_event, data) = *events.last().unwrap_or_else(|| panic!("no events in {text}"));
        assert_eq!(last_event, "done", "{text}");
        (serde_json::from_str(data).unwrap(), events.len())
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        self.worker.abort();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}
