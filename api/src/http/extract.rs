//! axum's extractors, wrapped so that malformed JSON, wrong types, unknown fields and bad
//! path or query values get the API's problem+json shape.

use axum::extract::{FromRequest, FromRequestParts};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct Json<T>(pub T);

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct Query<T>(pub T);

#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct Path<T>(pub T);

/// An upload's form; a body that is not one (no boundary, wrong type) is a problem+json
/// 400 like any other bad request, not axum's plain text.
pub struct Multipart(pub axum::extract::Multipart);

impl<S: Send + Sync> FromRequest<S> for Multipart {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        axum::extract::Multipart::from_request(request, state).await.map(Multipart).map_err(ApiError::from)
    }
}

/// JSON bodies this large at most are looked through for NUL characters; a larger one is
/// an upload (multipart) or refused by the body limit anyway.
const JSON_BODY_MAX: usize = 16 << 20;

/// Refuses, at the edge, text holding the NUL character (U+0000) in a JSON body, a query
/// or a path: PostgreSQL cannot store it in text, so it would otherwise fail deep inside
/// as a server error. A 422 naming what is wrong.
pub async fn refuse_nul(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let refused = || {
        ApiError::Engine(dialpool_engine::Error::invalid(
            "body",
            "text may not hold the NUL character (U+0000)",
        ))
        .into_response()
    };
    let uri = request.uri().to_string();
    if uri.contains("%00") || uri.contains("%5Cu0000") {
        return refused();
    }
    let is_json = request
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, JSON_BODY_MAX).await {
        Ok(bytes) => bytes,
        Err(_) => return ApiError::PayloadTooLarge(JSON_BODY_MAX as u64).into_response(),
    };
    // JSON writes NUL only as an escape (a raw one is not JSON and is refused later).
    let escaped_nul = bytes.windows(6).any(|w| w[0] == b'\\' && w[1] == b'u' && &w[2..] == b"0000");
    if escaped_nul || bytes.contains(&0) {
        return refused();
    }
    next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
}
