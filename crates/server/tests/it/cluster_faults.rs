//! Several nodes through faults: a Redis the test stops and starts, a node killed and
//! restarted under the same id, a Redis that refuses the password. What clients are
//! promised (who is in the room, who may stay connected) must hold afterwards.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::api::Api;
use crate::cluster::{
    ChildNode, PrivateRedis, keys, presence_on_join, readiness, two_nodes, until_joined,
    wait_until, wait_until_connected,
};
use crate::socket::{Ws, close_code, connect_at, connect_to, join, send};

/// Waits up to `within` for a `presence_diff` on `topic` in which `key` leaves.
async fn left_within(ws: &mut Ws, topic: &str, key: &str, within: Duration) -> bool {
    tokio::time::timeout(within, async {
        while let Some(Ok(message)) = ws.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let frame: Value = serde_json::from_str(&text).expect("JSON");
            if frame[2] == topic
                && frame[3] == "presence_diff"
                && keys(&frame[4]["leaves"]).iter().any(|k| k == key)
            {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false)
}

async fn wait_until_unreachable(server: &crate::TestServer) {
    wait_until(server, "unreachable").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_who_leaves_during_a_short_redis_outage_leaves_every_node() {
    let mut redis = PrivateRedis::start();
    let (api, b) = two_nodes(&redis).await;
    let topic = "video:faults-1";
    let [ann, bob, cat] = [
        api.register("ann").await,
        api.register("bob").await,
        api.register("cat").await,
    ];
    let mut ann_on_a = connect_to(&api.server, &ann).await;
    presence_on_join(&mut ann_on_a, topic, &ann).await;
    let mut bob_on_b = connect_to(&b, &bob).await;
    presence_on_join(&mut bob_on_b, topic, &bob).await;
    until_joined(&mut bob_on_b, topic, &ann.user_id).await;

    // Ann leaves while Redis is away, and it is back well before a node counts as silent.
    redis.redis.stop().expect("redis stops");
    wait_until_unreachable(&api.server).await;
    drop(ann_on_a);
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.redis.restart().expect("redis restarts");
    wait_until_connected(&api.server).await;
    wait_until_connected(&b).await;

    assert!(
        left_within(&mut bob_on_b, topic, &ann.user_id, Duration::from_secs(8)).await,
        "B still shows ann after Redis came back"
    );
    let mut cat_on_b = connect_to(&b, &cat).await;
    let state = presence_on_join(&mut cat_on_b, topic, &cat).await;
    assert_eq!(state, vec![bob.user_id.clone()], "no ghost for a newcomer");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_restarted_at_once_under_the_same_id_leaves_no_ghosts() {
    let redis = PrivateRedis::start();
    let url = redis.redis.url();
    let api = Api::with(&[("RTS_REDIS_URL", &url), ("RTS_NODE_ID", "node-a")]).await;
    wait_until_connected(&api.server).await;
    let mut first_life = ChildNode::start(&api, &url, "node-x").await;
    let topic = "video:faults-2";
    let [ann, bob] = [api.register("ann").await, api.register("bob").await];
    let mut ann_on_a = connect_to(&api.server, &ann).await;
    presence_on_join(&mut ann_on_a, topic, &ann).await;
    let mut bob_on_x = connect_at(&first_life.base, &bob).await;
    presence_on_join(&mut bob_on_x, topic, &bob).await;
    until_joined(&mut ann_on_a, topic, &bob.user_id).await;

    // Killed (no goodbye), then back under the same id before 6 s of silence, as a
    // container restarted in place would be.
    first_life.child.kill().expect("killed");
    let killed = Instant::now();
    let _second_life = ChildNode::start(&api, &url, "node-x").await;
    let silent_for = killed.elapsed();
    assert!(
        silent_for < Duration::from_secs(4),
        "restarted in {silent_for:?}: too slow to tell a restart from a silent node"
    );
    // Well before the other nodes would count node-x as silent (6 s and a heartbeat).
    assert!(
        left_within(
            &mut ann_on_a,
            topic,
            &bob.user_id,
            Duration::from_secs(5).saturating_sub(silent_for)
        )
        .await,
        "bob, on node-x's first life, is still shown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_revoked_while_redis_is_down_closes_its_socket_on_the_other_node() {
    let mut redis = PrivateRedis::start();
    let (api, b) = two_nodes(&redis).await;
    let ann = api.register("ann").await;
    let tablet = api.login_ok("ann", "tablet").await;
    let mut on_b = connect_to(&b, &ann).await;
    join(&mut on_b, "video:faults-3", "1", json!({})).await;

    redis.redis.stop().expect("redis stops");
    wait_until_unreachable(&api.server).await;
    wait_until_unreachable(&b).await;
    let id = api.device_row_id(tablet.token(), "default").await;
    api.delete(&format!("/api/devices/{id}"), tablet.token())
        .await
        .assert_status(204);
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.redis.restart().expect("redis restarts");
    wait_until_connected(&b).await;
    let back = Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(8), close_code(&mut on_b)).await;
    assert_eq!(
        closed.ok().flatten(),
        Some(CloseCode::Away),
        "the revoked device's socket on B is still open {:?} after Redis came back",
        back.elapsed()
    );
}

/// `redis-cli monitor` on the test's Redis: every command it runs, one line each.
struct Monitor {
    child: Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Monitor {
    fn start(redis: &PrivateRedis) -> Self {
        let mut child = Command::new("redis-cli")
            .args(["-p", &redis.redis.port().to_string(), "monitor"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("redis-cli runs");
        let out = child.stdout.take().expect("its output");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let into = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                into.lock().expect("lines").push(line);
            }
        });
        Self { child, lines }
    }

    /// Lines seen so far that contain `needle`.
    fn count(&self, needle: &str) -> usize {
        let lines = self.lines.lock().expect("lines");
        lines.iter().filter(|l| l.contains(needle)).count()
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_joins_and_join_churn_do_not_multiply_presence_syncs() {
    let redis = PrivateRedis::start();
    let (api, b) = two_nodes(&redis).await;
    let topic = "video:faults-4";
    let [ann, bob] = [api.register("ann").await, api.register("bob").await];
    let mut ann_on_a = connect_to(&api.server, &ann).await;
    presence_on_join(&mut ann_on_a, topic, &ann).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let monitor = Monitor::start(&redis);
    tokio::time::sleep(Duration::from_millis(200)).await;

    // Twenty joins refused for their payload: no subscription, no sync.
    let mut bob_on_b = connect_to(&b, &bob).await;
    for i in 0..20 {
        let r = (i + 1).to_string();
        let reply = join(&mut bob_on_b, topic, &r, json!({ "since": "bad" })).await;
        assert_eq!(reply[4]["status"], "error", "{reply}");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(monitor.count("\"SUBSCRIBE\" \"rts:topic:"), 0, "subscribed");
    assert_eq!(monitor.count("presence_sync"), 0, "synced");

    // Joins and leaves in quick succession, each the node's only socket in the room:
    // asks and answers about the room are spaced, not one per join.
    let mut bob_on_b = connect_to(&b, &bob).await;
    let started = Instant::now();
    for i in 0..8 {
        let r = (2 * i + 1).to_string();
        join(&mut bob_on_b, topic, &r, json!({})).await;
        send(
            &mut bob_on_b,
            json!([r, (2 * i + 2).to_string(), topic, "phx_leave", {}]),
        )
        .await;
        crate::socket::next_event(&mut bob_on_b, topic, "phx_close").await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let seconds = started.elapsed().as_secs() + 1;
    let asks = monitor.count("presence_sync_request");
    let answers = monitor.count(" presence_sync\\n");
    assert!(
        asks as u64 <= seconds + 1,
        "{asks} asks in {seconds} s for 8 joins"
    );
    assert!(
        answers as u64 <= seconds + 1,
        "{answers} answers in {seconds} s for 8 joins"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_refuses_the_password_is_named_in_readyz() {
    let redis = PrivateRedis::start();
    let port = redis.redis.port();
    crate::cluster::redis_cli(&redis, &["config", "set", "requirepass", "s3cret"]);
    let api = Api::with(&[("RTS_REDIS_URL", &format!("redis://127.0.0.1:{port}"))]).await;
    let mut last = Value::Null;
    for _ in 0..100 {
        let (status, body) = readiness(&api.server).await;
        assert_eq!(status, 200, "degraded is still ready: {body}");
        let check = body["checks"]["redis"].as_str().unwrap_or_default();
        if check.contains("last error") {
            let lower = check.to_lowercase();
            assert!(
                lower.contains("noauth") || lower.contains("auth"),
                "the cause is named: {check}"
            );
            return;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("readyz never named the cause: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_url_that_is_not_redis_is_named_in_readyz() {
    // Something that answers like an HTTP server, not Redis.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let port = listener.local_addr().expect("its address").port();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok).take(50) {
            use std::io::Write;
            let mut stream = stream;
            let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
        }
    });
    let api = Api::with(&[("RTS_REDIS_URL", &format!("redis://127.0.0.1:{port}"))]).await;
    let mut last = Value::Null;
    for _ in 0..100 {
        let (_, body) = readiness(&api.server).await;
        if body["checks"]["redis"]
            .as_str()
            .is_some_and(|c| c.contains("last error"))
        {
            return;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("readyz never named the cause: {last}");
}

/// A reader following docs/realtime.md's recovery rule: it stands at `position`, having
/// every comment up to there, and rejoins after it.
#[derive(Default)]
struct Reader {
    position: Option<u64>,
    early: std::collections::BTreeSet<u64>,
    seen: std::collections::HashSet<String>,
}

impl Reader {
    fn stand(&mut self, up_to: u64) {
        let mut position = self.position.unwrap_or(0).max(up_to);
        self.early.retain(|p| *p > position);
        while self.early.remove(&(position + 1)) {
            position += 1;
        }
        self.position = Some(position);
    }

    fn got(&mut self, comment: &Value) {
        self.seen
            .insert(comment["id"].as_str().unwrap_or_default().to_owned());
        let at = comment["position"].as_u64().expect("a position");
        if let Some(position) = self.position
            && at > position
        {
            self.early.insert(at);
            self.stand(position);
        }
    }

    fn params(&self) -> Value {
        self.position
            .map_or_else(|| json!({}), |after| json!({ "after": after }))
    }

    /// Joins `topic` on `ws` and takes in what arrives until `until`.
    async fn visit(&mut self, ws: &mut Ws, topic: &str, until: tokio::time::Instant) {
        send(ws, json!(["1", "1", topic, "phx_join", self.params()])).await;
        while let Ok(Some(Ok(message))) = tokio::time::timeout_at(until, ws.next()).await {
            let Message::Text(text) = message else {
                continue;
            };
            let frame: Value = serde_json::from_str(&text).expect("JSON");
            match frame[3].as_str() {
                Some("phx_reply") if frame[2] == topic => {
                    let response = &frame[4]["response"];
                    assert_eq!(frame[4]["status"], "ok", "{frame}");
                    for comment in response["comments"].as_array().into_iter().flatten() {
                        self.got(comment);
                    }
                    self.stand(response["position"].as_u64().expect("a position"));
                }
                Some("new_comment") => self.got(&frame[4]["comment"]),
                _ => {}
            }
        }
    }
}

/// Every comment id of `video`, from REST, newest first page by page.
async fn stored_ids(api: &Api, video: &str) -> std::collections::HashSet<String> {
    let mut ids = std::collections::HashSet::new();
    let mut cursor = String::new();
    loop {
        let page = api
            .get(
                &format!("/api/videos/{video}/comments?limit=100{cursor}"),
                None,
            )
            .await;
        let page = page.assert_status(200);
        for comment in page["comments"].as_array().into_iter().flatten() {
            ids.insert(comment["id"].as_str().unwrap_or_default().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return ids,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_that_reconnects_every_250_ms_misses_no_comment_of_four_posters_on_two_nodes() {
    let redis = PrivateRedis::start();
    let (api, b) = two_nodes(&redis).await;
    let reader = api.register("reader").await;
    let posters = [
        api.register("poster0").await,
        api.register("poster1").await,
        api.register("poster2").await,
        api.register("poster3").await,
    ];
    let nodes = [api.server.base.clone(), b.base.clone()];
    // Three rooms one after the other: about thirty reconnects in all.
    for round in 0..3 {
        reconnecting_reader_round(
            &api,
            &nodes,
            &reader,
            &posters,
            &format!("faults-5-{round}"),
        )
        .await;
    }
}

/// Four posters, two on each node, post 120 comments each into `video` while the reader
/// reconnects every 250 ms, alternating nodes; then the reader must hold all 480.
async fn reconnecting_reader_round(
    api: &Api,
    nodes: &[String; 2],
    reader_user: &crate::api::Session,
    posters: &[crate::api::Session; 4],
    video: &str,
) {
    let topic = format!("video:{video}");
    let mut posting = Vec::new();
    for (i, poster) in posters.iter().enumerate() {
        let url = format!("{}/api/videos/{video}/comments", nodes[i % 2]);
        let token = poster.access.clone();
        posting.push(tokio::spawn(async move {
            let client = crate::http_client();
            for n in 0..120 {
                let res = client
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({ "content": format!("poster {i}, comment {n}") }))
                    .send()
                    .await
                    .expect("the node answers");
                assert_eq!(res.status().as_u16(), 201);
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
        }));
    }
    let mut reader = Reader::default();
    let mut visits = 0;
    while !posting.iter().all(tokio::task::JoinHandle::is_finished) {
        let mut ws = connect_at(&nodes[visits % 2], reader_user).await;
        let until = tokio::time::Instant::now() + Duration::from_millis(250);
        reader.visit(&mut ws, &topic, until).await;
        visits += 1;
    }
    for poster in posting {
        poster.await.expect("the poster finished");
    }
    // One last visit, after the last post.
    let mut ws = connect_at(&nodes[0], reader_user).await;
    let until = tokio::time::Instant::now() + Duration::from_millis(1000);
    reader.visit(&mut ws, &topic, until).await;

    let stored = stored_ids(api, video).await;
    assert_eq!(stored.len(), 480);
    let missing: Vec<&String> = stored.difference(&reader.seen).collect();
    assert!(
        missing.is_empty(),
        "{video}: {} of {} comments never reached the reader over {visits} reconnects",
        missing.len(),
        stored.len()
    );
    assert_eq!(
        reader.position,
        Some(480),
        "it stands at the room's last position"
    );
    assert!(visits >= 4, "reconnected {visits} times");
}

/// What a client shows of comments it was sent, following docs/realtime.md: the greater
/// version wins, and a deletion is final.
#[derive(Default)]
struct Shown {
    comments: std::collections::HashMap<String, Value>,
    deleted: std::collections::HashSet<String>,
}

impl Shown {
    fn take(&mut self, frame: &Value) {
        match frame[3].as_str() {
            Some("new_comment" | "comment_updated") => {
                let comment = &frame[4]["comment"];
                let id = comment["id"].as_str().unwrap_or_default().to_owned();
                let newer = self
                    .comments
                    .get(&id)
                    .is_none_or(|known| known["version"].as_u64() < comment["version"].as_u64());
                if !self.deleted.contains(&id) && newer {
                    self.comments.insert(id, comment.clone());
                }
            }
            Some("comment_deleted") => {
                let id = frame[4]["id"].as_str().unwrap_or_default().to_owned();
                self.comments.remove(&id);
                self.deleted.insert(id);
            }
            _ => {}
        }
    }

    /// Takes in what arrives on `ws` for `within`.
    async fn watch(&mut self, ws: &mut Ws, within: Duration) {
        let until = tokio::time::Instant::now() + within;
        while let Ok(Some(Ok(Message::Text(text)))) =
            tokio::time::timeout_at(until, ws.next()).await
        {
            self.take(&serde_json::from_str(&text).expect("JSON"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_edits_and_deletions_on_two_nodes_end_as_stored_for_a_client_on_either() {
    let redis = PrivateRedis::start();
    let (api, b) = two_nodes(&redis).await;
    let video = "faults-6";
    let topic = format!("video:{video}");
    let ann = api.register("ann").await;
    let viewer = api.register("viewer").await;
    let mut on_a = connect_to(&api.server, &viewer).await;
    let mut on_b = connect_to(&b, &viewer).await;
    join(&mut on_a, &topic, "1", json!({})).await;
    join(&mut on_b, &topic, "1", json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (mut shown_a, mut shown_b) = (Shown::default(), Shown::default());
    let client = crate::http_client();
    let nodes = [api.server.base.clone(), b.base.clone()];
    for race in 0..25 {
        let id = crate::cluster::post(&api, &ann.access, video, &format!("race {race}")).await;
        let url = |node: usize| format!("{}/api/comments/{id}", nodes[node]);
        let edit = |node: usize, text: String| {
            client
                .patch(url(node))
                .bearer_auth(&ann.access)
                .json(&json!({ "content": text }))
                .send()
        };
        if race % 2 == 0 {
            // Two edits at once, one on each node.
            let (x, y) = tokio::join!(edit(0, format!("{race}: A")), edit(1, format!("{race}: B")));
            assert_eq!(x.expect("A answers").status().as_u16(), 200);
            assert_eq!(y.expect("B answers").status().as_u16(), 200);
        } else {
            // An edit on A and the deletion on B at once.
            let delete = client.delete(url(1)).bearer_auth(&ann.access).send();
            let (x, y) = tokio::join!(edit(0, format!("{race}: A")), delete);
            assert!(
                [200, 404].contains(&x.expect("A answers").status().as_u16()),
                "an edit after the deletion finds nothing"
            );
            assert_eq!(y.expect("B answers").status().as_u16(), 204);
        }
    }
    shown_a.watch(&mut on_a, Duration::from_secs(2)).await;
    shown_b.watch(&mut on_b, Duration::from_secs(1)).await;
    let stored = api
        .get(&format!("/api/videos/{video}/comments?limit=100"), None)
        .await;
    let stored: std::collections::HashMap<String, Value> = stored.assert_status(200)["comments"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| (c["id"].as_str().unwrap_or_default().to_owned(), c.clone()))
        .collect();
    assert_eq!(stored.len(), 13, "the twelve deleted are gone");
    for (node, shown) in [("A", &shown_a), ("B", &shown_b)] {
        let content = |map: &std::collections::HashMap<String, Value>| {
            let mut all: Vec<(String, String)> = map
                .iter()
                .map(|(id, c)| {
                    (
                        id.clone(),
                        c["content"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect();
            all.sort();
            all
        };
        assert_eq!(
            content(&shown.comments),
            content(&stored),
            "what a client on {node} shows"
        );
    }
}
