//! Projects and allocation through the HTTP API: validation as problem details, the
//! preview before saving, runs, forecast, explain, manager scope and the audit trail.

use axum::http::{Method, StatusCode};
use dialpool_engine::platform::access::Scopes;
use serde_json::{Value, json};

use crate::support::{Api, Auth};

async fn pool_of(api: &Api, admin: &Auth, provider: i64, phones: &[&str]) {
    let file = format!("phone\n{}\n", phones.join("\n"));
    let started = api.upload(admin, provider, "pool.csv", file.as_bytes()).await.expect(StatusCode::ACCEPTED);
    let (done, _) = api.wait_for_task(admin, started.json()["task_id"].as_str().unwrap()).await;
    assert_eq!(done["status"], "succeeded", "{done}");
}

fn document(name: &str, provider: i64, quota: i64) -> Value {
    json!({
        "name": name,
        "time_zone": "Europe/Moscow",
        "daily_quota": quota,
        "sources": [{"provider_id": provider, "geo_id": null, "weight": 1}],
        "windows": (1..=7).map(|d| json!({"weekday": d, "start": "09:00", "end": "21:00"})).collect::<Vec<_>>(),
    })
}

#[tokio::test]
async fn an_admin_configures_previews_allocates_and_explains() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leads").await;
    let phones: Vec<String> = (0..30).map(|i| format!("+7916100{i:04}")).collect();
    pool_of(&api, &admin, provider, &phones.iter().map(String::as_str).collect::<Vec<_>>()).await;

    // Clear errors, as problem details naming the field.
    let mut bad = document("Sales", provider, 10);
    bad["sources"][0]["weight"] = json!(0);
    let problem =
        api.post("/api/v1/projects", &admin, bad).await.expect(StatusCode::UNPROCESSABLE_ENTITY).json();
    assert!(problem["detail"].as_str().unwrap().contains("weight 0"), "{problem}");
    let mut bad = document("Sales", provider, 10);
    bad["windows"] = json!([{"weekday": 2, "start": "09:00", "end": "14:00"}, {"weekday": 2, "start": "13:00", "end": "18:00"}]);
    let problem =
        api.post("/api/v1/projects", &admin, bad).await.expect(StatusCode::UNPROCESSABLE_ENTITY).json();
    assert!(problem["detail"].as_str().unwrap().contains("Tuesday"), "{problem}");
    let mut bad = document("Sales", provider, 10);
    bad["time_zone"] = json!("Europe/Atlantis");
    api.post("/api/v1/projects", &admin, bad).await.expect(StatusCode::UNPROCESSABLE_ENTITY);

    // The preview shows what saving would allocate, and saves nothing.
    let preview = api
        .post("/api/v1/allocation/preview", &admin, json!({"project": document("Sales", provider, 12)}))
        .await
        .expect(StatusCode::OK)
        .json();
    assert_eq!(preview["report"]["allocated"], 12);
    assert_eq!(api.get("/api/v1/projects", &admin).await.expect(StatusCode::OK).json(), json!([]));

    let created = api
        .post("/api/v1/projects", &admin, document("Sales", provider, 12))
        .await
        .expect(StatusCode::CREATED)
        .json();
    let id = created["id"].as_i64().unwrap();
    let dry = api.post("/api/v1/allocation/dry-run", &admin, json!({})).await.expect(StatusCode::OK).json();
    assert_eq!((dry["dry_run"].clone(), dry["allocated"].clone()), (json!(true), json!(12)));
    let run = api.post("/api/v1/allocation/run", &admin, json!({})).await.expect(StatusCode::OK).json();
    assert_eq!(run["allocated"], 12);
    let again = api.post("/api/v1/allocation/run", &admin, json!({})).await.expect(StatusCode::OK).json();
    assert_eq!(again["allocated"], 0);

    let list = api.get("/api/v1/projects", &admin).await.expect(StatusCode::OK).json();
    assert_eq!((list[0]["allocated_today"].clone(), list[0]["numbers"].clone()), (json!(12), json!(12)));
    let forecast = api.get("/api/v1/allocation/forecast", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(forecast[0]["eligible"], 18);

    let held: String = {
        let client = api.db.client().await;
        let phone: i64 = client
            .query_one("SELECT phone FROM phone_numbers WHERE project_id = $1 LIMIT 1", &[&id])
            .await
            .unwrap()
            .get(0);
        format!("%2B{phone}")
    };
    let explained =
        api.get(&format!("/api/v1/numbers/{held}/explain"), &admin).await.expect(StatusCode::OK).json();
    assert_eq!(explained["number"]["project_id"], id);
    assert_eq!(explained["history"][0]["kind"], "allocated");
    api.get("/api/v1/numbers/not-a-number/explain", &admin).await.expect(StatusCode::UNPROCESSABLE_ENTITY);

    // Delete keeps the numbers by default; the deleted list shows them; restore; purge.
    let deleted =
        api.request(Method::DELETE, &format!("/api/v1/projects/{id}?release=unworked"), &admin, None).await;
    assert_eq!(
        deleted.expect(StatusCode::OK).json(),
        json!({"released": 12, "kept": 0, "events_archived": 0})
    );
    let gone = api.get("/api/v1/projects?deleted=true", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(gone[0]["id"], id);
    api.post(&format!("/api/v1/projects/{id}/purge"), &admin, json!({"confirm": "wrong"}))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);
    api.post(&format!("/api/v1/projects/{id}/restore"), &admin, json!({})).await.expect(StatusCode::OK);

    let audit = api.get("/api/v1/audit?action=project.", &admin).await.expect(StatusCode::OK).json();
    let actions: Vec<&str> =
        audit["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(
        actions.contains(&"project.create")
            && actions.contains(&"project.delete")
            && actions.contains(&"project.restore"),
        "{actions:?}"
    );
    let runs = api.get("/api/v1/audit?action=allocation.", &admin).await.expect(StatusCode::OK).json();
    assert_eq!(runs["items"].as_array().unwrap().len(), 3, "two runs and a dry run");
}

#[tokio::test]
async fn a_manager_sees_only_projects_in_scope_and_cannot_change_them() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leads").await;
    let mine = api
        .post("/api/v1/projects", &admin, document("Mine", provider, 5))
        .await
        .expect(StatusCode::CREATED)
        .json();
    let theirs = api
        .post("/api/v1/projects", &admin, document("Theirs", provider, 5))
        .await
        .expect(StatusCode::CREATED)
        .json();
    let tenant = api.tenant("default").await;
    api.user(
        tenant,
        "manager@example.com",
        "manager",
        Scopes { providers: vec![], projects: vec![mine["id"].as_i64().unwrap()] },
    )
    .await;
    let manager = api.sign_in("manager@example.com").await;
    let list = api.get("/api/v1/projects", &manager).await.expect(StatusCode::OK).json();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "Mine");
    api.get(&format!("/api/v1/projects/{}", theirs["id"]), &manager).await.expect(StatusCode::NOT_FOUND);
    // The built-in manager role reads projects but does not change them or allocate.
    api.request(
        Method::PUT,
        &format!("/api/v1/projects/{}", mine["id"]),
        &manager,
        Some(document("Mine", provider, 9)),
    )
    .await
    .expect(StatusCode::FORBIDDEN);
    api.post("/api/v1/allocation/run", &manager, json!({})).await.expect(StatusCode::FORBIDDEN);
    // A dry run of the whole tenant reaches beyond the scope; of the manager's own project it does not.
    api.post("/api/v1/allocation/dry-run", &manager, json!({})).await.expect(StatusCode::FORBIDDEN);
    api.post("/api/v1/allocation/dry-run", &manager, json!({"projects": [mine["id"]]}))
        .await
        .expect(StatusCode::OK);
    api.post("/api/v1/allocation/dry-run", &manager, json!({"projects": [theirs["id"]]}))
        .await
        .expect(StatusCode::NOT_FOUND);
}
