//! The one JSON error envelope: `{"error": {"code", "message", "details"?}}` (documented in
//! docs/api.md). Only this module turns an error kind into a status code; a 5xx is logged
//! here, once, with its cause, and the client sees no internals.

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use domain::ValidationError;
use serde::Serialize;
use utoipa::ToSchema;

/// An error as the client sees it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Vec<FieldError>,
    retry_after: Option<Duration>,
}

/// One broken rule of one input field.
#[derive(Debug, Serialize, ToSchema)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl From<ValidationError> for FieldError {
    fn from(e: ValidationError) -> Self {
        Self {
            field: e.field,
            message: e.message,
        }
    }
}

/// Every error response: `{"error": {...}}`.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
pub(crate) struct Envelope<'a> {
    error: Body<'a>,
}

/// What went wrong.
#[derive(Serialize, ToSchema)]
#[schema(as = ErrorBody)]
pub(crate) struct Body<'a> {
    /// Machine-readable, stable (see docs/api.md).
    #[schema(value_type = String)]
    code: &'a str,
    /// For people; may change.
    #[schema(value_type = String)]
    message: &'a str,
    /// Per-field problems, for validation errors.
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    #[schema(value_type = Option<Vec<FieldError>>)]
    details: &'a [FieldError],
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after: None,
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    /// 422 for one field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::fields(vec![FieldError {
            field,
            message: message.into(),
        }])
    }

    /// 422 listing every broken field.
    pub fn fields(details: Vec<FieldError>) -> Self {
        Self {
            details,
            ..Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "the request has invalid fields",
            )
        }
    }

    /// The envelope for a bare status (405, or an error actix produced without a body).
    pub fn for_status(status: StatusCode) -> Self {
        let code = match status {
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
            StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
            StatusCode::URI_TOO_LONG => "uri_too_long",
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
            s if s.is_server_error() => "internal",
            _ => "bad_request",
        };
        let message = status.canonical_reason().unwrap_or("error").to_lowercase();
        Self::new(status, code, message)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            res.insert_header((header::RETRY_AFTER, secs.max(1).to_string()));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        res.json(Envelope {
            error: Body {
                code: self.code,
                message: &self.message,
                details: &self.details,
            },
        })
    }
}

impl From<domain::Error> for ApiError {
    fn from(err: domain::Error) -> Self {
        use domain::Error as E;
        // The client-facing code comes from the domain's one table (shared with the
        // WebSocket rooms); the status and message are REST's.
        let code = err.reason();
        match err {
            E::Invalid(v) => Self::fields(vec![v.into()]),
            E::NotFound(what) => {
                Self::new(StatusCode::NOT_FOUND, code, format!("{what} not found"))
            }
            E::Conflict(m) => Self::new(StatusCode::CONFLICT, code, m),
            // The use case found the caller's user gone: the token is no longer valid.
            E::Unauthorized => Self::new(
                StatusCode::UNAUTHORIZED,
                code,
                "the access token is not valid",
            ),
            E::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, code, m),
            E::RateLimited { limit, retry_after } => {
                tracing::debug!(limit, retry_after_ms = %retry_after.as_millis(), "rate limited");
                Self {
                    retry_after: Some(retry_after),
                    ..Self::new(
                        StatusCode::TOO_MANY_REQUESTS,
                        code,
                        domain::limits::refusal(limit, retry_after),
                    )
                }
            }
            E::Unavailable { what, cause } => {
                tracing::warn!(dependency = what, error = %cause, "dependency unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    code,
                    format!("{what} is unavailable, try again shortly"),
                )
            }
            E::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    code,
                    "internal server error",
                )
            }
        }
    }
}

impl From<auth::Error> for ApiError {
    fn from(err: auth::Error) -> Self {
        use auth::Error as E;
        let unauthorized = |code, message| Self::new(StatusCode::UNAUTHORIZED, code, message);
        match err {
            E::InvalidCredentials => {
                unauthorized("invalid_credentials", "invalid email or password")
            }
            E::InvalidToken => unauthorized("invalid_token", "the access token is not valid"),
            E::TokenExpired => {
                unauthorized("token_expired", "the access token has expired; refresh it")
            }
            E::InvalidRefreshToken => {
                unauthorized("invalid_refresh_token", "the refresh token is not valid")
            }
            E::RefreshTokenReused => unauthorized(
                "refresh_token_reused",
                "this refresh token was already used; the device was signed out",
            ),
            E::AccountDeactivated => Self::new(
                StatusCode::FORBIDDEN,
                "account_deactivated",
                "this account is deactivated",
            ),
            E::WrongPassword => Self::new(
                StatusCode::FORBIDDEN,
                "wrong_password",
                "the current password is wrong",
            ),
            E::Domain(e) => e.into(),
            other => domain::Error::internal(other).into(),
        }
    }
}

/// Collects field errors so one response lists every broken field.
#[derive(Debug, Default)]
pub(crate) struct Fields(Vec<FieldError>);

impl Fields {
    /// The value, or `None` with the error recorded.
    pub(crate) fn take<T>(&mut self, parsed: Result<T, ValidationError>) -> Option<T> {
        match parsed {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e.into());
                None
            }
        }
    }

    /// The 422 for everything recorded (call when a `take` gave `None`).
    pub(crate) fn error(self) -> ApiError {
        ApiError::fields(self.0)
    }
}

/// Body errors: wrong content type 415, too large 413, bad JSON syntax 400, JSON of the
/// wrong shape 422.
pub(crate) fn json_error(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let api = match &err {
        J::ContentType => ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the body as application/json",
        ),
        J::Overflow { .. } | J::OverflowKnownLength { .. } => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        ),
        J::Deserialize(e) if e.is_data() => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            format!("the body has the wrong shape: {e}"),
        ),
        J::Deserialize(e) => ApiError::new(
            StatusCode::BAD_REQUEST,
            "malformed_json",
            format!("the body is not valid JSON: {e}"),
        ),
        other => ApiError::new(StatusCode::BAD_REQUEST, "bad_request", other.to_string()),
    };
    api.into()
}

/// Query string errors are 422 naming the problem.
pub(crate) fn query_error(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
        format!("invalid query string: {err}"),
    )
    .into()
}

/// A path segment that cannot be an id means the resource does not exist.
pub(crate) fn path_error(
    _err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::not_found().into()
}
