//! Helpers: a fake plus an authenticated client, and signing token assertions.

use std::time::{SystemTime, UNIX_EPOCH};

use firebase_fake::{DATABASE_SCOPE, FakeFirebase, USERINFO_EMAIL_SCOPE};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// An HTTP client. In a workspace build reqwest has rustls without a crypto provider (the
/// Firebase mirror brings ring), so one is installed first.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A fake and a client that authenticates with `Bearer owner`.
pub struct Env {
    pub fake: FakeFirebase,
    pub client: reqwest::Client,
}

impl Env {
    pub fn new() -> Self {
        Self {
            fake: FakeFirebase::start().expect("the fake starts"),
            client: client(),
        }
    }

    /// A request to node `path` as the emulator's admin.
    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.fake.url(path))
            .bearer_auth("owner")
    }

    pub async fn put(&self, path: &str, value: Value) -> reqwest::Response {
        self.req(reqwest::Method::PUT, path)
            .json(&value)
            .send()
            .await
            .unwrap()
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.req(reqwest::Method::GET, path).send().await.unwrap();
        json_of(response).await
    }
}

/// Status and JSON body (Null for an empty body).
pub async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"))
    };
    (status, body)
}

pub fn now_secs() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// A JWT-bearer assertion for the fake's service account, signed with the key from its key
/// file, with `claims` merged over the correct ones.
pub fn assertion(fake: &FakeFirebase, overrides: Value) -> String {
    let key: Value = serde_json::from_str(&fake.service_account_json()).unwrap();
    let now = now_secs();
    let mut claims = json!({
        "iss": key["client_email"],
        "scope": format!("{DATABASE_SCOPE} {USERINFO_EMAIL_SCOPE}"),
        "aud": key["token_uri"],
        "iat": now,
        "exp": now + 3600,
    });
    if let (Some(claims), Some(overrides)) = (claims.as_object_mut(), overrides.as_object()) {
        for (k, v) in overrides {
            claims.insert(k.clone(), v.clone());
        }
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = key["private_key_id"].as_str().map(str::to_owned);
    let signing =
        EncodingKey::from_rsa_pem(key["private_key"].as_str().unwrap().as_bytes()).unwrap();
    jsonwebtoken::encode(&header, &claims, &signing).unwrap()
}

/// Posts an assertion to the token endpoint.
pub async fn token_request(
    client: &reqwest::Client,
    fake: &FakeFirebase,
    assertion: &str,
) -> (u16, Value) {
    let response = client
        .post(fake.token_uri())
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", assertion),
        ])
        .send()
        .await
        .unwrap();
    json_of(response).await
}
