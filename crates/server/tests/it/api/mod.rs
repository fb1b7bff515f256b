//! A small REST client for the black-box API tests: a server on its own database, calls
//! that answer `(status, headers, JSON)`, and helpers that sign users up and in.

use persistence::test_db::TestDatabase;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::TestServer;

/// The password every test user is registered with.
pub const PASSWORD: &str = "correct horse battery staple";

/// Settings every API test server starts with: no rate limits, so tests that sign in
/// often are not throttled. A test passes its own values to override them.
const UNLIMITED: [(&str, &str); 5] = [
    ("RTS_RATE_LOGINS_PER_ACCOUNT", "0"),
    ("RTS_RATE_LOGINS_PER_IP", "0"),
    ("RTS_RATE_COMMENTS_PER_USER", "0"),
    ("RTS_RATE_COMMENTS_PER_DEVICE", "0"),
    ("RTS_RATE_REGISTRATIONS_PER_IP", "0"),
];

/// A running server with a database of its own, and a client for it.
#[derive(Debug)]
pub struct Api {
    // Declared first so the server stops before its database is dropped.
    pub server: TestServer,
    pub db: TestDatabase,
    client: reqwest::Client,
}

/// One answer: status, headers and the body as JSON (`Null` when empty, a string when
/// the body is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    /// Whether the body parsed as JSON.
    pub is_json: bool,
}

impl Reply {
    /// The `error.code` of an error envelope, or "" when there is none.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    /// The `field` of every entry of `error.details`.
    pub fn fields(&self) -> Vec<String> {
        self.body["error"]["details"]
            .as_array()
            .map(|details| {
                details
                    .iter()
                    .filter_map(|d| d["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts the status and that the body is the error envelope with this code.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "status of {self:#?}");
        assert_envelope(self);
        assert_eq!(self.code(), code, "error code of {self:#?}");
        if status == 401 {
            assert_eq!(
                self.headers
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok()),
                Some("Bearer"),
                "a 401 names the scheme: {self:#?}"
            );
        }
    }

    /// Asserts the status (for successes, where the body is checked separately).
    #[track_caller]
    pub fn assert_status(&self, status: u16) -> &Value {
        assert_eq!(self.status.as_u16(), status, "status of {self:#?}");
        &self.body
    }
}

/// Asserts `reply` is a JSON error envelope: `{"error": {"code", "message", "details"?}}`.
#[track_caller]
pub fn assert_envelope(reply: &Reply) {
    assert!(
        reply.status.is_client_error() || reply.status.is_server_error(),
        "an error status: {reply:#?}"
    );
    assert!(reply.is_json, "the error body is JSON: {reply:#?}");
    let content_type = reply
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(
        content_type.starts_with("application/json"),
        "content type of {reply:#?}"
    );
    let error = reply.body["error"]
        .as_object()
        .unwrap_or_else(|| panic!("an `error` object: {reply:#?}"));
    assert!(
        error["code"].as_str().is_some_and(|c| !c.is_empty()),
        "a code: {reply:#?}"
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "a message: {reply:#?}"
    );
    if let Some(details) = error.get("details") {
        let details = details
            .as_array()
            .unwrap_or_else(|| panic!("details is a list: {reply:#?}"));
        for d in details {
            assert!(
                d["field"].is_string() && d["message"].is_string(),
                "a detail has a field and a message: {reply:#?}"
            );
        }
    }
    let allowed = error
        .keys()
        .all(|k| matches!(k.as_str(), "code" | "message" | "details"));
    assert!(allowed, "no other keys in the envelope: {reply:#?}");
}

/// A signed-in user, as register or login answered.
#[derive(Clone, Debug)]
pub struct Session {
    pub access: String,
    pub refresh: String,
    pub user_id: String,
    pub username: String,
    pub email: String,
    /// The whole answer.
    pub body: Value,
}

impl Session {
    fn from_body(body: &Value) -> Self {
        let text = |v: &Value| {
            v.as_str()
                .unwrap_or_else(|| panic!("a string in {body:#}"))
                .to_owned()
        };
        Self {
            access: text(&body["access_token"]),
            refresh: text(&body["refresh_token"]),
            user_id: text(&body["user"]["id"]),
            username: text(&body["user"]["username"]),
            email: text(&body["user"]["email"]),
            body: body.clone(),
        }
    }

    pub fn token(&self) -> Option<&str> {
        Some(&self.access)
    }
}

/// The email a test user called `name` is registered with.
pub fn email_of(name: &str) -> String {
    format!("{name}@example.com")
}

impl Api {
    /// A server without rate limits on a fresh database.
    pub async fn start() -> Self {
        Self::with(&[]).await
    }

    /// A server on a fresh database, with settings that override the unlimited defaults.
    pub async fn with(extra: &[(&str, &str)]) -> Self {
        let db = TestDatabase::new().await;
        let mut settings: Vec<(&str, &str)> = UNLIMITED.to_vec();
        settings.extend_from_slice(extra);
        let server = TestServer::start(db.url().expose(), &settings).await;
        Self {
            server,
            db,
            client: crate::http_client(),
        }
    }

    /// A second server on the same database, with its own settings.
    pub async fn another_server(&self, extra: &[(&str, &str)]) -> TestServer {
        let mut settings: Vec<(&str, &str)> = UNLIMITED.to_vec();
        settings.extend_from_slice(extra);
        TestServer::start(self.db.url().expose(), &settings).await
    }

    /// `method path` with an optional bearer token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        self.call_on(&self.server.base, method, path, token, body)
            .await
    }

    /// Like [`Api::call`], against the server at `base`.
    pub async fn call_on(
        &self,
        base: &str,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.client.request(method, format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::reply(request).await
    }

    /// A request with raw headers and body, for what a well-behaved client never sends.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> Reply {
        let mut request = self.client.request(method, self.server.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Self::reply(request.body(body)).await
    }

    async fn reply(request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the server answers");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body");
        let (body, is_json) = if bytes.is_empty() {
            (Value::Null, false)
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(v) => (v, true),
                Err(_) => (Value::String(String::from_utf8_lossy(&bytes).into()), false),
            }
        };
        Reply {
            status,
            headers,
            body,
            is_json,
        }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.call(Method::PATCH, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::DELETE, path, token, None).await
    }

    /// Registers `name` (email `name@example.com`, password [`PASSWORD`]) on the device
    /// "default".
    pub async fn register(&self, name: &str) -> Session {
        self.register_on(name, "default").await
    }

    /// Registers `name` signing in from `device`.
    pub async fn register_on(&self, name: &str, device: &str) -> Session {
        let reply = self
            .post(
                "/api/auth/register",
                None,
                json!({
                    "email": email_of(name),
                    "username": name,
                    "password": PASSWORD,
                    "device_id": device,
                }),
            )
            .await;
        let body = reply.assert_status(201);
        Session::from_body(body)
    }

    /// A login attempt, whatever it answers.
    pub async fn login(&self, email: &str, password: &str, device: &str) -> Reply {
        self.post(
            "/api/auth/login",
            None,
            json!({ "email": email, "password": password, "device_id": device }),
        )
        .await
    }

    /// Signs `name` in with [`PASSWORD`] on `device`; must succeed.
    pub async fn login_ok(&self, name: &str, device: &str) -> Session {
        let reply = self.login(&email_of(name), PASSWORD, device).await;
        Session::from_body(reply.assert_status(200))
    }

    /// A refresh attempt, whatever it answers.
    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        self.post(
            "/api/auth/refresh",
            None,
            json!({ "refresh_token": refresh_token }),
        )
        .await
    }

    /// Gives the user a role straight in the store (the way an operator would), then signs
    /// in again on `device` so no cached answer of the server still has the old role.
    pub async fn make(&self, session: &Session, role: &str, device: &str) -> Session {
        use domain::ports::UserStore;
        let id = domain::UserId::from_uuid(session.user_id.parse().expect("a UUID"));
        let role: domain::Role = role.parse().expect("a role");
        self.db
            .database()
            .set_role(id, role)
            .await
            .expect("the role is stored");
        let again = self.login_ok(&session.username, device).await;
        assert_eq!(again.body["user"]["role"], role.as_str());
        again
    }

    /// The row id of the caller's device named `device_id`, from its device list.
    pub async fn device_row_id(&self, token: Option<&str>, device_id: &str) -> String {
        let devices = self.get("/api/devices", token).await;
        devices.body["devices"]
            .as_array()
            .and_then(|d| d.iter().find(|d| d["device_id"] == device_id))
            .and_then(|d| d["id"].as_str())
            .unwrap_or_else(|| panic!("no device {device_id} in {}", devices.body))
            .to_owned()
    }

    /// Registers `name` and makes it `role` (signed in on the device "default").
    pub async fn user_with_role(&self, name: &str, role: &str) -> Session {
        let session = self.register(name).await;
        if role == "user" {
            return session;
        }
        self.make(&session, role, "default").await
    }

    /// From now on every audit entry fails to be written (a trigger refuses the insert),
    /// as a full disk or a lost table would make it.
    pub async fn refuse_audit(&self) {
        self.db
            .execute(
                "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log FOR EACH ROW \
                 SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit refused by the test'",
            )
            .await;
    }

    /// Undoes [`Api::refuse_audit`].
    pub async fn allow_audit(&self) {
        self.db.execute("DROP TRIGGER audit_refused").await;
    }

    /// How many audit entries with this action are stored.
    pub async fn audited(&self, action: &str) -> i64 {
        self.db
            .count(&format!(
                "SELECT COUNT(*) FROM audit_log WHERE action = '{action}'"
            ))
            .await
    }

    /// Posts a comment; must succeed.
    pub async fn comment(&self, session: &Session, video: &str, content: &str) -> Value {
        self.post(
            &format!("/api/videos/{video}/comments"),
            session.token(),
            json!({ "content": content }),
        )
        .await
        .assert_status(201)
        .clone()
    }
}

/// `2026-11-26T14:09:04.123456Z`: RFC 3339, UTC, with a fraction of a second.
#[track_caller]
pub fn assert_timestamp(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a timestamp string: {value}"));
    let bytes = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        bytes
            .get(range)
            .is_some_and(|b| b.iter().all(u8::is_ascii_digit))
    };
    let ok = bytes.len() >= 21
        && digits(0..4)
        && bytes[4] == b'-'
        && digits(5..7)
        && bytes[7] == b'-'
        && digits(8..10)
        && bytes[10] == b'T'
        && digits(11..13)
        && bytes[13] == b':'
        && digits(14..16)
        && bytes[16] == b':'
        && digits(17..19)
        && bytes[19] == b'.'
        && digits(20..bytes.len() - 1)
        && text.ends_with('Z');
    assert!(ok, "an RFC 3339 UTC timestamp: {text}");
}

/// Asserts `value` is a UUID string.
#[track_caller]
pub fn assert_uuid(value: &Value) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("a UUID string: {value}"));
    assert!(uuid::Uuid::parse_str(text).is_ok(), "a UUID: {text}");
}

/// The keys of a JSON object, sorted.
pub fn keys(value: &Value) -> Vec<String> {
    let mut keys: Vec<String> = value
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// base64url without padding, as JWTs use.
pub fn b64url_encode(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

/// The inverse of [`b64url_encode`].
pub fn b64url_decode(text: &str) -> Vec<u8> {
    let values: Vec<u32> = text
        .bytes()
        .map(|c| {
            B64.iter()
                .position(|b| *b == c)
                .map(|p| p as u32)
                .unwrap_or_else(|| panic!("not base64url: {text}"))
        })
        .collect();
    let mut out = Vec::new();
    for chunk in values.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, v)| n | (v << (18 - 6 * i)));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push(((n >> (16 - 8 * i)) & 0xff) as u8);
        }
    }
    out
}

#[test]
fn base64url_round_trips() {
    for text in ["", "a", "ab", "abc", "abcd", "{\"alg\":\"none\"}"] {
        let encoded = b64url_encode(text.as_bytes());
        assert!(!encoded.contains('='));
        assert_eq!(b64url_decode(&encoded), text.as_bytes());
    }
    assert_eq!(b64url_encode(b"\xfb\xff"), "-_8");
}
