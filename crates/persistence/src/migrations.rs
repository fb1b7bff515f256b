//! The schema migrations in `migrations/` at the workspace root, embedded in the binary and
//! run only by an explicit command (`realtime-server migrate`, `cargo xtask migrate`).
//!
//! diesel's migration harness is synchronous; it runs here through diesel-async's
//! connection wrapper on the blocking pool, so no libmysqlclient is needed.

use diesel::migration::{Migration, MigrationSource};
use diesel::mysql::Mysql;
use diesel_async::AsyncMysqlConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::error::{Error, Result};
use crate::server::DatabaseUrl;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

type SyncConn = AsyncConnectionWrapper<AsyncMysqlConnection>;

/// One migration and whether it has been applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationState {
    pub version: String,
    pub name: String,
    pub applied: bool,
}

/// Runs `work` with a synchronous migration connection on a thread of its own, outside any
/// runtime, so the wrapper drives its own (this works under every tokio flavour).
async fn with_connection<T: Send + 'static>(
    url: &DatabaseUrl,
    work: impl FnOnce(&mut SyncConn) -> Result<T> + Send + 'static,
) -> Result<T> {
    let url = url.expose().to_owned();
    let (done, result) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("migrations".into())
        .spawn(move || {
            let outcome = <SyncConn as diesel::Connection>::establish(&url)
                .map_err(|e| Error::Unavailable(e.to_string()))
                .and_then(|mut conn| work(&mut conn));
            let _ = done.send(outcome);
        })
        .map_err(|e| Error::Migration(format!("cannot start migration thread: {e}")))?;
    result
        .await
        .map_err(|_| Error::Migration("migration thread panicked".into()))?
}

fn migration_error(e: impl std::fmt::Display) -> Error {
    Error::Migration(e.to_string())
}

/// Applies every pending migration, oldest first; returns the versions applied.
pub async fn run_pending(url: &DatabaseUrl) -> Result<Vec<String>> {
    with_connection(url, |conn| {
        let done = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(migration_error)?;
        Ok(done.iter().map(ToString::to_string).collect())
    })
    .await
}

/// Reverts the newest applied migration (`all`: every one); returns the versions reverted.
pub async fn revert(url: &DatabaseUrl, all: bool) -> Result<Vec<String>> {
    with_connection(url, move |conn| {
        if all {
            let done = conn
                .revert_all_migrations(MIGRATIONS)
                .map_err(migration_error)?;
            return Ok(done.iter().map(ToString::to_string).collect());
        }
        if conn
            .applied_migrations()
            .map_err(migration_error)?
            .is_empty()
        {
            return Ok(Vec::new());
        }
        let done = conn
            .revert_last_migration(MIGRATIONS)
            .map_err(migration_error)?;
        Ok(vec![done.to_string()])
    })
    .await
}

/// Every known migration, oldest first, with whether it is applied.
pub async fn status(url: &DatabaseUrl) -> Result<Vec<MigrationState>> {
    with_connection(url, |conn| {
        let applied = conn.applied_migrations().map_err(migration_error)?;
        let known: Vec<Box<dyn Migration<Mysql>>> =
            MigrationSource::<Mysql>::migrations(&MIGRATIONS).map_err(migration_error)?;
        Ok(known
            .iter()
            .map(|m| {
                let name = m.name();
                MigrationState {
                    version: name.version().to_string(),
                    name: name.to_string(),
                    applied: applied.contains(&name.version()),
                }
            })
            .collect())
    })
    .await
}
