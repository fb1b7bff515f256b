//! Integration tests of the stores and migrations against a real MariaDB; each test has a
//! database of its own (see `persistence::test_db`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod audit_log;
mod comments;
mod devices;
mod migrations;
mod mirror_outbox;
mod pool;
mod refresh_tokens;
mod transactions;
mod users;

use domain::ports::UserStore;
use domain::{Email, NewUser, Role, User, Username};
use persistence::Database;

/// Creates a user named `name` with email `<name>@example.com`.
pub async fn user(db: &Database, name: &str) -> User {
    UserStore::insert(
        db,
        NewUser {
            email: Email::parse(&format!("{name}@example.com")).expect("valid email"),
            username: Username::parse(name).expect("valid username"),
            password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g".into(),
            role: Role::User,
        },
    )
    .await
    .expect("user inserted")
}
