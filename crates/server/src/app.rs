//! Wiring: builds the pool and the app state, binds the listener and starts serving.

use std::net::TcpListener;
use std::sync::Arc;

use http_api::{AppState, HttpOptions, RunningServer};
use persistence::{Database, PoolOptions};

use crate::config::Config;
use crate::telemetry;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Database(#[from] persistence::Error),
    #[error("cannot start the HTTP server: {0}")]
    Http(std::io::Error),
}

/// Starts the server. MariaDB need not be up: `/readyz` reports it until it is.
/// `handle_signals`: stop gracefully on SIGINT/SIGTERM (the binary), or only through the
/// returned server's stop handle (tests).
pub async fn start(config: &Config, handle_signals: bool) -> Result<RunningServer, StartError> {
    if config.migrate_on_start {
        persistence::ensure_database_exists(&config.database_url).await?;
        let applied = persistence::migrations::run_pending(&config.database_url).await?;
        tracing::info!(count = applied.len(), "migrations applied on start");
    }
    let database = Database::connect_lazy(
        &config.database_url,
        PoolOptions {
            max_size: config.database_pool_size,
            timeout: config.database_timeout,
        },
    )?;
    let metrics = telemetry::prometheus();
    let pool = database.clone();
    let state = AppState {
        probes: vec![Arc::new(database)],
        render_metrics: Arc::new(move || {
            let s = pool.status();
            metrics::gauge!("db_pool_connections", "state" => "open").set(s.open as f64);
            metrics::gauge!("db_pool_connections", "state" => "idle").set(s.idle as f64);
            metrics::gauge!("db_pool_max_connections").set(s.max_size as f64);
            metrics::gauge!("db_pool_waiting").set(s.waiting as f64);
            metrics.run_upkeep();
            metrics.render()
        }),
    };
    let listener = TcpListener::bind(config.http_addr).map_err(|source| StartError::Bind {
        addr: config.http_addr,
        source,
    })?;
    let options = HttpOptions {
        workers: config.http_workers,
        shutdown_timeout: config.http_shutdown_timeout,
        max_body_bytes: config.http_max_body_bytes,
    };
    let server =
        http_api::serve(listener, state, options, handle_signals).map_err(StartError::Http)?;
    tracing::info!(
        addr = %server.local_addr(),
        database = %config.database_url,
        redis = if config.redis_url.is_some() { "configured" } else { "off (single node)" },
        "listening"
    );
    Ok(server)
}
