//! The REST client against the fake Realtime Database: credentials, the token cache, and
//! what each kind of failure reads as.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::time::Duration;

use firebase_fake::{FakeFirebase, Fault};
use firebase_sync::{FailureKind, MirrorSettings, RealtimeDatabase, RestClient, ServiceAccount};
use serde_json::{Map, Value, json};

fn with_key(fake: &FakeFirebase, timeout: Duration) -> RestClient {
    let settings = MirrorSettings {
        database: firebase_sync::DatabaseUrl::parse(&fake.database_url()).expect("valid URL"),
        credentials: firebase_sync::Credentials::ServiceAccount(
            ServiceAccount::from_json(&fake.service_account_json()).expect("valid key"),
        ),
        max_attempts: 10,
    };
    RestClient::new(&settings, timeout).expect("client")
}

fn one(path: &str, value: Value) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(path.to_owned(), value);
    map
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_share_one_access_token() {
    let fake = FakeFirebase::start().expect("fake");
    let client = Arc::new(with_key(&fake, Duration::from_secs(5)));
    let writes = (0..10).map(|i| {
        let client = client.clone();
        tokio::spawn(async move { client.update(&one(&format!("a/{i}"), json!(i))).await })
    });
    for write in writes {
        write.await.expect("ran").expect("written");
    }
    assert_eq!(fake.tokens_issued(), 1);
    assert_eq!(client.tokens_fetched(), 1);
    assert_eq!(fake.get("a/7"), json!(7));
    let request = fake
        .journal()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .expect("a PATCH");
    assert_eq!(request.query_param("print"), Some("silent"));
    assert!(matches!(request.auth, firebase_fake::Auth::Bearer(_)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_read_as_their_kind() {
    let fake = FakeFirebase::start().expect("fake");
    let client = with_key(&fake, Duration::from_millis(300));
    let x = one("x", json!(1));
    let write = || client.update(&x);

    fake.inject(Fault::too_many_requests(7));
    let e = write().await.expect_err("429");
    assert_eq!(e.kind, FailureKind::RateLimited);
    assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
    assert!(!e.is_permanent());

    fake.inject(Fault::status(503));
    assert_eq!(
        write().await.expect_err("503").kind,
        FailureKind::Unavailable
    );

    fake.inject(Fault::status(400));
    let e = write().await.expect_err("400");
    assert_eq!(e.kind, FailureKind::Rejected);
    assert!(e.is_permanent());

    fake.inject(Fault::drop_connection());
    assert_eq!(
        write().await.expect_err("dropped").kind,
        FailureKind::Network
    );

    fake.inject(Fault::hang());
    assert_eq!(write().await.expect_err("hung").kind, FailureKind::Timeout);

    fake.inject(Fault::malformed_json().on("GET", ""));
    assert_eq!(
        client.read("x").await.expect_err("malformed").kind,
        FailureKind::BadResponse
    );

    write().await.expect("and then it works");
    assert_eq!(client.read("x").await.expect("read"), json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_renews_the_token_once_and_a_refused_assertion_is_a_token_failure() {
    let fake = FakeFirebase::start().expect("fake");
    let client = with_key(&fake, Duration::from_secs(5));
    client.update(&one("x", json!(1))).await.expect("written");
    fake.expire_tokens();
    client.update(&one("x", json!(2))).await.expect("renewed");
    assert_eq!(fake.tokens_issued(), 2);
    let unauthorized = fake.journal().iter().filter(|r| r.status == 401).count();
    assert_eq!(unauthorized, 1);

    fake.expire_tokens();
    fake.inject_token_fault(Fault::status(400).always());
    let e = client
        .update(&one("x", json!(3)))
        .await
        .expect_err("no token");
    assert_eq!(e.kind, FailureKind::Token);
    assert!(e.message.contains("token endpoint"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_legacy_secret_and_shallow_reads_work() {
    let fake = FakeFirebase::start().expect("fake");
    let settings = MirrorSettings::from_settings(
        Some(&fake.database_url()),
        None,
        Some(&secrecy::SecretString::from(
            fake.legacy_secret().to_owned(),
        )),
        10,
    )
    .expect("valid settings")
    .expect("mirror on");
    let client = RestClient::new(&settings, Duration::from_secs(5)).expect("client");
    let mut updates = one("videos/a/comments/c1", json!({"content": "x"}));
    updates.insert("videos/b/comments/c2".into(), json!({"content": "y"}));
    client.update(&updates).await.expect("written");
    let mut videos = client.children("videos").await.expect("listed");
    videos.sort();
    assert_eq!(videos, ["a", "b"]);
    assert!(client.children("nothing").await.expect("listed").is_empty());
    let request = fake.journal().into_iter().next().expect("a request");
    assert!(matches!(request.auth, firebase_fake::Auth::Secret));
}
