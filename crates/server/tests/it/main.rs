//! Black-box tests: the real server on port 0, against a real MariaDB.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod api;
mod api_auth;
mod api_comments;
mod api_errors;
mod api_users;
mod binary;
mod browser;
mod cluster;
mod cluster_faults;
mod docs;
mod firebase;
mod health;
mod large_rooms;
mod outage;
mod socket;
mod transactions;

use http_api::StopHandle;
use server::Config;

pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";

/// A server running on a free port until dropped.
#[derive(Debug)]
pub struct TestServer {
    pub base: String,
    stop: StopHandle,
}

impl TestServer {
    /// Starts the server with `RTS_DATABASE_URL = database_url` and any extra settings.
    pub async fn start(database_url: &str, extra: &[(&str, &str)]) -> Self {
        let mut vars = vec![
            ("RTS_DATABASE_URL".to_owned(), database_url.to_owned()),
            ("RTS_HTTP_ADDR".to_owned(), "127.0.0.1:0".to_owned()),
            ("RTS_HTTP_WORKERS".to_owned(), "2".to_owned()),
            ("RTS_DATABASE_TIMEOUT_MS".to_owned(), "1000".to_owned()),
            ("RTS_JWT_SECRET".to_owned(), TEST_JWT_SECRET.to_owned()),
        ];
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let config = Config::from_vars(vars).expect("test configuration is valid");
        let server = server::start(&config, false).await.expect("server starts");
        let base = format!("http://{}", server.local_addr());
        let stop = server.stop_handle();
        tokio::spawn(server.wait());
        Self { base, stop }
    }

    /// Stops the server the way SIGTERM does (sockets closed with 1012, then requests).
    pub async fn shut_down(&self) {
        self.stop.stop(true).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let stop = self.stop.clone();
        tokio::spawn(async move { stop.stop(false).await });
    }
}

/// An HTTP client for the tests. The workspace's reqwest has rustls without a crypto
/// provider (the Firebase mirror brings ring), so one is installed first.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// `GET url` with [`http_client`].
pub async fn get(url: impl reqwest::IntoUrl) -> reqwest::Result<reqwest::Response> {
    http_client().get(url).send().await
}
