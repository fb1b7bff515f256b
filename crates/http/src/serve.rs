//! Binding and running the HTTP server, with graceful shutdown.
//!
//! The server is actix-web's app inside actix-http's HTTP/1 service, built here rather than
//! through `HttpServer` for one reason: `HttpServer` cannot take an upgrade handler, and
//! WebSocket upgrades must leave actix-http's connection machinery to stay small (see
//! `socket`).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_http::HttpService;
use actix_service::{fn_service, map_config};
use actix_web::App;
use actix_web::dev::AppConfig;
use actix_web::middleware::from_fn;

use crate::state::AppState;

/// How the HTTP server runs.
#[derive(Clone, Copy, Debug)]
pub struct HttpOptions {
    /// Worker threads (0 = one per core).
    pub workers: usize,
    /// How long in-flight requests (and closing sockets) get to finish on shutdown.
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
    stop: StopHandle,
}

impl std::fmt::Debug for RunningServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunningServer")
            .field("addr", &self.addr)
            .finish()
    }
}

/// Work to finish on shutdown once the sockets are closed (the Firebase mirror's last
/// writes), before the server stops.
pub type StopHook = Box<dyn Fn() -> futures_util::future::BoxFuture<'static, ()> + Send + Sync>;

/// Stops a [`RunningServer`] from elsewhere.
#[derive(Clone)]
pub struct StopHandle {
    server: actix_web::dev::ServerHandle,
    realtime: Arc<realtime::Realtime>,
    grace: Duration,
    hooks: Arc<std::sync::Mutex<Vec<StopHook>>>,
}

impl std::fmt::Debug for StopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StopHandle")
    }
}

impl StopHandle {
    /// Stops accepting new connections (existing ones go on).
    pub async fn pause(&self) {
        self.server.pause().await;
    }

    /// Stops accepting, then, if `graceful`, closes every socket (1012, so clients
    /// reconnect elsewhere) and lets sockets and in-flight requests finish within the
    /// shutdown timeout. Returns once the server has stopped.
    pub async fn stop(&self, graceful: bool) {
        // Stop accepting first, or clients reconnect to the closing node at once.
        self.server.pause().await;
        if graceful {
            let sockets = self.realtime.close_all();
            tracing::info!(
                sockets,
                "shutting down: closing sockets, finishing requests"
            );
            let deadline = tokio::time::Instant::now() + self.grace;
            while self.realtime.open_sockets() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        let hooks = std::mem::take(&mut *self.hooks.lock().unwrap_or_else(|p| p.into_inner()));
        for hook in hooks {
            hook().await;
        }
        self.server.stop(graceful).await;
    }
}

impl RunningServer {
    pub fn local_addr(&self) -> std::net::SocketAddr {
        self.addr
    }

    pub fn stop_handle(&self) -> StopHandle {
        self.stop.clone()
    }

    /// Runs `hook` when the server stops, after its sockets are closed; hooks run once.
    pub fn on_stop(&self, hook: StopHook) {
        self.stop
            .hooks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(hook);
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
    let realtime = state.realtime.clone();
    let mut builder = actix_web::dev::Server::build()
        .shutdown_timeout(options.shutdown_timeout.as_secs())
        .listen("realtime-server", listener, move || {
            let app_state = state.clone();
            let app = App::new()
                // CORS headers for the allowed origins; the others are refused first.
                .wrap(crate::browser::cors(&state.browser.allowed_origins))
                .wrap(from_fn(crate::browser::refuse_foreign_origins))
                // Around the whole app, not a scope: requests no route matches get them too.
                .wrap(from_fn(crate::middleware::envelope))
                .wrap(from_fn(crate::browser::security_headers))
                .wrap(from_fn(crate::middleware::record_metrics))
                .wrap(from_fn(crate::middleware::request_id))
                .app_data(actix_web::web::PayloadConfig::new(options.max_body_bytes))
                .app_data(
                    actix_web::web::JsonConfig::default()
                        .limit(options.max_body_bytes)
                        .error_handler(crate::error::json_error),
                )
                .configure(crate::configure(app_state));
            let socket_state = state.clone();
            HttpService::build()
                // What actix-web's HttpServer sets; the other defaults are the same.
                .client_disconnect_timeout(Duration::from_secs(1))
                .local_addr(addr)
                .upgrade(fn_service(move |(req, framed)| {
                    crate::socket::upgrade(req, framed, socket_state.clone())
                }))
                .finish(map_config(app, |()| AppConfig::default()))
                .tcp()
        })?;
    if options.workers > 0 {
        builder = builder.workers(options.workers);
    }
    if !handle_signals {
        builder = builder.disable_signals();
    }
    let server = builder.run();
    let stop = StopHandle {
        server: server.handle(),
        realtime,
        grace: options.shutdown_timeout,
        hooks: Arc::default(),
    };
    Ok(RunningServer { server, addr, stop })
}
