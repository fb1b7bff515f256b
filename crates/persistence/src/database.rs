//! The connection pool and [`Database`], the handle every store goes through.

use std::time::Duration;

use async_trait::async_trait;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{AsyncDieselConnectionManager, ManagerConfig};
use diesel_async::{AsyncConnection, AsyncMysqlConnection, SimpleAsyncConnection};
use futures_util::FutureExt;

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
#[derive(Clone)]
pub struct Database {
    pool: Pool<AsyncMysqlConnection>,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Database")
            .field("pool", &self.status())
            .finish()
    }
}

pub(crate) type Conn = Object<AsyncMysqlConnection>;

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
        let manager =
            AsyncDieselConnectionManager::new_with_config(url.expose().to_owned(), config);
        let pool = Pool::builder(manager)
            .max_size(options.max_size)
            .create_timeout(Some(options.timeout))
            .wait_timeout(Some(options.timeout))
            .recycle_timeout(Some(options.timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Unavailable(e.to_string()))?;
        Ok(Self { pool })
    }

    pub(crate) async fn conn(&self) -> Result<Conn> {
        Ok(self.pool.get().await?)
    }

    /// Runs `SELECT 1` on a pooled connection.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.conn().await?;
        conn.batch_execute("SELECT 1").await?;
        Ok(())
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
