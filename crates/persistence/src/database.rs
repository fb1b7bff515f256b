//! The connection pool and [`Database`], the handle every store goes through.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool::managed::{Metrics, Object, Pool, RecycleError, RecycleResult};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, PoolError, PoolableConnection,
};
use diesel_async::{
    AsyncConnection, AsyncMysqlConnection, SimpleAsyncConnection, TransactionManager,
};
use futures_util::FutureExt;
use tokio::sync::Mutex;

use crate::error::{Error, Result};
use crate::server::DatabaseUrl;

/// Pool sizing and timeouts.
#[derive(Clone, Copy, Debug)]
pub struct PoolOptions {
    pub max_size: usize,
    /// How long to wait for a new connection, and for a free one.
    pub timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_size: 10,
            timeout: Duration::from_secs(3),
        }
    }
}

/// A connection used this recently goes back into use without a `SELECT 1` first.
///
/// diesel-async's manager checks every connection with a query each time it is taken from
/// the pool: a round trip on top of every request's own queries, while the one it protects
/// against (a connection MariaDB closed, or a server restart) is rare for a connection that
/// answered a moment ago. As HikariCP's `aliveBypassWindowMs` does, only a connection that
/// sat unused longer than this is checked; one that broke mid-query is never reused (see
/// [`Conn`]).
const CHECK_IF_UNUSED_FOR: Duration = Duration::from_secs(2);

/// diesel-async's pool manager, checking connections only as [`CHECK_IF_UNUSED_FOR`] says.
struct Manager(AsyncDieselConnectionManager<AsyncMysqlConnection>);

impl deadpool::managed::Manager for Manager {
    type Type = AsyncMysqlConnection;
    type Error = PoolError;

    async fn create(&self) -> std::result::Result<AsyncMysqlConnection, PoolError> {
        self.0.create().await
    }

    async fn recycle(
        &self,
        conn: &mut AsyncMysqlConnection,
        metrics: &Metrics,
    ) -> RecycleResult<PoolError> {
        if metrics.last_used() > CHECK_IF_UNUSED_FOR {
            return self.0.recycle(conn, metrics).await;
        }
        if conn.is_broken() {
            return Err(RecycleError::message("broken connection"));
        }
        Ok(())
    }
}

/// How full the pool is, for metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    pub max_size: usize,
    pub open: usize,
    pub idle: usize,
    pub waiting: usize,
}

/// The MariaDB/MySQL database: a pool of connections, each set to UTC.
///
/// Building it does not connect, so a server starts while the database is down; each
/// use fails fast until it is back, then recovers without a restart.
///
/// Inside a transaction ([`UnitOfWork::begin`](domain::ports::UnitOfWork::begin)) a
/// `Database` is bound to that transaction's one connection, and every store call goes
/// through it.
#[derive(Clone)]
pub struct Database {
    pool: Pool<Manager>,
    /// The open transaction's connection; `None` once it committed or rolled back.
    bound: Option<Arc<Mutex<Option<Conn>>>>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("pool", &self.status())
            .finish()
    }
}

/// A pooled connection that goes back into use only when the work on it has finished.
///
/// A query whose future is dropped mid-flight (the client went away, or actix dropped a
/// handler because another of its extractors failed) leaves its connection mid-protocol:
/// the rest of that reply is still on the wire, and the next query on the connection would
/// read it as its own answer, a row of someone else's request. The pool's `SELECT 1` check
/// usually notices, but not always (diesel_async#139). So a connection is handed back as
/// good by [`Conn::release`] only; dropped without it, it is marked broken, and the pool
/// closes it instead of reusing it. [`with_conn!`] does both.
pub(crate) struct Conn {
    connection: Object<Manager>,
    released: bool,
}

impl Conn {
    /// The work on this connection finished: it may be reused.
    pub(crate) fn release(mut self) {
        self.released = true;
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        if !self.released {
            tracing::debug!(
                "a database connection was abandoned mid-query or mid-transaction, or its query failed; it will be closed"
            );
            let connection: &mut AsyncMysqlConnection = &mut self.connection;
            <AsyncMysqlConnection as AsyncConnection>::TransactionManager::transaction_manager_status_mut(
                connection,
            )
            .set_in_error();
        }
    }
}

impl std::ops::Deref for Conn {
    type Target = AsyncMysqlConnection;

    fn deref(&self) -> &AsyncMysqlConnection {
        &self.connection
    }
}

impl std::ops::DerefMut for Conn {
    fn deref_mut(&mut self) -> &mut AsyncMysqlConnection {
        &mut self.connection
    }
}

/// How work on a pooled connection ended, as far as the connection is concerned.
pub(crate) trait Outcome {
    /// Whether the connection may serve the next query: after success, or after an error
    /// MariaDB answered in full (no row, a broken constraint). After any other error (the
    /// connection dropped or timed out, a protocol error, a server error of no known kind)
    /// it is closed and the pool opens a fresh one, since a connection used moments ago
    /// goes back into use unchecked ([`CHECK_IF_UNUSED_FOR`]).
    fn leaves_connection_usable(&self) -> bool;
}

impl<T> Outcome for std::result::Result<T, diesel::result::Error> {
    fn leaves_connection_usable(&self) -> bool {
        self.as_ref().err().is_none_or(answered_in_full)
    }
}

impl<T> Outcome for Result<T> {
    fn leaves_connection_usable(&self) -> bool {
        match self {
            Ok(_) => true,
            Err(Error::Query(e)) => answered_in_full(e),
            Err(_) => false,
        }
    }
}

fn answered_in_full(e: &diesel::result::Error) -> bool {
    use diesel::result::{DatabaseErrorKind as Kind, Error as E};
    match e {
        E::NotFound => true,
        E::DatabaseError(kind, _) => matches!(
            kind,
            Kind::UniqueViolation
                | Kind::ForeignKeyViolation
                | Kind::NotNullViolation
                | Kind::CheckViolation
        ),
        _ => false,
    }
}

/// `with_conn!(db, |c| work)`: runs the future `work` with `c` bound to a pooled
/// `&mut AsyncMysqlConnection`, then hands the connection back; if the caller is dropped
/// before `work` finishes, or `work` failed in a way that may have left the connection
/// unusable ([`Outcome`]), the connection is closed instead (see [`Conn`]). Evaluates to
/// `work`'s output; a connection that cannot be had returns early with the error. In a
/// transaction, `c` is the transaction's connection.
macro_rules! with_conn {
    ($db:expr, |$c:ident| $work:expr) => {{
        match $db.bound() {
            Some(bound) => {
                let mut guard = bound.lock().await;
                let conn = guard.as_mut().ok_or_else(crate::transaction::finished)?;
                let $c: &mut diesel_async::AsyncMysqlConnection = conn;
                $work.await
            }
            None => {
                let mut conn = $db.conn().await?;
                let $c: &mut diesel_async::AsyncMysqlConnection = &mut conn;
                let output = $work.await;
                if crate::database::Outcome::leaves_connection_usable(&output) {
                    conn.release();
                }
                output
            }
        }
    }};
}
pub(crate) use with_conn;

impl Database {
    /// A lazily connecting pool for `url`. Must be called inside a tokio runtime.
    pub fn connect_lazy(url: &DatabaseUrl, options: PoolOptions) -> Result<Self> {
        let mut config = ManagerConfig::default();
        config.custom_setup = Box::new(|url| {
            async move {
                let mut conn = AsyncMysqlConnection::establish(url).await?;
                conn.batch_execute("SET time_zone = '+00:00'")
                    .await
                    .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
                Ok(conn)
            }
            .boxed()
        });
        let manager = Manager(AsyncDieselConnectionManager::new_with_config(
            url.expose().to_owned(),
            config,
        ));
        let pool = Pool::builder(manager)
            .max_size(options.max_size)
            .create_timeout(Some(options.timeout))
            .wait_timeout(Some(options.timeout))
            .recycle_timeout(Some(options.timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        Ok(Self { pool, bound: None })
    }

    /// This database bound to `conn`, on which a transaction is open.
    pub(crate) fn bound_to(&self, conn: Conn) -> Self {
        Self {
            pool: self.pool.clone(),
            bound: Some(Arc::new(Mutex::new(Some(conn)))),
        }
    }

    /// The connection of the transaction this database is bound to, if it is.
    pub(crate) fn bound(&self) -> Option<&Mutex<Option<Conn>>> {
        self.bound.as_deref()
    }

    /// A connection from the pool; prefer [`with_conn!`], which releases it.
    pub(crate) async fn conn(&self) -> Result<Conn> {
        Ok(Conn {
            connection: self.pool.get().await?,
            released: false,
        })
    }

    /// Runs `SELECT 1` on a pooled connection.
    pub async fn ping(&self) -> Result<()> {
        Ok(with_conn!(self, |c| c.batch_execute("SELECT 1"))?)
    }

    pub fn status(&self) -> PoolStatus {
        let s = self.pool.status();
        PoolStatus {
            max_size: s.max_size,
            open: s.size,
            idle: s.available,
            waiting: s.waiting,
        }
    }
}

#[async_trait]
impl domain::ports::HealthProbe for Database {
    fn name(&self) -> &'static str {
        "mariadb"
    }

    async fn check(&self) -> std::result::Result<(), String> {
        self.ping().await.map_err(|e| e.to_string())
    }
}
