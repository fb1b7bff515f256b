//! The fake's shared state, behind one lock: the tree, tokens, faults and the journal.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::sync::watch;

use crate::fault::Fault;
use crate::journal::Request;
use crate::push_id::PushIds;

/// Fixed facts about a running fake.
#[derive(Debug)]
pub(crate) struct Config {
    /// The database namespace (`?ns=`).
    pub(crate) namespace: String,
    /// The legacy database secret accepted as `?auth=`.
    pub(crate) secret: String,
    /// `http://127.0.0.1:PORT/token`, the audience token requests must name.
    pub(crate) token_uri: String,
}

/// Everything that changes, serialized under one lock so tests are deterministic.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The stored tree (`Null` when empty).
    pub(crate) tree: Value,
    /// Issued access tokens and when each expires.
    pub(crate) tokens: HashMap<String, SystemTime>,
    /// How many tokens the token endpoint issued.
    pub(crate) tokens_issued: usize,
    pub(crate) journal: Vec<Request>,
    /// The last journal id handed out.
    pub(crate) last_id: u64,
    pub(crate) faults: Vec<Fault>,
    pub(crate) push_ids: PushIds,
    /// Whether requests without credentials are allowed.
    pub(crate) open: bool,
    /// A fixed time for server timestamps and push ids, in epoch milliseconds.
    pub(crate) frozen_ms: Option<u64>,
}

impl State {
    /// The clock of server values: the frozen time, else the system time.
    pub(crate) fn now_ms(&self) -> u64 {
        self.frozen_ms.unwrap_or_else(|| {
            let since_epoch = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
        })
    }

    /// Registers a new random access token valid for `lifetime`.
    pub(crate) fn new_token(&mut self, lifetime: Duration) -> String {
        let token = format!("ya29.fake-{}", crate::random::hex::<24>());
        self.tokens
            .insert(token.clone(), SystemTime::now() + lifetime);
        token
    }

    /// Whether `token` was issued and has not expired.
    pub(crate) fn token_state(&self, token: &str) -> TokenState {
        match self.tokens.get(token) {
            None => TokenState::Unknown,
            Some(expiry) if *expiry <= SystemTime::now() => TokenState::Expired,
            Some(_) => TokenState::Valid,
        }
    }

    /// Appends a journal entry, giving it the next id.
    pub(crate) fn record(&mut self, mut request: Request) -> u64 {
        self.last_id += 1;
        request.id = self.last_id;
        self.journal.push(request);
        self.last_id
    }

    /// Sets the answered status of journal entry `id` (if it is still in the journal).
    pub(crate) fn finish(&mut self, id: u64, status: u16) {
        if let Some(entry) = self.journal.iter_mut().rev().find(|r| r.id == id) {
            entry.status = status;
        }
    }
}

/// What an access token is worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenState {
    Valid,
    Expired,
    Unknown,
}

/// The state shared by the server thread and the [`FakeFirebase`](crate::FakeFirebase) handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    state: Mutex<State>,
    /// Bumped by `release_hangs`; hung requests wait for a change.
    pub(crate) release: watch::Sender<u64>,
}

impl Shared {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            config,
            state: Mutex::new(State::default()),
            release: watch::Sender::new(0),
        }
    }

    /// The state; a panic while it was held (none is expected) does not poison it.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets every hung request answer 503.
    pub(crate) fn release_hangs(&self) {
        self.release.send_modify(|generation| *generation += 1);
    }
}
