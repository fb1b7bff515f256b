//! MariaDB/MySQL storage, the source of truth: the diesel schema, embedded migrations, the
//! connection pool, and [`Database`], which implements the domain's store ports. Only this
//! crate knows diesel; rows become domain types before they leave it.

mod audit_log;
mod columns;
mod comments;
mod database;
mod demo_data;
mod devices;
mod error;
pub mod migrations;
mod mirror_outbox;
mod refresh_tokens;
mod schema;
mod server;
#[cfg(feature = "test-support")]
pub mod test_db;
mod transaction;
mod users;

pub use database::{Database, PoolOptions, PoolStatus};
pub use error::{Error, Result};
pub use server::{DatabaseUrl, drop_database, ensure_database_exists};
