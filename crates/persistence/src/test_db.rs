//! Per-test databases (feature `test-support`): each [`TestDatabase`] is a freshly created
//! and migrated database with a unique name, dropped when the value is dropped. Databases
//! left behind by crashed runs are swept the first time a process asks for one.
//!
//! The server to use comes from `RTS_TEST_DATABASE_URL` (any database name; it is replaced),
//! defaulting to `mysql://root@127.0.0.1:3306/rts_test`.
#![allow(clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diesel_async::{AsyncConnection, AsyncMysqlConnection, RunQueryDsl, SimpleAsyncConnection};
use tokio::sync::OnceCell;

use crate::database::{Database, PoolOptions};
use crate::server::{DatabaseUrl, databases_with_prefix, drop_database, ensure_database_exists};

const PREFIX: &str = "rts_test_";
/// Leftovers older than this are swept even if their process might still be alive.
const MAX_AGE: Duration = Duration::from_secs(6 * 3600);

static SWEPT: OnceCell<()> = OnceCell::const_new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A migrated database of its own for one test.
#[derive(Debug)]
pub struct TestDatabase {
    url: DatabaseUrl,
    database: Database,
}

/// The server tests use, from `RTS_TEST_DATABASE_URL`.
pub fn server_url() -> DatabaseUrl {
    let raw = std::env::var("RTS_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/rts_test".to_owned());
    DatabaseUrl::parse(&raw).expect("RTS_TEST_DATABASE_URL is not a valid mysql:// URL")
}

impl TestDatabase {
    /// Creates and migrates a new database. Panics with directions if MariaDB is not there.
    pub async fn new() -> Self {
        let server = server_url();
        SWEPT.get_or_init(|| sweep_leftovers(&server)).await;
        let secs = unix_secs();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("{PREFIX}{secs}_{}_{n}", std::process::id());
        let url = server
            .with_database(&name)
            .expect("generated name is valid");
        if let Err(e) = ensure_database_exists(&url).await {
            panic!(
                "cannot create test database on {server}: {e}\n\
                 Start MariaDB (`cargo xtask services` says how) or set RTS_TEST_DATABASE_URL."
            );
        }
        crate::migrations::run_pending(&url)
            .await
            .expect("migrations apply to a fresh database");
        let database = Database::connect_lazy(&url, PoolOptions::default()).expect("pool builds");
        Self { url, database }
    }

    pub fn url(&self) -> &DatabaseUrl {
        &self.url
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Runs SQL statements on a connection of their own, for what a test must set up behind
    /// the stores' backs (a trigger that makes a write fail, a row deleted by hand).
    pub async fn execute(&self, sql: &str) {
        let mut conn = self.connection().await;
        if let Err(e) = conn.batch_execute(sql).await {
            panic!("{sql}: {e}");
        }
    }

    /// Runs `sql`; its error, if any, is the caller's to judge.
    pub async fn try_execute(&self, sql: &str) -> Result<(), String> {
        let mut conn = self.connection().await;
        conn.batch_execute(sql).await.map_err(|e| e.to_string())
    }

    /// The number `sql` (a `SELECT COUNT(*) ...`) answers.
    pub async fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = self.connection().await;
        let sql = format!("SELECT ({sql}) AS n");
        match diesel::sql_query(&sql).get_result::<Count>(&mut conn).await {
            Ok(count) => count.n,
            Err(e) => panic!("{sql}: {e}"),
        }
    }

    async fn connection(&self) -> AsyncMysqlConnection {
        match AsyncMysqlConnection::establish(self.url.expose()).await {
            Ok(conn) => conn,
            Err(e) => panic!("cannot connect to {}: {e}", self.url),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let url = self.url.clone();
        // Drop may run inside a runtime, which cannot be blocked on: use a thread of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime.block_on(drop_database(&url)).ok()
        })
        .join();
        if !matches!(dropped, Ok(Some(()))) {
            eprintln!("warning: could not drop test database {}", self.url);
        }
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Drops `rts_test_<secs>_<pid>_<n>` databases whose process is gone or that are too old.
async fn sweep_leftovers(server: &DatabaseUrl) {
    let Ok(names) = databases_with_prefix(server, PREFIX).await else {
        return;
    };
    let now = unix_secs();
    for name in names {
        let mut parts = name[PREFIX.len()..].split('_');
        let secs: u64 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let pid: u32 = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let process_gone = !std::path::Path::new(&format!("/proc/{pid}")).exists();
        let too_old = now.saturating_sub(secs) > MAX_AGE.as_secs();
        if (process_gone || too_old)
            && pid != std::process::id()
            && let Ok(url) = server.with_database(&name)
        {
            let _ = drop_database(&url).await;
        }
    }
}
