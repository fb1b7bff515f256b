//! Failures of the auth crate.

/// What went wrong while authenticating.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A stored hash that is not a valid PHC string, or an argon2 failure.
    #[error("password hashing failed: {0}")]
    Hashing(String),
    /// The blocking task was lost (runtime shutting down).
    #[error("password hashing was cancelled")]
    Cancelled,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl From<Error> for domain::Error {
    fn from(err: Error) -> Self {
        domain::Error::internal(err)
    }
}
