//! The HTTP face of realtime-server, and the only crate that knows actix: the app factory
//! shared by the binary and the tests, routes, middleware (request ids, access log,
//! metrics) and the one JSON error envelope every failure is answered with.

mod browser;
mod client_addr;
mod error;
mod extract;
mod middleware;
mod routes;
mod serve;
mod socket;
mod state;
mod views;

pub use browser::{AllowedOrigins, BrowserOptions};
pub use client_addr::{ForwardedHeader, TrustedProxies};
pub use routes::demo::DemoHints;
pub use serve::{HttpOptions, RunningServer, StopHandle, StopHook};
pub use state::AppState;

/// Mounts every route on an actix app; [`serve`] wraps the middleware around it.
pub fn configure(state: AppState) -> impl FnOnce(&mut actix_web::web::ServiceConfig) {
    move |cfg| {
        let browser = state.browser.clone();
        cfg.app_data(actix_web::web::Data::new(state));
        routes::configure(cfg, &browser);
    }
}

pub use serve::serve;
