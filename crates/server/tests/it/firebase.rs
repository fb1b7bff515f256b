//! The Firebase mirror against the fake Realtime Database (a real HTTP server, with the
//! OAuth token endpoint and fault injection): comments arrive exactly once whatever the
//! fake does meanwhile, in order, from any number of servers; presence comes and goes;
//! reconciliation repairs drift.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use firebase_fake::{FakeFirebase, Fault};
use serde_json::{Value, json};

use crate::api::{Api, Session};
use crate::socket::{connect, join, next_event, send};

/// A key file for the fake's service account, kept for the test's lifetime.
struct KeyFile(std::path::PathBuf);

impl KeyFile {
    fn new(fake: &FakeFirebase) -> Self {
        let path = std::env::temp_dir().join(format!("rts-key-{}.json", uuid::Uuid::now_v7()));
        std::fs::write(&path, fake.service_account_json()).expect("key file written");
        Self(path)
    }

    fn path(&self) -> &str {
        self.0.to_str().expect("a UTF-8 temp path")
    }
}

impl Drop for KeyFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Settings that point a server at the fake, fast enough for tests: requests give up
/// after 500 ms and no retry waits more than 2 s.
fn mirror_settings<'a>(fake_url: &'a str, key: &'a KeyFile) -> Vec<(&'a str, &'a str)> {
    vec![
        ("RTS_FIREBASE_DATABASE_URL", fake_url),
        ("RTS_FIREBASE_CREDENTIALS", key.path()),
        ("RTS_FIREBASE_TIMEOUT_MS", "500"),
        ("RTS_FIREBASE_MAX_RETRY_SECS", "2"),
        ("RTS_WS_PUSHES_PER_SECOND", "10000"),
        ("RTS_WS_PUSH_BURST", "10000"),
    ]
}

struct Mirrored {
    api: Api,
    fake: Arc<FakeFirebase>,
    _key: KeyFile,
}

async fn mirrored(extra: &[(&str, &str)]) -> Mirrored {
    let fake = Arc::new(FakeFirebase::start().expect("the fake starts"));
    let key = KeyFile::new(&fake);
    let url = fake.database_url();
    let mut settings = mirror_settings(&url, &key);
    settings.extend_from_slice(extra);
    let api = Api::with(&settings).await;
    Mirrored {
        api,
        fake,
        _key: key,
    }
}

/// Waits until `done` holds of the fake, for at most `within`.
async fn eventually(
    fake: &FakeFirebase,
    within: Duration,
    what: &str,
    done: impl Fn(&FakeFirebase) -> bool,
) {
    let deadline = Instant::now() + within;
    while !done(fake) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn comments_in(fake: &FakeFirebase, video: &str) -> serde_json::Map<String, Value> {
    match fake.get(&format!("videos/{video}/comments")) {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

/// How many successful writes set each comment path under `video`.
fn writes_per_comment(fake: &FakeFirebase, video: &str) -> HashMap<String, usize> {
    let prefix = format!("videos/{video}/comments/");
    let mut writes = HashMap::new();
    for request in fake.journal() {
        if request.method != "PATCH" || !(200..300).contains(&request.status) {
            continue;
        }
        if let Some(Value::Object(body)) = &request.body {
            for path in body.keys().filter(|p| p.starts_with(&prefix)) {
                *writes.entry(path.clone()).or_default() += 1;
            }
        }
    }
    writes
}

async fn post_over_rest(
    api: &Api,
    session: &Session,
    video: &str,
    texts: Vec<String>,
) -> Vec<Value> {
    let mut posted = Vec::new();
    for chunk in texts.chunks(8) {
        let replies = futures_util::future::join_all(
            chunk.iter().map(|text| api.comment(session, video, text)),
        )
        .await;
        posted.extend(replies);
    }
    posted
}

async fn post_over_socket(
    api: &Api,
    session: &Session,
    video: &str,
    texts: Vec<String>,
) -> Vec<Value> {
    let mut ws = connect(api, session).await;
    let topic = format!("video:{video}");
    join(&mut ws, &topic, "1", json!({})).await;
    let mut posted = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let reference = (i + 2).to_string();
        send(
            &mut ws,
            json!(["1", reference, topic, "new_comment", {"content": text}]),
        )
        .await;
        let reply = next_event(&mut ws, &topic, "phx_reply").await;
        assert_eq!(reply[4]["status"], "ok", "{reply}");
        posted.push(reply[4]["response"]["comment"].clone());
    }
    posted
}

fn texts(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix} {i}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_comments_arrive_exactly_once_through_503s_429s_and_hangs() {
    let m = mirrored(&[]).await;
    let ann = m.api.register("ann").await;
    let mut posted = Vec::new();

    // Firebase answers 503 to every write, then 429 with Retry-After, then hangs; the
    // posts meanwhile are as quick as ever, and nothing is lost.
    // Each phase lasts until the worker has met its fault: posting alone may take less time
    // than the circuit stays open, and then a phase would pass unseen.
    let met = |status: u16, what: &'static str| {
        let fake = Arc::clone(&m.fake);
        async move {
            eventually(&fake, Duration::from_secs(30), what, |f| {
                f.journal()
                    .iter()
                    .any(|r| r.method == "PATCH" && r.status == status)
            })
            .await;
        }
    };
    m.fake.inject(Fault::status(503).always().on("PATCH", ""));
    posted.extend(post_over_rest(&m.api, &ann, "v1", texts("rest", 400)).await);
    met(503, "a PATCH answered 503").await;
    m.fake.clear_faults();
    m.fake
        .inject(Fault::too_many_requests(1).always().on("PATCH", ""));
    posted.extend(post_over_socket(&m.api, &ann, "v1", texts("socket", 300)).await);
    met(429, "a PATCH answered 429").await;
    m.fake.clear_faults();
    m.fake.inject(Fault::hang().always().on("PATCH", ""));
    posted.extend(post_over_rest(&m.api, &ann, "v1", texts("late", 300)).await);
    tokio::time::sleep(Duration::from_secs(1)).await;
    met(0, "a PATCH hanging").await;
    m.fake.clear_faults();
    m.fake.release_hangs();

    eventually(
        &m.fake,
        Duration::from_secs(60),
        "1,000 comments in Firebase",
        |f| comments_in(f, "v1").len() >= 1000,
    )
    .await;
    let mirrored = comments_in(&m.fake, "v1");
    assert_eq!(mirrored.len(), 1000);
    for comment in &posted {
        let id = comment["id"].as_str().expect("an id");
        assert_eq!(
            &mirrored[id], comment,
            "the same object as REST and WebSocket"
        );
    }
    let writes = writes_per_comment(&m.fake, "v1");
    assert_eq!(writes.len(), 1000);
    assert!(
        writes.values().all(|&n| n == 1),
        "every comment written exactly once: {:?}",
        writes.values().filter(|&&n| n != 1).count()
    );
    let failures: Vec<u16> = m
        .fake
        .journal()
        .iter()
        .filter(|r| r.method == "PATCH" && !(200..300).contains(&r.status))
        .map(|r| r.status)
        .collect();
    assert!(
        failures.contains(&503) && failures.contains(&429),
        "{failures:?}"
    );
    // The last batch reaches Firebase a moment before the worker deletes it.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let unsent = m.api.db.count("SELECT COUNT(*) FROM mirror_outbox").await;
        if unsent == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{unsent} changes never deleted as sent"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_and_deletes_arrive_in_order() {
    let m = mirrored(&[]).await;
    let ann = m.api.register("ann").await;
    let kept = m.api.comment(&ann, "v1", "first").await;
    let gone = m.api.comment(&ann, "v1", "short-lived").await;
    let kept_id = kept["id"].as_str().expect("an id").to_owned();
    let gone_id = gone["id"].as_str().expect("an id").to_owned();
    // Slow writes, so the edits pile up behind one another in the outbox.
    m.fake.inject(
        Fault::latency(Duration::from_millis(150))
            .times(20)
            .on("PATCH", ""),
    );
    for n in 1..=5 {
        m.api
            .patch(
                &format!("/api/comments/{kept_id}"),
                ann.token(),
                json!({ "content": format!("edit {n}") }),
            )
            .await
            .assert_status(200);
    }
    m.api
        .delete(&format!("/api/comments/{gone_id}"), ann.token())
        .await
        .assert_status(204);
    eventually(
        &m.fake,
        Duration::from_secs(20),
        "the last edit and the delete",
        |f| {
            f.get(&format!("videos/v1/comments/{kept_id}/content")) == json!("edit 5")
                && f.get(&format!("videos/v1/comments/{gone_id}")) == Value::Null
        },
    )
    .await;
    let path = format!("videos/v1/comments/{kept_id}");
    let contents: Vec<String> = m
        .fake
        .journal()
        .iter()
        .filter(|r| r.method == "PATCH" && (200..300).contains(&r.status))
        .filter_map(|r| {
            r.body
                .as_ref()?
                .get(&path)?
                .get("content")?
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    // Each write is the comment as it was when it was sent, so versions made while a
    // write was under way are passed over, but none is written after a newer one.
    let versions = ["first", "edit 1", "edit 2", "edit 3", "edit 4", "edit 5"];
    let order: Vec<usize> = contents
        .iter()
        .map(|c| versions.iter().position(|v| v == c).expect("a version"))
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]),
        "versions written out of order: {contents:?}"
    );
    assert_eq!(contents.last().map(String::as_str), Some("edit 5"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_access_token_is_renewed_once_on_401() {
    let m = mirrored(&[]).await;
    let ann = m.api.register("ann").await;
    let first = m.api.comment(&ann, "v1", "one").await;
    let first_id = first["id"].as_str().expect("an id").to_owned();
    eventually(&m.fake, Duration::from_secs(10), "the first comment", |f| {
        f.get(&format!("videos/v1/comments/{first_id}")) != Value::Null
    })
    .await;
    let tokens_before = m.fake.tokens_issued();
    m.fake.expire_tokens();
    let second = m.api.comment(&ann, "v1", "two").await;
    let second_id = second["id"].as_str().expect("an id").to_owned();
    eventually(
        &m.fake,
        Duration::from_secs(10),
        "the second comment",
        |f| f.get(&format!("videos/v1/comments/{second_id}")) != Value::Null,
    )
    .await;
    assert_eq!(m.fake.tokens_issued(), tokens_before + 1, "one new token");
    let refused = m
        .fake
        .journal()
        .iter()
        .filter(|r| r.method == "PATCH" && r.status == 401)
        .count();
    assert_eq!(refused, 1, "one 401, then the new token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_never_send_one_change_at_once() {
    let m = mirrored(&[]).await;
    let url = m.fake.database_url();
    let key = KeyFile::new(&m.fake);
    let second = m.api.another_server(&mirror_settings(&url, &key)).await;
    let ann = m.api.register("ann").await;
    // Every write takes a while, so both workers are busy at once.
    m.fake.inject(
        Fault::latency(Duration::from_millis(100))
            .always()
            .on("PATCH", ""),
    );
    let posted = post_over_rest(&m.api, &ann, "v1", texts("both", 300)).await;
    eventually(&m.fake, Duration::from_secs(60), "300 comments", |f| {
        comments_in(f, "v1").len() >= 300
    })
    .await;
    assert_eq!(posted.len(), 300);
    let writes = writes_per_comment(&m.fake, "v1");
    assert_eq!(writes.len(), 300);
    assert!(writes.values().all(|&n| n == 1), "no change sent twice");
    drop(second);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_firebase_refuses_becomes_a_dead_letter_and_is_reported() {
    let m = mirrored(&[]).await;
    let ann = m.api.register("ann").await;
    m.fake.inject(Fault::status(400).always().on("PATCH", ""));
    let refused = m.api.comment(&ann, "v1", "refused").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while m
        .api
        .db
        .count("SELECT COUNT(*) FROM mirror_outbox WHERE state = 'dead'")
        .await
        == 0
    {
        assert!(Instant::now() < deadline, "no dead letter");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    m.fake.clear_faults();
    let fine = m.api.comment(&ann, "v1", "fine").await;
    let fine_id = fine["id"].as_str().expect("an id").to_owned();
    eventually(&m.fake, Duration::from_secs(10), "the fine comment", |f| {
        f.get(&format!("videos/v1/comments/{fine_id}")) != Value::Null
    })
    .await;
    let dead = m
        .api
        .db
        .count("SELECT COUNT(*) FROM mirror_outbox WHERE state = 'dead'")
        .await;
    assert_eq!(dead, 1);
    let metrics = m.api.get("/metrics", None).await;
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    assert!(text.contains("firebase_dead_letters_total"), "{text}");

    let url = m.fake.database_url();
    let status = crate::binary::run_with(
        &["firebase", "status"],
        &[
            ("RTS_DATABASE_URL", m.api.db.url().expose()),
            ("RTS_FIREBASE_DATABASE_URL", &url),
            ("RTS_FIREBASE_SECRET", m.fake.legacy_secret()),
        ],
    )
    .await;
    assert!(status.success, "{}", status.stderr);
    assert!(
        status.stdout.contains("dead letters  1"),
        "{}",
        status.stdout
    );
    let refused_id = refused["id"].as_str().expect("an id");
    assert!(status.stdout.contains(refused_id), "{}", status.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_repairs_deleted_altered_and_added_comments() {
    let m = mirrored(&[]).await;
    let ann = m.api.register("ann").await;
    let mut ids = Vec::new();
    for text in ["a", "b", "c", "d"] {
        let c = m.api.comment(&ann, "v1", text).await;
        ids.push(c["id"].as_str().expect("an id").to_owned());
    }
    let other = m.api.comment(&ann, "v2", "elsewhere").await;
    eventually(&m.fake, Duration::from_secs(10), "the comments", |f| {
        comments_in(f, "v1").len() == 4 && comments_in(f, "v2").len() == 1
    })
    .await;
    let truth = m.fake.tree();
    // Drift: one removed, one altered, one added, and a video MariaDB never had.
    m.fake
        .set(&format!("videos/v1/comments/{}", ids[0]), Value::Null);
    m.fake.set(
        &format!("videos/v1/comments/{}/content", ids[1]),
        json!("tampered"),
    );
    m.fake
        .set("videos/v1/comments/bogus", json!({"content": "not ours"}));
    m.fake
        .set("videos/ghost/comments/x", json!({"content": "nobody's"}));

    let env = [
        ("RTS_DATABASE_URL", m.api.db.url().expose().to_owned()),
        ("RTS_FIREBASE_DATABASE_URL", m.fake.database_url()),
        ("RTS_FIREBASE_SECRET", m.fake.legacy_secret().to_owned()),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let dry = crate::binary::run_with(&["firebase", "reconcile", "--dry-run"], &env).await;
    assert!(dry.success, "{}", dry.stderr);
    assert!(
        dry.stdout
            .contains("would repair 1 missing, 1 stale, 2 extra"),
        "{}",
        dry.stdout
    );
    assert_eq!(
        m.fake.get("videos/v1/comments/bogus/content"),
        json!("not ours")
    );

    let one = crate::binary::run_with(&["firebase", "reconcile", "--video", "v2"], &env).await;
    assert!(
        one.stdout
            .contains("1 videos, 1 comments compared; repaired 0 missing, 0 stale, 0 extra"),
        "{}",
        one.stdout
    );

    let fixed = crate::binary::run_with(&["firebase", "reconcile"], &env).await;
    assert!(fixed.success, "{}", fixed.stderr);
    assert!(
        fixed
            .stdout
            .contains("repaired 1 missing, 1 stale, 2 extra"),
        "{}",
        fixed.stdout
    );
    assert_eq!(
        m.fake.get("videos"),
        truth["videos"].clone(),
        "back to what MariaDB says"
    );
    let _ = other;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_appears_counts_tabs_and_disappears() {
    let m = mirrored(&[]).await;
    let ann = m.api.register("ann").await;
    let path = format!("videos/v1/presence/{}", ann.user_id);
    let mut tab1 = connect(&m.api, &ann).await;
    join(&mut tab1, "video:v1", "1", json!({})).await;
    eventually(&m.fake, Duration::from_secs(5), "ann's presence", |f| {
        f.get(&path)["connections"] == json!(1)
    })
    .await;
    assert_eq!(m.fake.get(&format!("{path}/username")), json!("ann"));
    let mut tab2 = connect(&m.api, &ann).await;
    join(&mut tab2, "video:v1", "1", json!({})).await;
    eventually(&m.fake, Duration::from_secs(5), "two tabs", |f| {
        f.get(&path)["connections"] == json!(2)
    })
    .await;
    drop(tab1);
    eventually(&m.fake, Duration::from_secs(5), "one tab", |f| {
        f.get(&path)["connections"] == json!(1)
    })
    .await;
    // Shutting down closes the last socket; its member is written away before the end.
    m.api.server.shut_down().await;
    drop(tab2);
    assert_eq!(
        m.fake.get(&path),
        Value::Null,
        "gone when the server stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_is_mirrored_and_without_a_mirror_no_outbox_rows_pile_up() {
    let m = mirrored(&[]).await;
    let ann = m.api.register("ann").await;
    m.api.login_ok("ann", "laptop").await;
    let path = format!("users/{}/last_login_at", ann.user_id);
    eventually(&m.fake, Duration::from_secs(10), "ann's last login", |f| {
        f.get(&path).is_string()
    })
    .await;

    let plain = Api::start().await;
    let bob = plain.register("bob").await;
    plain.comment(&bob, "v1", "unmirrored").await;
    assert_eq!(
        plain.db.count("SELECT COUNT(*) FROM mirror_outbox").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_starts_alone_clears_stale_presence() {
    let fake = FakeFirebase::start().expect("the fake starts");
    fake.set(
        "videos/v9/presence/someone",
        json!({"username": "ghost", "connections": 1}),
    );
    fake.set("videos/v9/comments/c", json!({"content": "stays"}));
    let key = KeyFile::new(&fake);
    let url = fake.database_url();
    let _api = Api::with(&mirror_settings(&url, &key)).await;
    eventually(
        &fake,
        Duration::from_secs(10),
        "stale presence cleared",
        |f| f.get("videos/v9/presence") == Value::Null,
    )
    .await;
    assert_eq!(fake.get("videos/v9/comments/c/content"), json!("stays"));
}
