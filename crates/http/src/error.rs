//! The one JSON error envelope: `{"error": {"code", "message", "details"?, "request_id"?}}`.
//! Only this module turns an error kind into a status code; a 5xx is logged here, once,
//! with its cause, and the client sees no internals.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

/// An error as the client sees it.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Vec<FieldError>,
}

/// One broken rule of one input field.
#[derive(Debug, Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    details: &'a [FieldError],
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
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
        HttpResponse::build(self.status).json(Envelope {
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
        match err {
            E::Invalid(v) => Self {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "validation_failed",
                message: "the request has invalid fields".into(),
                details: vec![FieldError {
                    field: v.field,
                    message: v.message,
                }],
            },
            E::NotFound(what) => Self::new(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
            ),
            E::Conflict(m) => Self::new(StatusCode::CONFLICT, "conflict", m),
            E::Unauthorized => Self::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "authentication required",
            ),
            E::Forbidden(m) => Self::new(StatusCode::FORBIDDEN, "forbidden", m),
            E::Unavailable { what, cause } => {
                tracing::warn!(dependency = what, error = %cause, "dependency unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "unavailable",
                    format!("{what} is unavailable, try again shortly"),
                )
            }
            E::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "internal server error",
                )
            }
        }
    }
}
