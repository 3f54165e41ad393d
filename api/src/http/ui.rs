//! The admin UI, built by Vite into `ui/dist` and embedded in the binary; any path that is
//! not a file is a client route and gets `index.html`.

use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "../ui/dist"]
#[allow_missing = true]
struct Assets;

const NOT_BUILT: &str = "<!doctype html><title>Dialpool</title><p>The admin UI was not built into this binary. \
Run <code>npm --prefix ui ci &amp;&amp; npm --prefix ui run build</code> and rebuild, or use \
<code>scripts/demo.sh</code>. The API is at <a href=\"/api/docs\">/api/docs</a>.</p>";

pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if let Some(file) = Assets::get(path).filter(|_| !path.is_empty()) {
        let mime = mime_for(path);
        let mut response = (StatusCode::OK, file.data.into_owned()).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
        // Vite puts a content hash in every asset name, so assets never change in place.
        if path.starts_with("assets/") {
            response.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
        }
        return response;
    }
    match Assets::get("index.html") {
        Some(index) => {
            let mut response = Html(index.data.into_owned()).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            response
        }
        None => Html(NOT_BUILT).into_response(),
    }
}

fn mime_for(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}
