//! Storage failures, and how they read as domain errors.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

/// What went wrong talking to the database.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No connection could be had: the server is down, unreachable, or refused us.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The setting names no usable MySQL URL.
    #[error("invalid database URL: {0}")]
    BadUrl(String),
    #[error(transparent)]
    Query(#[from] DieselError),
    #[error("migration failed: {0}")]
    Migration(String),
    /// A row holds something the domain rejects (a bug or a hand edit).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// A store of a transaction was used after the transaction committed or rolled back.
    #[error("the transaction already ended")]
    TransactionEnded,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn corrupt(what: impl std::fmt::Display) -> Self {
        Self::Corrupt(what.to_string())
    }

    /// True when the failure means "the database is not there" rather than a bad query.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Error::Unavailable(_) => true,
            Error::Query(DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)) => {
                true
            }
            // diesel-async reports the connection failing under a query (MariaDB restarted,
            // the connection was killed or timed out) as an error of unknown kind whose
            // message is mysql_async's for an I/O or driver error; MariaDB's own errors
            // never start so.
            Error::Query(DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)) => {
                let message = info.message();
                message.starts_with("Input/output error") || message.starts_with("Driver error")
            }
            _ => false,
        }
    }
}

impl From<deadpool::managed::PoolError<diesel_async::pooled_connection::PoolError>> for Error {
    fn from(err: deadpool::managed::PoolError<diesel_async::pooled_connection::PoolError>) -> Self {
        use deadpool::managed::PoolError;
        match err {
            PoolError::Timeout(kind) => Error::Unavailable(format!("timed out ({kind:?})")),
            PoolError::Backend(e) => Error::Unavailable(e.to_string()),
            PoolError::Closed => Error::Unavailable("pool closed".into()),
            other => Error::Unavailable(other.to_string()),
        }
    }
}

impl From<Error> for domain::Error {
    fn from(err: Error) -> Self {
        if err.is_unavailable() {
            return domain::Error::unavailable("database", err);
        }
        match err {
            Error::Query(DieselError::NotFound) => domain::Error::NotFound("record"),
            Error::Query(DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info)) => {
                domain::Error::Conflict(unique_violation_message(info.message()))
            }
            // A row written for a user whose row is gone (deleted by hand while one of its
            // tokens was still admitted): whoever acts as that user no longer exists.
            Error::Query(DieselError::DatabaseError(
                DatabaseErrorKind::ForeignKeyViolation,
                info,
            )) if info.message().contains("_user_fk") => domain::Error::Unauthorized,
            other => domain::Error::internal(other),
        }
    }
}

/// Names the taken value from the violated key, without echoing the value itself.
fn unique_violation_message(db_message: &str) -> String {
    let taken = if db_message.contains("users_email_key") {
        "email"
    } else if db_message.contains("users_username_key") {
        "username"
    } else if db_message.contains("user_devices_user_device_key") {
        "device_id"
    } else if db_message.contains("comments_author_video_client_key") {
        "client_id"
    } else {
        return "already exists".into();
    };
    format!("{taken} is already taken")
}
