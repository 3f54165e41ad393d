//! Exports over HTTP: started in the background, followed to the end, downloaded, listed
//! in the history, kept only until they expire, and out of reach of other managers.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Api, Auth};

pub(crate) async fn finished(api: &Api, auth: &Auth, id: i64) -> Value {
    for _ in 0..100 {
        let export = api.get(&format!("/api/v1/exports/{id}"), auth).await.expect(StatusCode::OK).json();
        if export["status"] != "running" {
            return export;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("export {id} still running after 10 s");
}

#[tokio::test]
async fn an_export_runs_in_the_background_and_its_file_is_kept_until_it_expires() {
    let api = Api::new().await;
    let admin = api.admin().await;
    let provider = api.provider(&admin, "leads").await;
    let project = api.dial_project(provider, 5).await;

    let started = api
        .post(
            &format!("/api/v1/projects/{project}/exports"),
            &admin,
            json!({"filter": {"limit": 4}, "options": {"format": "xlsx"}}),
        )
        .await
        .expect(StatusCode::ACCEPTED)
        .json();
    let id = started["id"].as_i64().unwrap();
    let done = finished(&api, &admin, id).await;
    assert_eq!((done["status"].as_str(), done["rows"].as_i64()), (Some("succeeded"), Some(4)), "{done}");
    assert_eq!(done["downloadable"], true);
    assert_eq!(done["options"]["filter"]["limit"], 4);

    let file = api.get(&format!("/api/v1/exports/{id}/file"), &admin).await.expect(StatusCode::OK);
    assert!(file.content_type().contains("spreadsheetml"), "{}", file.content_type());
    assert_eq!(&file.body[..2], b"PK", "an XLSX file is a zip");
    assert_eq!(file.body.len() as i64, done["bytes"].as_i64().unwrap());

    let history =
        api.get(&format!("/api/v1/exports?project_id={project}"), &admin).await.expect(StatusCode::OK).json();
    assert_eq!(history.as_array().unwrap().len(), 1);
    assert_eq!(history[0]["project"], "Dial");

    // CSV options as the UI sends them.
    let csv = api
        .post(
            &format!("/api/v1/projects/{project}/exports"),
            &admin,
            json!({"options": {"format": "csv", "csv": {"delimiter": ";", "encoding": "windows-1251"}}}),
        )
        .await
        .expect(StatusCode::ACCEPTED)
        .json();
    let csv = finished(&api, &admin, csv["id"].as_i64().unwrap()).await;
    assert_eq!(csv["status"], "succeeded", "{csv}");
    let text = api.get(&format!("/api/v1/exports/{}/file", csv["id"]), &admin).await.expect(StatusCode::OK);
    assert!(text.text().starts_with("phone;provider;"), "{}", text.text());

    // Bad options are refused before anything runs.
    let bad = api
        .post(&format!("/api/v1/projects/{project}/exports"), &admin, json!({"options": {"format": "pdf"}}))
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text());
    assert!(bad.text().contains("options.format"), "the field is named: {}", bad.text());
    api.post(&format!("/api/v1/projects/{project}/exports"), &admin, json!({"filter": {"limit": 0}}))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY);

    // Another project's manager reaches neither the export nor its file.
    let other = api.manager_of_another_project().await;
    api.get(&format!("/api/v1/exports/{id}"), &other).await.expect(StatusCode::NOT_FOUND);
    api.get(&format!("/api/v1/exports/{id}/file"), &other).await.expect(StatusCode::NOT_FOUND);
    let theirs = api.get("/api/v1/exports", &other).await.expect(StatusCode::OK).json();
    assert_eq!(
        api.get("/api/v1/exports", &admin).await.expect(StatusCode::OK).json().as_array().unwrap().len(),
        2
    );
    assert_eq!(theirs.as_array().unwrap().len(), 0);
    api.post(&format!("/api/v1/projects/{project}/exports"), &other, json!({}))
        .await
        .expect(StatusCode::NOT_FOUND);

    // Past its keep time the file goes; the history stays.
    let client = api.db.client().await;
    client
        .execute("UPDATE exports SET expires_at = now() - interval '1 minute' WHERE id = $1", &[&id])
        .await
        .unwrap();
    let stored: String =
        client.query_one("SELECT stored_path FROM exports WHERE id = $1", &[&id]).await.unwrap().get(0);
    assert!(api.data_dir.join(&stored).exists());
    assert_eq!(dialpool_engine::delivery::export::delete_expired(&**client, &api.data_dir).await.unwrap(), 1);
    assert!(!api.data_dir.join(&stored).exists());
    let gone = api.get(&format!("/api/v1/exports/{id}/file"), &admin).await;
    assert_eq!(gone.status, StatusCode::CONFLICT, "{}", gone.text());
    assert!(gone.text().contains("no longer kept"), "{}", gone.text());
}
