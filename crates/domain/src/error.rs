//! The domain's error: every failure says what kind it is, so the edge (http, realtime)
//! can answer without knowing the cause.

use crate::values::ValidationError;

/// A boxed cause kept for logs; never shown to clients.
pub type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong, by kind.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input broke a documented rule.
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// The thing asked for does not exist (or is hidden from the caller).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The change clashes with existing state, e.g. a username already taken.
    #[error("{0}")]
    Conflict(String),
    /// The caller is not who it claims to be.
    #[error("unauthorized")]
    Unauthorized,
    /// The caller is known but may not do this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// Too many attempts; `retry_after` says when the next one will be accepted.
    #[error("rate limit {limit} reached")]
    RateLimited {
        limit: &'static str,
        retry_after: std::time::Duration,
    },
    /// A dependency (database, broker) cannot be reached right now; retrying may help.
    #[error("{what} unavailable")]
    Unavailable {
        what: &'static str,
        #[source]
        cause: Cause,
    },
    /// A bug or an unexpected state; the cause goes to the log only.
    #[error("internal error")]
    Internal(#[source] Cause),
}

/// Result with the domain [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The reason clients are given for this kind of failure: the error envelope's `code`
    /// over REST and the error reply's `reason` over WebSocket. The one table of them.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Invalid(_) => "validation_failed",
            Error::NotFound(_) => "not_found",
            Error::Conflict(_) => "conflict",
            // The token names a user or device that is gone.
            Error::Unauthorized => "invalid_token",
            Error::Forbidden(_) => "forbidden",
            Error::RateLimited { .. } => "rate_limited",
            Error::Unavailable { .. } => "unavailable",
            Error::Internal(_) => "internal",
        }
    }

    /// Wraps an unexpected failure.
    pub fn internal(cause: impl Into<Cause>) -> Self {
        Self::Internal(cause.into())
    }

    /// Wraps a failure to reach a dependency.
    pub fn unavailable(what: &'static str, cause: impl Into<Cause>) -> Self {
        Self::Unavailable {
            what,
            cause: cause.into(),
        }
    }
}
