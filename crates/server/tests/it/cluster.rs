//! Several nodes as one: servers sharing a MariaDB database and a private Redis that the
//! test starts (so it can stop it), with Rust WebSocket clients on each node.

use std::path::PathBuf;
use std::time::Duration;

use local_services::Redis;
use serde_json::{Value, json};

use crate::TestServer;
use crate::api::Api;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::socket::{close_code, connect_to, join, next_event, send, silent};

/// A new directory of this test's own under the system's temporary one.
pub(crate) fn temp_dir(prefix: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "{prefix}-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

/// A private Redis in a directory of its own, removed when dropped.
pub(crate) struct PrivateRedis {
    pub(crate) redis: Redis,
    dir: PathBuf,
}

impl PrivateRedis {
    pub(crate) fn start() -> Self {
        let dir = temp_dir("rts-cluster");
        let redis = Redis::start(&dir, None).expect("redis-server starts");
        Self { redis, dir }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        let _ = self.redis.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Two nodes on one database and one Redis.
pub(crate) async fn two_nodes(redis: &PrivateRedis) -> (Api, TestServer) {
    let url = redis.redis.url();
    let a = Api::with(&[("RTS_REDIS_URL", &url), ("RTS_NODE_ID", "node-a")]).await;
    let b = a
        .another_server(&[("RTS_REDIS_URL", &url), ("RTS_NODE_ID", "node-b")])
        .await;
    wait_until_connected(&a.server).await;
    wait_until_connected(&b).await;
    (a, b)
}

/// `/readyz` of `server`.
pub(crate) async fn readiness(server: &TestServer) -> (u16, Value) {
    let res = crate::get(server.url("/readyz"))
        .await
        .expect("readyz answers");
    let status = res.status().as_u16();
    (status, res.json().await.expect("JSON"))
}

pub(crate) async fn wait_until(server: &TestServer, redis_check: &str) {
    for _ in 0..200 {
        let (_, body) = readiness(server).await;
        if body["checks"]["redis"]
            .as_str()
            .is_some_and(|check| check.starts_with(redis_check))
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("redis never became {redis_check:?} on {}", server.base);
}

pub(crate) async fn wait_until_connected(server: &TestServer) {
    wait_until(server, "ok").await;
}

/// Posts over REST on the first node; returns the comment's id.
pub(crate) async fn post(api: &Api, token: &str, video: &str, content: &str) -> String {
    let reply = api
        .post(
            &format!("/api/videos/{video}/comments"),
            Some(token),
            json!({ "content": content }),
        )
        .await;
    reply.assert_status(201)["id"]
        .as_str()
        .expect("an id")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_comment_on_one_node_reaches_sockets_on_both_exactly_once() {
    let redis = PrivateRedis::start();
    let (api, b) = two_nodes(&redis).await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let topic = "video:cluster-1";
    let mut on_a = connect_to(&api.server, &ann).await;
    let mut on_b = connect_to(&b, &bob).await;
    join(&mut on_a, topic, "1", json!({})).await;
    join(&mut on_b, topic, "1", json!({})).await;
    // Subscriptions on Redis are made as the topic's first socket joins: give B's a moment.
    tokio::time::sleep(Duration::from_millis(200)).await;

    let id = post(&api, &ann.access, "cluster-1", "hello from A").await;
    let on_b_got = next_event(&mut on_b, topic, "new_comment").await;
    assert_eq!(on_b_got[4]["comment"]["id"], id);
    assert_eq!(on_b_got[4]["comment"]["content"], "hello from A");
    let on_a_got = next_event(&mut on_a, topic, "new_comment").await;
    assert_eq!(on_a_got[4]["comment"]["id"], id);
    silent(&mut on_b, topic, "new_comment").await;
    silent(&mut on_a, topic, "new_comment").await;

    // A reaction pushed on B reaches A (and not its sender).
    send(
        &mut on_b,
        json!(["1", "7", topic, "reaction", { "emoji": "🎉" }]),
    )
    .await;
    let reaction = next_event(&mut on_a, topic, "reaction").await;
    assert_eq!(reaction[4]["emoji"], "🎉");
    assert_eq!(reaction[4]["user_id"], bob.user_id);
    silent(&mut on_a, topic, "reaction").await;
    silent(&mut on_b, topic, "reaction").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_hears_only_the_topics_its_sockets_joined() {
    let redis = PrivateRedis::start();
    let (api, b) = two_nodes(&redis).await;
    let ann = api.register("ann").await;
    let mut on_b = connect_to(&b, &ann).await;
    join(&mut on_b, "video:cluster-2", "1", json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let channels = redis_cli(&redis, &["pubsub", "channels", "rts:topic:*"]);
    assert_eq!(channels.trim(), "rts:topic:video:cluster-2");
    send(
        &mut on_b,
        json!(["1", "2", "video:cluster-2", "phx_leave", {}]),
    )
    .await;
    next_event(&mut on_b, "video:cluster-2", "phx_close").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let channels = redis_cli(&redis, &["pubsub", "channels", "rts:topic:*"]);
    assert_eq!(channels.trim(), "", "unsubscribed with the last socket");
}

pub(crate) fn redis_cli(redis: &PrivateRedis, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &redis.redis.port().to_string()])
        .args(args)
        .output()
        .expect("redis-cli runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_redis_a_node_serves_its_own_sockets_and_recovers_when_it_returns() {
    let mut redis = PrivateRedis::start();
    let (api, b) = two_nodes(&redis).await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let topic = "video:cluster-3";
    let mut on_a = connect_to(&api.server, &ann).await;
    let mut on_b = connect_to(&b, &bob).await;
    join(&mut on_a, topic, "1", json!({})).await;
    join(&mut on_b, topic, "1", json!({})).await;

    redis.redis.stop().expect("redis stops");
    wait_until(&api.server, "unreachable: serving this node's sockets only").await;
    let (status, body) = readiness(&api.server).await;
    assert_eq!(status, 200, "degraded is still ready: {body}");
    assert_eq!(body["status"], "degraded");

    // Stored and acknowledged, and delivered on its own node.
    let id = post(&api, &ann.access, "cluster-3", "during the outage").await;
    assert_eq!(
        next_event(&mut on_a, topic, "new_comment").await[4]["comment"]["id"],
        id
    );

    redis.redis.restart().expect("redis restarts");
    wait_until_connected(&api.server).await;
    wait_until_connected(&b).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let id = post(&api, &ann.access, "cluster-3", "after the outage").await;
    // B gets the second. The first it may miss (clients recover it with `since`) or get
    // late (a publish already handed to the Redis client goes out once it reconnects,
    // within its 2 s command timeout), but never twice.
    let mut seen = Vec::new();
    loop {
        let got = next_event(&mut on_b, topic, "new_comment").await;
        let got = got[4]["comment"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(!seen.contains(&got), "{got} arrived twice");
        seen.push(got.clone());
        if got == id {
            break;
        }
    }
    silent(&mut on_b, topic, "new_comment").await;
    // The one posted during the outage is in MariaDB.
    let listed = api
        .get("/api/videos/cluster-3/comments", Some(&ann.access))
        .await;
    assert_eq!(
        listed.assert_status(200)["comments"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_revoked_on_one_node_closes_its_socket_on_the_other_within_a_second() {
    let redis = PrivateRedis::start();
    let (api, b) = two_nodes(&redis).await;
    let ann = api.register("ann").await;
    let tablet = api.login_ok("ann", "tablet").await;
    let mut on_b = connect_to(&b, &ann).await;
    join(&mut on_b, "video:cluster-4", "1", json!({})).await;
    let id = api.device_row_id(tablet.token(), "default").await;
    api.delete(&format!("/api/devices/{id}"), tablet.token())
        .await
        .assert_status(204);
    // Counted from the revocation's answer: node A has revoked by then.
    let started = std::time::Instant::now();
    assert_eq!(close_code(&mut on_b).await, Some(CloseCode::Away));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "closed after {:?}",
        started.elapsed()
    );
    // B's gate forgot its cached "active": the token is refused there at once.
    let res = crate::http_client()
        .get(b.url("/api/me"))
        .bearer_auth(&ann.access)
        .send()
        .await
        .expect("B answers");
    assert_eq!(res.status().as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_change_on_one_node_holds_on_the_other_at_once() {
    let redis = PrivateRedis::start();
    let (api, b) = two_nodes(&redis).await;
    let admin = api.user_with_role("root", "admin").await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let id = post(&api, &bob.access, "cluster-5", "bob's").await;
    let delete_on_b = || {
        crate::http_client()
            .delete(b.url(&format!("/api/comments/{id}")))
            .bearer_auth(&ann.access)
            .send()
    };
    // B caches ann as a plain user.
    assert_eq!(
        delete_on_b().await.expect("B answers").status().as_u16(),
        403
    );
    api.patch(
        &format!("/api/users/{}", ann.user_id),
        admin.token(),
        json!({ "role": "moderator" }),
    )
    .await
    .assert_status(200);
    // Within a second, and well inside B's 2 s cache: ann moderates on B.
    let started = std::time::Instant::now();
    loop {
        let status = delete_on_b().await.expect("B answers").status().as_u16();
        if status == 204 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still {status} on B after {:?}",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limit_holds_across_nodes() {
    let redis = PrivateRedis::start();
    let url = redis.redis.url();
    let limits = [
        ("RTS_REDIS_URL", url.as_str()),
        ("RTS_RATE_COMMENTS_PER_USER", "2"),
    ];
    let api = Api::with(&[limits[0], limits[1], ("RTS_NODE_ID", "node-a")]).await;
    let b = api
        .another_server(&[limits[0], limits[1], ("RTS_NODE_ID", "node-b")])
        .await;
    wait_until_connected(&api.server).await;
    wait_until_connected(&b).await;
    let ann = api.register("ann").await;
    post(&api, &ann.access, "cluster-6", "one, on A").await;
    let post_on_b = |content: &'static str| {
        crate::http_client()
            .post(b.url("/api/videos/cluster-6/comments"))
            .bearer_auth(&ann.access)
            .json(&json!({ "content": content }))
            .send()
    };
    assert_eq!(
        post_on_b("two, on B")
            .await
            .expect("B answers")
            .status()
            .as_u16(),
        201
    );
    let third = post_on_b("three, on B").await.expect("B answers");
    assert_eq!(third.status().as_u16(), 429, "the allowance is shared");
    assert!(third.headers().contains_key("retry-after"));
    // Another user's allowance is untouched.
    let bob = api.register("bob").await;
    post(&api, &bob.access, "cluster-6", "bob's").await;
}

/// The keys of a presence map.
pub(crate) fn keys(map: &Value) -> Vec<String> {
    let mut keys: Vec<String> = map
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    keys.sort();
    keys
}

/// Diffs until one in which `key` joins.
pub(crate) async fn until_joined(ws: &mut crate::socket::Ws, topic: &str, key: &str) {
    loop {
        let diff = next_event(ws, topic, "presence_diff").await;
        if keys(&diff[4]["joins"]).iter().any(|k| k == key) {
            return;
        }
    }
}

/// Connects `who` to `server` and joins `topic` until its `presence_state` (less itself)
/// is `expected`, for at most 10 s.
pub(crate) async fn until_a_joiner_sees(
    server: &crate::TestServer,
    who: &crate::api::Session,
    topic: &str,
    expected: &[String],
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut ws = connect_to(server, who).await;
        let state = presence_on_join(&mut ws, topic, who).await;
        if state == expected {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a joiner on {} still sees {state:?}, not {expected:?}",
            server.base
        );
        drop(ws);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Joins `topic` and returns the keys of the `presence_state` the joiner receives, less
/// its own (which it may or may not see there yet).
pub(crate) async fn presence_on_join(
    ws: &mut crate::socket::Ws,
    topic: &str,
    me: &crate::api::Session,
) -> Vec<String> {
    join(ws, topic, "1", json!({})).await;
    let state = next_event(ws, topic, "presence_state").await;
    keys(&state[4])
        .into_iter()
        .filter(|k| *k != me.user_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn presence_is_the_same_room_from_every_node() {
    let redis = PrivateRedis::start();
    let (api, b) = two_nodes(&redis).await;
    let topic = "video:cluster-7";
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let cat = api.register("cat").await;
    let dan = api.register("dan").await;
    let mut ann_on_a = connect_to(&api.server, &ann).await;
    presence_on_join(&mut ann_on_a, topic, &ann).await;
    let mut bob_on_b = connect_to(&b, &bob).await;
    presence_on_join(&mut bob_on_b, topic, &bob).await;
    // Ann, on A, hears of Bob on B.
    until_joined(&mut ann_on_a, topic, &bob.user_id).await;
    // Newcomers on either node see everyone, whichever node they are on.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut cat_on_a = connect_to(&api.server, &cat).await;
    let state = presence_on_join(&mut cat_on_a, topic, &cat).await;
    let mut expected = vec![ann.user_id.clone(), bob.user_id.clone()];
    expected.sort();
    assert_eq!(state, expected, "A shows B's member");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut dan_on_b = connect_to(&b, &dan).await;
    let state = presence_on_join(&mut dan_on_b, topic, &dan).await;
    let mut expected = vec![
        ann.user_id.clone(),
        bob.user_id.clone(),
        cat.user_id.clone(),
    ];
    expected.sort();
    assert_eq!(state, expected, "B shows A's members");
}

/// A realtime-server process of its own, on the test's database, killed when dropped.
pub(crate) struct ChildNode {
    pub(crate) child: std::process::Child,
    pub(crate) base: String,
}

impl ChildNode {
    pub(crate) async fn start(api: &Api, redis_url: &str, node: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_realtime-server"))
            .arg("serve")
            .env("RTS_DATABASE_URL", api.db.url().expose())
            .env("RTS_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("RTS_JWT_SECRET", crate::TEST_JWT_SECRET)
            .env("RTS_REDIS_URL", redis_url)
            .env("RTS_NODE_ID", node)
            .env("RTS_LOG_LEVEL", "warn")
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("the server binary starts");
        let base = format!("http://127.0.0.1:{port}");
        let node = Self { child, base };
        for _ in 0..200 {
            if let Ok(res) = crate::get(format!("{}/readyz", node.base)).await
                && let Ok(body) = res.json::<Value>().await
                && body["checks"]["redis"] == "ok"
            {
                return node;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the child node never became ready");
    }
}

impl Drop for ChildNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_members_of_a_killed_node_leave_every_room_within_10_seconds() {
    let redis = PrivateRedis::start();
    let url = redis.redis.url();
    let api = Api::with(&[("RTS_REDIS_URL", &url), ("RTS_NODE_ID", "node-a")]).await;
    wait_until_connected(&api.server).await;
    let mut doomed = ChildNode::start(&api, &url, "node-doomed").await;
    let topic = "video:cluster-8";
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let mut ann_on_a = connect_to(&api.server, &ann).await;
    presence_on_join(&mut ann_on_a, topic, &ann).await;
    let mut bob_on_doomed = crate::socket::connect_at(&doomed.base, &bob).await;
    presence_on_join(&mut bob_on_doomed, topic, &bob).await;
    until_joined(&mut ann_on_a, topic, &bob.user_id).await;

    // SIGKILL: no leave is ever sent by the node itself.
    doomed.child.kill().expect("killed");
    let killed = std::time::Instant::now();
    let leave = tokio::time::timeout(Duration::from_secs(10), async {
        use futures_util::StreamExt;
        use tokio_tungstenite::tungstenite::Message;
        while let Some(Ok(message)) = ann_on_a.next().await {
            let Message::Text(text) = message else {
                continue;
            };
            let frame: Value = serde_json::from_str(&text).expect("JSON");
            if frame[3] == "presence_diff" && keys(&frame[4]["leaves"]).contains(&bob.user_id) {
                return frame;
            }
        }
        panic!("ann's socket closed");
    })
    .await
    .expect("bob leaves within 10 s of the kill");
    assert!(keys(&leave[4]["joins"]).is_empty());
    assert!(killed.elapsed() < Duration::from_secs(10));
    // And a newcomer on A no longer sees him.
    let cat = api.register("cat").await;
    let mut cat_on_a = connect_to(&api.server, &cat).await;
    let state = presence_on_join(&mut cat_on_a, topic, &cat).await;
    assert_eq!(state, vec![ann.user_id.clone()]);
}

/// A three-shard Redis Cluster from the installed `redis-server`, stopped when dropped.
struct PrivateCluster {
    shards: Vec<std::process::Child>,
    ports: Vec<u16>,
    dir: PathBuf,
}

impl PrivateCluster {
    fn start() -> Self {
        let dir = temp_dir("rts-redis-cluster");
        let ports: Vec<u16> = (0..3)
            .map(|_| {
                std::net::TcpListener::bind("127.0.0.1:0")
                    .and_then(|l| l.local_addr())
                    .expect("a free port")
                    .port()
            })
            .collect();
        let server = local_services::find_redis_server().expect("redis-server is installed");
        let shards = ports
            .iter()
            .map(|port| {
                std::process::Command::new(&server)
                    .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                    .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
                    .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                    .args(["--save", "", "--appendonly", "no"])
                    .arg("--dir")
                    .arg(&dir)
                    .stdout(std::process::Stdio::null())
                    .spawn()
                    .expect("a shard starts")
            })
            .collect();
        let cluster = Self { shards, ports, dir };
        for port in &cluster.ports {
            wait_for(|| cluster.cli(*port, &["ping"]).trim() == "PONG");
        }
        let nodes: Vec<String> = cluster
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        let out = std::process::Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .output()
            .expect("redis-cli runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        for port in &cluster.ports {
            wait_for(|| {
                cluster
                    .cli(*port, &["cluster", "info"])
                    .contains("cluster_state:ok")
            });
        }
        cluster
    }

    fn cli(&self, port: u16, args: &[&str]) -> String {
        let out = std::process::Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `redis-cluster://` with every shard.
    fn url(&self) -> String {
        let extra: Vec<String> = self.ports[1..]
            .iter()
            .map(|p| format!("node=127.0.0.1:{p}"))
            .collect();
        format!(
            "redis-cluster://127.0.0.1:{}?{}",
            self.ports[0],
            extra.join("&")
        )
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        for shard in &mut self.shards {
            let _ = shard.kill();
            let _ = shard.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn wait_for(ready: impl Fn() -> bool) {
    for _ in 0..200 {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("the Redis cluster did not come up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_redis_cluster_topics_use_sharded_pub_sub() {
    let cluster = PrivateCluster::start();
    let url = cluster.url();
    let api = Api::with(&[("RTS_REDIS_URL", &url), ("RTS_NODE_ID", "node-a")]).await;
    let b = api
        .another_server(&[("RTS_REDIS_URL", &url), ("RTS_NODE_ID", "node-b")])
        .await;
    wait_until_connected(&api.server).await;
    wait_until_connected(&b).await;
    let topic = "video:cluster-9";
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let mut ann_on_a = connect_to(&api.server, &ann).await;
    let mut bob_on_b = connect_to(&b, &bob).await;
    presence_on_join(&mut ann_on_a, topic, &ann).await;
    // B's first socket in the room learns of A's member from B's sync over the cluster:
    // in its presence_state if the sync was quicker than the join, else in a diff.
    let state = presence_on_join(&mut bob_on_b, topic, &bob).await;
    if state != vec![ann.user_id.clone()] {
        until_joined(&mut bob_on_b, topic, &ann.user_id).await;
    }
    // Then a newcomer on B gets the whole room in its presence_state.
    let dan = api.register("dan").await;
    let mut dan_on_b = connect_to(&b, &dan).await;
    let state = presence_on_join(&mut dan_on_b, topic, &dan).await;
    let mut expected = vec![ann.user_id.clone(), bob.user_id.clone()];
    expected.sort();
    assert_eq!(state, expected);
    tokio::time::sleep(Duration::from_millis(200)).await;

    let id = post(&api, &ann.access, "cluster-9", "sharded").await;
    let got = next_event(&mut bob_on_b, topic, "new_comment").await;
    assert_eq!(got[4]["comment"]["id"], id);
    silent(&mut bob_on_b, topic, "new_comment").await;

    // The topic's channel is a shard channel on exactly one shard, and no classic channel.
    let shard_channels: Vec<String> = cluster
        .ports
        .iter()
        .map(|p| cluster.cli(*p, &["pubsub", "shardchannels", "rts:topic:*"]))
        .filter(|out| !out.trim().is_empty())
        .collect();
    assert_eq!(shard_channels.len(), 1, "{shard_channels:?}");
    assert_eq!(shard_channels[0].trim(), "rts:topic:video:cluster-9");
    for port in &cluster.ports {
        assert_eq!(
            cluster
                .cli(*port, &["pubsub", "channels", "rts:topic:*"])
                .trim(),
            ""
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_are_one_room() {
    let redis = PrivateRedis::start();
    let (api, b) = two_nodes(&redis).await;
    let url = redis.redis.url();
    let c = api
        .another_server(&[("RTS_REDIS_URL", &url), ("RTS_NODE_ID", "node-c")])
        .await;
    wait_until_connected(&c).await;
    let topic = "video:cluster-10";
    let [ann, bob, cat, dan] = [
        api.register("ann").await,
        api.register("bob").await,
        api.register("cat").await,
        api.register("dan").await,
    ];
    let mut on_a = connect_to(&api.server, &ann).await;
    let mut on_b = connect_to(&b, &bob).await;
    let mut on_c = connect_to(&c, &cat).await;
    presence_on_join(&mut on_a, topic, &ann).await;
    presence_on_join(&mut on_b, topic, &bob).await;
    presence_on_join(&mut on_c, topic, &cat).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A newcomer on any node sees the three.
    let mut dan_on_c = connect_to(&c, &dan).await;
    let state = presence_on_join(&mut dan_on_c, topic, &dan).await;
    let mut expected = vec![
        ann.user_id.clone(),
        bob.user_id.clone(),
        cat.user_id.clone(),
    ];
    expected.sort();
    assert_eq!(state, expected);
    // A comment on B reaches A and C once each.
    let posted = crate::http_client()
        .post(b.url("/api/videos/cluster-10/comments"))
        .bearer_auth(&bob.access)
        .json(&json!({ "content": "from B" }))
        .send()
        .await
        .expect("B answers");
    assert_eq!(posted.status().as_u16(), 201);
    let id = posted.json::<Value>().await.expect("JSON")["id"].clone();
    for ws in [&mut on_a, &mut on_c, &mut on_b] {
        assert_eq!(
            next_event(ws, topic, "new_comment").await[4]["comment"]["id"],
            id
        );
    }
    for ws in [&mut on_a, &mut on_c, &mut on_b] {
        silent(ws, topic, "new_comment").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_ten_seconds_without_redis_presence_is_whole_again() {
    let mut redis = PrivateRedis::start();
    let (api, b) = two_nodes(&redis).await;
    let topic = "video:cluster-11";
    let [ann, bob, cat, dan] = [
        api.register("ann").await,
        api.register("bob").await,
        api.register("cat").await,
        api.register("dan").await,
    ];
    let mut on_a = connect_to(&api.server, &ann).await;
    presence_on_join(&mut on_a, topic, &ann).await;
    let mut on_b = connect_to(&b, &bob).await;
    presence_on_join(&mut on_b, topic, &bob).await;
    until_joined(&mut on_a, topic, &bob.user_id).await;

    redis.redis.stop().expect("redis stops");
    tokio::time::sleep(Duration::from_secs(10)).await;
    redis.redis.restart().expect("redis restarts");
    wait_until_connected(&api.server).await;
    wait_until_connected(&b).await;
    // Each node forgot the other's members while cut off, and syncs them back (each
    // node's answer may wait out the other's sync interval). A socket's diffs cannot tell
    // when: one may repeat a join it had, so a newcomer on each node looks until it sees
    // the whole room.
    let mut expected = vec![ann.user_id.clone(), bob.user_id.clone()];
    expected.sort();
    until_a_joiner_sees(&b, &cat, topic, &expected).await;
    until_a_joiner_sees(&api.server, &dan, topic, &expected).await;
    let id = post(&api, &ann.access, "cluster-11", "after the outage").await;
    assert_eq!(
        next_event(&mut on_b, topic, "new_comment").await[4]["comment"]["id"],
        id
    );
}
