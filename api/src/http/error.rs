//! The one place errors become HTTP: every failure leaves as `application/problem+json`
//! (RFC 9457). Engine errors map by kind; internals go to the log, never to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dialpool_engine::ErrorKind;
use serde::Serialize;

pub const PROBLEM_JSON: &str = "application/problem+json";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Engine(#[from] dialpool_engine::Error),
    #[error("sign in first: this route needs a session or an API token")]
    Unauthenticated,
    #[error("this needs the '{0}' permission")]
    Forbidden(&'static str),
    #[error("only a platform administrator may do this")]
    PlatformOnly,
    #[error("change your password first")]
    PasswordChangeRequired,
    #[error("the X-CSRF-Token header is missing or does not match the session")]
    Csrf,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("wrong e-mail or password")]
    BadCredentials,
    #[error("too many failed sign-ins; try again in {0} s")]
    Throttled(i64),
    #[error("the upload is larger than the limit of {0} bytes")]
    PayloadTooLarge(u64),
    #[error("upload rejected: {0}")]
    UploadTooLarge(String),
    #[error("{0}")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

/// An RFC 9457 problem. `code` is stable for programs; `detail` is for people.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem, e.g. `/problems/not-found`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    /// The request field at fault, for validation errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            ApiError::Engine(e) => match e.kind() {
                ErrorKind::InvalidInput => {
                    (StatusCode::UNPROCESSABLE_ENTITY, "invalid-input", "Invalid input")
                }
                ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
                ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict", "Conflict"),
                ErrorKind::Unavailable => {
                    (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Service unavailable")
                }
                ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
                ErrorKind::Upstream => (StatusCode::BAD_GATEWAY, "upstream", "Remote host failed"),
            },
            ApiError::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated", "Unauthenticated"),
            ApiError::BadCredentials => (StatusCode::UNAUTHORIZED, "bad-credentials", "Sign-in failed"),
            ApiError::Forbidden(_) | ApiError::PlatformOnly => {
                (StatusCode::FORBIDDEN, "forbidden", "Forbidden")
            }
            ApiError::PasswordChangeRequired => {
                (StatusCode::FORBIDDEN, "password-change-required", "Password change required")
            }
            ApiError::Csrf => (StatusCode::FORBIDDEN, "csrf", "CSRF check failed"),
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            ApiError::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, "throttled", "Too many attempts"),
            ApiError::PayloadTooLarge(_) | ApiError::UploadTooLarge(_) => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "Payload too large")
            }
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal", "Internal error"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title) = self.parts();
        let detail = if status.is_server_error() {
            // The cause chain is for operators; the client gets the request id header.
            tracing::error!(error = ?self, "request failed");
            match status {
                StatusCode::SERVICE_UNAVAILABLE => {
                    "the database is unavailable; try again shortly".to_owned()
                }
                // The remote host's own complaint, which the administrator must see to fix it.
                StatusCode::BAD_GATEWAY => self.to_string(),
                _ => "an internal error occurred; the server log has the details under this request's id"
                    .to_owned(),
            }
        } else {
            self.to_string()
        };
        let field = match &self {
            ApiError::Engine(dialpool_engine::Error::InvalidArgument { field, .. }) => {
                Some((*field).to_owned())
            }
            ApiError::Engine(dialpool_engine::Error::Integrity { field, .. }) => field.clone(),
            _ => None,
        };
        let problem = Problem {
            kind: format!("/problems/{code}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
            field,
        };
        let mut response = (status, axum::Json(problem)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        match self {
            ApiError::Throttled(seconds) => {
                if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
                    response.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            ApiError::Unauthenticated => {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            _ => {}
        }
        response
    }
}

impl From<axum::extract::rejection::JsonRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::JsonRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<axum::extract::rejection::PathRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::PathRejection) -> Self {
        ApiError::BadRequest(rejection.body_text())
    }
}

impl From<axum::extract::multipart::MultipartRejection> for ApiError {
    fn from(rejection: axum::extract::multipart::MultipartRejection) -> Self {
        ApiError::BadRequest(format!("not a multipart/form-data upload: {}", rejection.body_text()))
    }
}

impl From<axum::extract::multipart::MultipartError> for ApiError {
    fn from(error: axum::extract::multipart::MultipartError) -> Self {
        if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::UploadTooLarge(error.body_text())
        } else {
            ApiError::BadRequest(format!("malformed upload: {}", error.body_text()))
        }
    }
}

impl From<deadpool_postgres::PoolError> for ApiError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        ApiError::Engine(error.into())
    }
}

impl From<tokio_postgres::Error> for ApiError {
    fn from(error: tokio_postgres::Error) -> Self {
        ApiError::Engine(error.into())
    }
}

/// Routes nobody serves answer in the same shape.
pub async fn fallback_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::NotFound(format!("route {}", uri.path()))
}
