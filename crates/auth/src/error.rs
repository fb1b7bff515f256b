//! Failures of the auth crate, each with the kind the edge answers with.

/// What went wrong while authenticating or managing accounts.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Unknown email or wrong password (deliberately indistinguishable).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// The access token is malformed, forged, signed with another algorithm or key, or
    /// its device or user was revoked.
    #[error("invalid access token")]
    InvalidToken,
    #[error("access token expired")]
    TokenExpired,
    /// The refresh token is unknown, expired or revoked.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// An already-used refresh token was presented; the device's tokens are now revoked.
    #[error("refresh token reused; all sessions of this device were revoked")]
    RefreshTokenReused,
    /// The account was deactivated by an administrator.
    #[error("account deactivated")]
    AccountDeactivated,
    /// The current password given for a password change is wrong.
    #[error("current password is wrong")]
    WrongPassword,
    /// Anything the domain reports (validation, not found, unavailable, ...).
    #[error(transparent)]
    Domain(#[from] domain::Error),
    /// A stored hash that is not a valid PHC string, or an argon2 failure.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The blocking task was lost (runtime shutting down).
    #[error("password hashing was cancelled")]
    Cancelled,
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<domain::ValidationError> for Error {
    fn from(err: domain::ValidationError) -> Self {
        Error::Domain(err.into())
    }
}

impl From<Error> for domain::Error {
    fn from(err: Error) -> Self {
        match err {
            Error::Domain(e) => e,
            Error::InvalidCredentials
            | Error::InvalidToken
            | Error::TokenExpired
            | Error::InvalidRefreshToken
            | Error::RefreshTokenReused => domain::Error::Unauthorized,
            Error::AccountDeactivated => domain::Error::Forbidden("account deactivated"),
            Error::WrongPassword => domain::Error::Forbidden("current password is wrong"),
            other => domain::Error::internal(other),
        }
    }
}
