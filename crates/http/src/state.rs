//! The shared, cheap-to-clone state every handler sees.

use std::sync::Arc;

use domain::comments::Comments;
use domain::ports::HealthProbe;

/// Everything the routes need, built once at startup by the server crate.
#[derive(Clone)]
pub struct AppState {
    /// Dependencies that must answer for `/readyz` to say 200.
    pub probes: Vec<Arc<dyn HealthProbe>>,
    /// Renders the Prometheus text exposition for `/metrics`.
    pub render_metrics: Arc<dyn Fn() -> String + Send + Sync>,
    pub sessions: auth::Sessions,
    pub accounts: auth::Accounts,
    pub comments: Comments,
    pub realtime: Arc<realtime::Realtime>,
    /// Proxies whose forwarded headers name the client (see `client_addr`).
    pub trusted_proxies: Arc<crate::TrustedProxies>,
    /// The web client and which other origins browsers may come from.
    pub browser: Arc<crate::BrowserOptions>,
    /// The demo logins and videos, told to the web client once they are seeded.
    pub demo: crate::DemoHints,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.probes.iter().map(|p| p.name()).collect();
        f.debug_struct("AppState")
            .field("probes", &names)
            .finish_non_exhaustive()
    }
}
