//! Binding and running the HTTP server, with graceful shutdown.

use std::net::TcpListener;
use std::time::Duration;

use actix_web::{App, HttpServer};

use crate::state::AppState;

/// How the HTTP server runs.
#[derive(Clone, Copy, Debug)]
pub struct HttpOptions {
    /// Worker threads (0 = one per core).
    pub workers: usize,
    /// How long in-flight requests get to finish on shutdown.
    pub shutdown_timeout: Duration,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            workers: 0,
            shutdown_timeout: Duration::from_secs(10),
            max_body_bytes: 64 * 1024,
        }
    }
}

/// A server that is accepting connections.
#[must_use = "a server does nothing unless awaited with `wait`"]
pub struct RunningServer {
    server: actix_web::dev::Server,
    addr: std::net::SocketAddr,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish()
    }
}

/// Stops a [`RunningServer`] from elsewhere.
#[derive(Clone)]
pub struct StopHandle(actix_web::dev::ServerHandle);

impl std::fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StopHandle")
    }
}

impl StopHandle {
    /// Stops accepting new connections (existing ones go on).
    pub async fn pause(&self) {
        self.0.pause().await;
    }

    /// Stops accepting, lets in-flight requests finish (`graceful`), then returns.
    pub async fn stop(&self, graceful: bool) {
        self.0.stop(graceful).await;
    }
}

impl RunningServer {
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.server.handle())
    }

    /// Runs until stopped by a [`StopHandle`] or by SIGINT/SIGTERM (graceful).
    pub async fn wait(self) -> std::io::Result<()> {
        self.server.await
    }
}

/// Starts serving `state` on `listener`. Must be called inside a tokio runtime; the
/// returned server handles SIGINT and SIGTERM itself unless `handle_signals` is false.
pub fn serve(
    listener: TcpListener,
    state: AppState,
    options: HttpOptions,
    handle_signals: bool,
) -> std::io::Result<RunningServer> {
    let addr = listener.local_addr()?;
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(actix_web::web::PayloadConfig::new(options.max_body_bytes))
            .app_data(
                actix_web::web::JsonConfig::default()
                    .limit(options.max_body_bytes)
                    .error_handler(crate::error::json_error),
            )
            .configure(crate::configure(state.clone()))
    })
    .shutdown_timeout(options.shutdown_timeout.as_secs())
    .listen(listener)?;
    if options.workers > 0 {
        server = server.workers(options.workers);
    }
    if !handle_signals {
        server = server.disable_signals();
    }
    Ok(RunningServer {
        server: server.run(),
        addr,
    })
}
