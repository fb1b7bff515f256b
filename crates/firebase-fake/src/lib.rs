//! A local fake of the Firebase Realtime Database REST API and Google's OAuth2 token
//! endpoint, served over real HTTP on 127.0.0.1, for tests and local development.
//!
//! It follows docs/FIREBASE.md section 10: `/<path>.json` addressing with `?ns=`, GET, PUT,
//! POST (push ids), PATCH (atomic multi-path), DELETE, `print=silent|pretty`, `shallow`,
//! server values, ETags (`X-Firebase-ETag`, `if-match`, `if-none-match`), access tokens from
//! the fake `/token` endpoint (RS256 assertions signed with the committed test key), the
//! legacy `?auth=` secret, `Bearer owner`, scripted faults and a request journal.
//! Filtering queries (`orderBy`, `limitTo*`, …) are answered with 400.
//!
//! ```
//! use firebase_fake::{FakeFirebase, Fault};
//! use serde_json::json;
//!
//! let fake = FakeFirebase::start()?;
//! fake.set("videos/v1/meta", json!({ "count": 1 }));
//! assert_eq!(fake.get("videos/v1/meta/count"), json!(1));
//! fake.inject(Fault::status(503).times(2).on("PUT", "videos"));
//! // Point the client at fake.database_url() with fake.service_account_json() as its key.
//! # Ok::<(), std::io::Error>(())
//! ```

#![warn(missing_docs)]

mod database;
mod fault;
mod incoming;
mod journal;
mod methods;
mod path;
mod push_id;
mod random;
mod reply;
mod server;
mod server_values;
mod state;
mod token;
mod tree;

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use tokio::sync::oneshot;

pub use fault::{Fault, FaultKind, Target};
pub use journal::{Auth, Endpoint, Request};
pub use token::{
    CLIENT_EMAIL, DATABASE_SCOPE, JWT_BEARER_GRANT, PRIVATE_KEY_ID, PROJECT_ID,
    TEST_PRIVATE_KEY_PEM, TEST_PUBLIC_KEY_PEM, TOKEN_LIFETIME_SECS, USERINFO_EMAIL_SCOPE,
};

use state::{Config, Shared};

/// The namespace (database name) the fake serves.
pub const NAMESPACE: &str = "fake-db";
/// The legacy database secret the fake accepts as `?auth=`.
pub const LEGACY_SECRET: &str = "fake-db-legacy-secret-0123456789abcdef";

/// Characters escaped in a path segment by [`FakeFirebase::url`].
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'~');

/// A running fake on 127.0.0.1, served by its own thread and tokio runtime (so it works from
/// any test runtime, including ones with paused time). Dropping it stops the server and
/// ends every open connection.
pub struct FakeFirebase {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeFirebase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeFirebase")
            .field("addr", &self.addr)
            .field("namespace", &self.shared.config.namespace)
            .finish_non_exhaustive()
    }
}

impl FakeFirebase {
    /// Starts a fake on a free port of 127.0.0.1.
    pub fn start() -> std::io::Result<Self> {
        Self::start_on(0)
    }

    /// Starts a fake on 127.0.0.1:`port` (0 = a free port).
    pub fn start_on(port: u16) -> std::io::Result<Self> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(Config {
            namespace: NAMESPACE.to_owned(),
            secret: LEGACY_SECRET.to_owned(),
            token_uri: format!("http://{addr}/token"),
        }));
        let (shutdown, shutdown_rx) = oneshot::channel();
        let (started, started_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
        let server_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("firebase-fake-{}", addr.port()))
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = started.send(Err(e));
                        return;
                    }
                };
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(listener) {
                        Ok(listener) => {
                            let _ = started.send(Ok(()));
                            server::serve(listener, server_shared, shutdown_rx).await;
                        }
                        Err(e) => {
                            let _ = started.send(Err(e));
                        }
                    }
                });
            })?;
        started_rx.recv().map_err(|_| {
            std::io::Error::other("the firebase-fake thread ended while starting")
        })??;
        Ok(Self {
            shared,
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The address the fake listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the fake listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The namespace it serves: `"fake-db"`.
    pub fn namespace(&self) -> &str {
        &self.shared.config.namespace
    }

    /// The database URL in the emulator form, `http://127.0.0.1:PORT/?ns=fake-db`: node
    /// `a/b` is at `http://127.0.0.1:PORT/a/b.json?ns=fake-db`.
    pub fn database_url(&self) -> String {
        format!("http://{}/?ns={}", self.addr, self.namespace())
    }

    /// The URL of node `path` (segments percent-encoded), e.g. `url("a/b c")` =
    /// `http://127.0.0.1:PORT/a/b%20c.json?ns=fake-db`.
    pub fn url(&self, path: &str) -> String {
        let segments: Vec<String> = path::split(path)
            .iter()
            .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
            .collect();
        format!(
            "http://{}/{}.json?ns={}",
            self.addr,
            segments.join("/"),
            self.namespace()
        )
    }

    /// The token endpoint, `http://127.0.0.1:PORT/token` (the service account's `token_uri`
    /// and the audience assertions must name).
    pub fn token_uri(&self) -> String {
        self.shared.config.token_uri.clone()
    }

    /// A Google service-account key file (JSON text) for this fake: `type`, `project_id`,
    /// `private_key_id`, `private_key` (the PKCS#8 PEM [`TEST_PRIVATE_KEY_PEM`]),
    /// `client_email`, `client_id`, `auth_uri`, `token_uri` (= [`Self::token_uri`]), …
    pub fn service_account_json(&self) -> String {
        token::service_account_json(&self.shared.config.token_uri)
    }

    /// The legacy database secret accepted as `?auth=` ([`LEGACY_SECRET`]).
    pub fn legacy_secret(&self) -> &str {
        &self.shared.config.secret
    }

    /// The value at `path` (`"videos/v1/comments"`, `""` for the root) as a GET would return
    /// it; `Null` if there is nothing.
    pub fn get(&self, path: &str) -> Value {
        let state = self.shared.lock();
        tree::output(tree::get(&state.tree, &path::split(path)))
    }

    /// Replaces the value at `path` directly (no auth, faults or journal); `null` or `{}`
    /// deletes, and empty parents are pruned. Server values are not resolved.
    pub fn set(&self, path: &str, value: Value) {
        let mut state = self.shared.lock();
        tree::set(&mut state.tree, &path::split(path), tree::normalize(value));
    }

    /// The whole tree (`Null` when empty).
    pub fn tree(&self) -> Value {
        self.get("")
    }

    /// Back to a fresh state: empty tree, empty journal, no faults, hung requests released,
    /// `tokens_issued` 0, auth required, system clock. Tokens already issued stay valid.
    pub fn reset(&self) {
        {
            let mut state = self.shared.lock();
            state.tree = Value::Null;
            state.journal.clear();
            state.faults.clear();
            state.tokens_issued = 0;
            state.open = false;
            state.frozen_ms = None;
        }
        self.shared.release_hangs();
    }

    /// Appends a rule to the fault queue (see [`Fault`]).
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Appends a rule for the token endpoint ([`Fault::on_token`]).
    pub fn inject_token_fault(&self, fault: Fault) {
        self.inject(fault.on_token());
    }

    /// Empties the fault queue (requests already hanging keep hanging: see [`Self::release_hangs`]).
    pub fn clear_faults(&self) {
        self.shared.lock().faults.clear();
    }

    /// Every request hung by [`FaultKind::Hang`] now gets a 503.
    pub fn release_hangs(&self) {
        self.shared.release_hangs();
    }

    /// Every access token issued so far is now expired: requests using one get 401 until the
    /// client fetches a new token.
    pub fn expire_tokens(&self) {
        let mut state = self.shared.lock();
        let past = std::time::UNIX_EPOCH;
        for expiry in state.tokens.values_mut() {
            *expiry = past;
        }
    }

    /// Registers and returns a valid access token without going through `/token` (not
    /// counted in [`Self::tokens_issued`]).
    pub fn issue_token(&self) -> String {
        self.shared
            .lock()
            .new_token(Duration::from_secs(TOKEN_LIFETIME_SECS))
    }

    /// Whether requests without any credential are allowed (default: no, they get 401
    /// `{"error":"Permission denied"}`). Invalid credentials are refused either way.
    pub fn set_open(&self, open: bool) {
        self.shared.lock().open = open;
    }

    /// Fixes the clock used for `{".sv":"timestamp"}` and push ids at `epoch_ms` (token
    /// lifetimes and assertion checks keep using the system clock).
    pub fn freeze_clock(&self, epoch_ms: u64) {
        self.shared.lock().frozen_ms = Some(epoch_ms);
    }

    /// Back to the system clock for server values.
    pub fn unfreeze_clock(&self) {
        self.shared.lock().frozen_ms = None;
    }

    /// Every request received since the start (or the last [`Self::reset`] or
    /// [`Self::clear_journal`]), in arrival order.
    pub fn journal(&self) -> Vec<Request> {
        self.shared.lock().journal.clone()
    }

    /// Empties the journal.
    pub fn clear_journal(&self) {
        self.shared.lock().journal.clear();
    }

    /// How many access tokens `/token` issued.
    pub fn tokens_issued(&self) -> usize {
        self.shared.lock().tokens_issued
    }
}

impl Drop for FakeFirebase {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
