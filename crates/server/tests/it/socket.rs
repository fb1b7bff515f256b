//! The WebSocket side over real sockets: a Rust client speaking Phoenix V2 frames to the
//! real server (port 0, real MariaDB).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::api::{Api, Session};

pub(crate) type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

fn ws_url(api: &Api, query: &str) -> String {
    format!(
        "{}/socket/websocket?{query}",
        api.server.base.replace("http://", "ws://")
    )
}

pub(crate) async fn connect(api: &Api, session: &Session) -> Ws {
    connect_to(&api.server, session).await
}

/// A socket on `server` for `session`.
pub(crate) async fn connect_to(server: &crate::TestServer, session: &Session) -> Ws {
    connect_at(&server.base, session).await
}

/// A socket on the server at `base` (`http://host:port`) for `session`.
pub(crate) async fn connect_at(base: &str, session: &Session) -> Ws {
    let url = format!(
        "{}/socket/websocket?token={}&vsn=2.0.0",
        base.replace("http://", "ws://"),
        session.access
    );
    let (ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("socket opens");
    ws
}

/// The HTTP status of a refused upgrade.
async fn refused(api: &Api, query: &str) -> u16 {
    match tokio_tungstenite::connect_async(ws_url(api, query)).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => res.status().as_u16(),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

pub(crate) async fn send(ws: &mut Ws, frame: Value) {
    ws.send(Message::text(frame.to_string()))
        .await
        .expect("sent");
}

/// The next text frame, parsed.
async fn next(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("socket open")
            .expect("no error");
        if let Message::Text(text) = msg {
            return serde_json::from_str(&text).expect("JSON frame");
        }
    }
}

/// Frames until one with `event` on `topic` arrives.
pub(crate) async fn next_event(ws: &mut Ws, topic: &str, event: &str) -> Value {
    loop {
        let frame = next(ws).await;
        if frame[2] == topic && frame[3] == event {
            return frame;
        }
    }
}

/// Nothing arrives for a while.
pub(crate) async fn silent(ws: &mut Ws, topic: &str, event: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(400);
    while let Ok(Some(Ok(Message::Text(text)))) = tokio::time::timeout_at(deadline, ws.next()).await
    {
        let frame: Value = serde_json::from_str(&text).expect("JSON");
        assert!(
            !(frame[2] == topic && frame[3] == event),
            "unexpected {frame}"
        );
    }
}

pub(crate) async fn join(ws: &mut Ws, topic: &str, join_ref: &str, payload: Value) -> Value {
    send(ws, json!([join_ref, join_ref, topic, "phx_join", payload])).await;
    let reply = next_event(ws, topic, "phx_reply").await;
    assert_eq!(reply[0], join_ref);
    assert_eq!(reply[1], join_ref);
    reply
}

pub(crate) async fn close_code(ws: &mut Ws) -> Option<CloseCode> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("closes within 5 s")
        {
            Some(Ok(Message::Close(frame))) => return frame.map(|f| f.code),
            Some(Ok(_)) => continue,
            _ => return None,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upgrade_needs_a_valid_token_and_vsn_2() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    assert_eq!(refused(&api, "vsn=2.0.0").await, 403, "no token");
    assert_eq!(
        refused(&api, "token=garbage&vsn=2.0.0").await,
        403,
        "bad token"
    );
    assert_eq!(
        refused(&api, &format!("token={}", ann.access)).await,
        403,
        "no vsn means 1.0.0"
    );
    assert_eq!(
        refused(&api, &format!("token={}&vsn=1.0.0", ann.access)).await,
        403
    );
    for vsn in ["2.0.0x", "2.0.", "2.0.0.1", "2.0.-1"] {
        assert_eq!(
            refused(&api, &format!("token={}&vsn={vsn}", ann.access)).await,
            403,
            "vsn={vsn}"
        );
    }
    assert_eq!(
        refused(&api, &format!("token={}&vsn=2.0.0", ann.access)).await,
        101
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_are_limited_per_user_and_per_node_while_health_checks_go_on() {
    let api = Api::with(&[
        ("RTS_WS_MAX_SOCKETS_PER_USER", "2"),
        ("RTS_WS_MAX_SOCKETS", "3"),
    ])
    .await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let _a1 = connect(&api, &ann).await;
    let _a2 = connect(&api, &ann).await;
    let query = format!("token={}&vsn=2.0.0", ann.access);
    assert_eq!(refused(&api, &query).await, 429, "a third for ann");
    let _b1 = connect(&api, &bob).await;
    let query = format!("token={}&vsn=2.0.0", bob.access);
    assert_eq!(refused(&api, &query).await, 503, "the node is full");
    api.get("/healthz", None).await.assert_status(200);
    // The refusal is the usual envelope.
    let (head, body) = raw_http(
        &api,
        &format!(
            "GET /socket/websocket?{query} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\n\
             Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        ),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 503"), "{head}");
    assert!(body.contains("\"code\":\"unavailable\""), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_auth_token_subprotocol_is_accepted_and_phoenix_echoed() {
    use base64::Engine;
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(&ann.access);
    let mut req = ws_url(&api, "vsn=2.0.0")
        .into_client_request()
        .expect("request");
    req.headers_mut().insert(
        "sec-websocket-protocol",
        format!("phoenix, base64url.bearer.phx.{encoded}")
            .parse()
            .expect("header"),
    );
    let (mut ws, res) = tokio_tungstenite::connect_async(req)
        .await
        .expect("socket opens");
    assert_eq!(res.headers()["sec-websocket-protocol"], "phoenix");
    send(&mut ws, json!([null, "1", "phoenix", "heartbeat", {}])).await;
    assert_eq!(
        next(&mut ws).await,
        json!([null, "1", "phoenix", "phx_reply", {"status": "ok", "response": {}}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_carry_a_request_id_and_count_in_the_request_metrics() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let mut req = ws_url(&api, &format!("token={}&vsn=2.0.0", ann.access))
        .into_client_request()
        .expect("request");
    req.headers_mut()
        .insert("x-request-id", "ws-upgrade-1".parse().expect("header"));
    let (_ws, res) = tokio_tungstenite::connect_async(req)
        .await
        .expect("socket opens");
    assert_eq!(res.headers()["x-request-id"], "ws-upgrade-1", "echoed");

    match tokio_tungstenite::connect_async(ws_url(&api, "vsn=2.0.0")).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status().as_u16(), 403);
            assert!(res.headers().contains_key("x-request-id"), "made fresh");
        }
        other => panic!("expected a 403, got {other:?}"),
    }

    // The recorder is global: under `cargo test` other tests' upgrades count here too.
    let metrics = api.get("/metrics", None).await;
    let text = metrics.body.as_str().unwrap_or_default();
    for status in ["101", "403"] {
        let series = format!(
            r#"http_request_duration_seconds_count{{route="/socket/websocket",method="GET",status="{status}"}} "#
        );
        assert!(text.contains(&series), "{series} in {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joining_a_room_sends_history_then_presence() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    for i in 0..3 {
        api.comment(&ann, "v1", &format!("comment {i}")).await;
    }
    let mut ws = connect(&api, &ann).await;
    let reply = join(&mut ws, "video:v1", "4", json!({})).await;
    assert_eq!(reply[4]["status"], "ok");
    let contents: Vec<&str> = reply[4]["response"]["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .filter_map(|c| c["content"].as_str())
        .collect();
    assert_eq!(
        contents,
        ["comment 0", "comment 1", "comment 2"],
        "oldest first"
    );

    // The room's count first, so a client knows the room's mode before its presence.
    let stats = next(&mut ws).await;
    assert_eq!(
        (&stats[0], &stats[3], &stats[4]["viewers"]),
        (&json!("4"), &json!("room_stats"), &json!(1))
    );
    let state = next(&mut ws).await;
    assert_eq!(
        (&state[0], &state[1], &state[3]),
        (&json!("4"), &Value::Null, &json!("presence_state"))
    );
    let diff = next_event(&mut ws, "video:v1", "presence_diff").await;
    let metas = &diff[4]["joins"][&ann.user_id]["metas"];
    assert_eq!(metas[0]["username"], "ann");
    assert!(metas[0]["phx_ref"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_join_with_since_sends_what_was_missed() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let first = api.comment(&ann, "v1", "seen").await;
    api.comment(&ann, "v1", "missed 1").await;
    api.comment(&ann, "v1", "missed 2").await;
    let mut ws = connect(&api, &ann).await;
    let reply = join(&mut ws, "video:v1", "1", json!({ "since": first["id"] })).await;
    let response = &reply[4]["response"];
    let contents: Vec<&str> = response["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .filter_map(|c| c["content"].as_str())
        .collect();
    assert_eq!(contents, ["missed 1", "missed 2"]);
    assert_eq!(response["complete"], true);
    let bad = join(&mut ws, "video:v2", "2", json!({ "since": "not-an-id" })).await;
    assert_eq!(bad[4]["status"], "error");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_pushed_on_a_socket_are_stored_replied_and_broadcast_to_all() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let (mut a, mut b) = (connect(&api, &ann).await, connect(&api, &bob).await);
    join(&mut a, "video:v1", "1", json!({})).await;
    join(&mut b, "video:v1", "1", json!({})).await;

    send(
        &mut a,
        json!(["1", "2", "video:v1", "new_comment", {"content": "  live!  "}]),
    )
    .await;
    let reply = next_event(&mut a, "video:v1", "phx_reply").await;
    assert_eq!(reply[1], "2");
    assert_eq!(reply[4]["status"], "ok");
    assert_eq!(reply[4]["response"]["comment"]["content"], "live!");
    let stored = api
        .get(
            &format!(
                "/api/comments/{}",
                reply[4]["response"]["comment"]["id"]
                    .as_str()
                    .unwrap_or_default()
            ),
            None,
        )
        .await;
    assert_eq!(
        stored.body, reply[4]["response"]["comment"],
        "the same object as REST"
    );

    for ws in [&mut a, &mut b] {
        let broadcast = next_event(ws, "video:v1", "new_comment").await;
        assert_eq!((&broadcast[0], &broadcast[1]), (&Value::Null, &Value::Null));
        assert_eq!(broadcast[4]["comment"]["content"], "live!");
    }

    send(
        &mut a,
        json!(["1", "3", "video:v1", "new_comment", {"content": "   "}]),
    )
    .await;
    let invalid = next_event(&mut a, "video:v1", "phx_reply").await;
    assert_eq!(invalid[4]["status"], "error");
    assert_eq!(invalid[4]["response"]["reason"], "validation_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactions_go_to_the_others_only() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let (mut a, mut b) = (connect(&api, &ann).await, connect(&api, &bob).await);
    join(&mut a, "video:v1", "1", json!({})).await;
    join(&mut b, "video:v1", "1", json!({})).await;
    send(
        &mut a,
        json!(["1", "2", "video:v1", "reaction", {"emoji": "🎉"}]),
    )
    .await;
    assert_eq!(
        next_event(&mut a, "video:v1", "phx_reply").await[4]["status"],
        "ok"
    );
    let got = next_event(&mut b, "video:v1", "reaction").await;
    assert_eq!(got[4], json!({"user_id": ann.user_id, "emoji": "🎉"}));
    silent(&mut a, "video:v1", "reaction").await;

    send(
        &mut a,
        json!(["1", "3", "video:v1", "reaction", {"emoji": "x".repeat(33)}]),
    )
    .await;
    assert_eq!(
        next_event(&mut a, "video:v1", "phx_reply").await[4]["status"],
        "error"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_edits_and_deletes_reach_the_room() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let mut ws = connect(&api, &ann).await;
    join(&mut ws, "video:v1", "1", json!({})).await;
    let comment = api.comment(&ann, "v1", "before").await;
    let id = comment["id"].as_str().unwrap_or_default().to_owned();
    next_event(&mut ws, "video:v1", "new_comment").await;
    api.patch(
        &format!("/api/comments/{id}"),
        ann.token(),
        json!({"content": "after"}),
    )
    .await
    .assert_status(200);
    let updated = next_event(&mut ws, "video:v1", "comment_updated").await;
    assert_eq!(updated[4]["comment"]["content"], "after");
    api.delete(&format!("/api/comments/{id}"), ann.token())
        .await
        .assert_status(204);
    let deleted = next_event(&mut ws, "video:v1", "comment_deleted").await;
    assert_eq!(deleted[4], json!({"id": id, "video_id": "v1"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_edge_cases_get_phoenix_answers() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let mut ws = connect(&api, &ann).await;
    // Unknown topic: error with join_ref null.
    send(&mut ws, json!(["7", "7", "nochannel", "phx_join", {}])).await;
    assert_eq!(
        next(&mut ws).await,
        json!([null, "7", "nochannel", "phx_reply", {"status": "error", "response": {"reason": "unmatched topic"}}])
    );
    // A push to a topic not joined.
    send(
        &mut ws,
        json!(["1", "8", "video:v1", "new_comment", {"content": "x"}]),
    )
    .await;
    assert_eq!(next(&mut ws).await[0], Value::Null);
    // Join, unknown event, stale join_ref dropped.
    join(&mut ws, "video:v1", "10", json!({})).await;
    send(&mut ws, json!(["10", "11", "video:v1", "dance", {}])).await;
    let unknown = next_event(&mut ws, "video:v1", "phx_reply").await;
    assert_eq!(unknown[4]["response"]["reason"], "unknown event");
    // Duplicate join: the new reply, then phx_close with the OLD join_ref.
    send(&mut ws, json!(["20", "20", "video:v1", "phx_join", {}])).await;
    let reply = next_event(&mut ws, "video:v1", "phx_reply").await;
    assert_eq!(
        (&reply[0], &reply[4]["status"]),
        (&json!("20"), &json!("ok"))
    );
    let closed = next_event(&mut ws, "video:v1", "phx_close").await;
    assert_eq!((&closed[0], &closed[1]), (&json!("10"), &json!("10")));
    send(
        &mut ws,
        json!(["10", "21", "video:v1", "reaction", {"emoji": "x"}]),
    )
    .await;
    silent(&mut ws, "video:v1", "phx_reply").await;
    // Leave: ok reply then phx_close.
    send(&mut ws, json!(["20", "22", "video:v1", "phx_leave", {}])).await;
    let left = next_event(&mut ws, "video:v1", "phx_reply").await;
    assert_eq!((&left[0], &left[1]), (&json!("20"), &json!("22")));
    assert_eq!(next_event(&mut ws, "video:v1", "phx_close").await[0], "20");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_json_closes_only_that_socket() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let mut bad = connect(&api, &ann).await;
    let mut good = connect(&api, &ann).await;
    bad.send(Message::text("{not json")).await.expect("sent");
    assert_eq!(close_code(&mut bad).await, Some(CloseCode::Invalid));
    send(&mut good, json!([null, "1", "phoenix", "heartbeat", {}])).await;
    assert_eq!(next(&mut good).await[3], "phx_reply");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_device_closes_its_sockets_with_1001() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let other = api.login_ok("ann", "tablet").await;
    let mut ws = connect(&api, &ann).await;
    join(&mut ws, "video:v1", "1", json!({})).await;
    let id = api.device_row_id(other.token(), "default").await;
    api.delete(&format!("/api/devices/{id}"), other.token())
        .await
        .assert_status(204);
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Away));
    assert_eq!(
        refused(&api, &format!("token={}&vsn=2.0.0", ann.access)).await,
        403,
        "and cannot come back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_client_id_returns_the_original_comment() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let mut ws = connect(&api, &ann).await;
    join(&mut ws, "video:v1", "1", json!({})).await;
    send(
        &mut ws,
        json!(["1", "2", "video:v1", "new_comment", {"content": "once", "client_id": "c-1"}]),
    )
    .await;
    let first = next_event(&mut ws, "video:v1", "phx_reply").await;
    send(
        &mut ws,
        json!(["1", "3", "video:v1", "new_comment", {"content": "once", "client_id": "c-1"}]),
    )
    .await;
    let second = next_event(&mut ws, "video:v1", "phx_reply").await;
    assert_eq!(second[1], "3");
    assert_eq!(
        first[4]["response"]["comment"],
        second[4]["response"]["comment"]
    );
    let listed = api.get("/api/videos/v1/comments", None).await;
    assert_eq!(
        listed.body["comments"].as_array().map(Vec::len),
        Some(1),
        "stored once"
    );
    // Over REST too.
    let rest = api
        .post(
            "/api/videos/v1/comments",
            ann.token(),
            json!({"content": "once", "client_id": "c-1"}),
        )
        .await;
    assert_eq!(rest.body["id"], first[4]["response"]["comment"]["id"]);
    send(
        &mut ws,
        json!(["1", "4", "video:v1", "new_comment", {"content": "x", "client_id": "bad id!"}]),
    )
    .await;
    let bad = next_event(&mut ws, "video:v1", "phx_reply").await;
    assert_eq!(bad[4]["response"]["reason"], "validation_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_socket_is_closed_after_the_idle_timeout() {
    let api = Api::with(&[("RTS_WS_IDLE_TIMEOUT_SECS", "1")]).await;
    let ann = api.register("ann").await;
    let mut quiet = connect(&api, &ann).await;
    let mut chatty = connect(&api, &ann).await;
    for i in 0..4 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        send(
            &mut chatty,
            json!([null, format!("{i}"), "phoenix", "heartbeat", {}]),
        )
        .await;
        next(&mut chatty).await;
    }
    assert_eq!(close_code(&mut quiet).await, Some(CloseCode::Away));
    send(&mut chatty, json!([null, "x", "phoenix", "heartbeat", {}])).await;
    assert_eq!(
        next(&mut chatty).await[1],
        "x",
        "a socket that talks stays open"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_elsewhere_and_plain_gets_get_envelopes_not_sockets() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let url = format!(
        "{}/socket/other?token={}&vsn=2.0.0",
        api.server.base.replace("http://", "ws://"),
        ann.access
    );
    match tokio_tungstenite::connect_async(url).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status().as_u16(), 404);
            assert_eq!(
                res.headers()["content-type"],
                "application/json",
                "the error envelope"
            );
        }
        other => panic!("expected a 404, got {other:?}"),
    }
    // Without `Upgrade: websocket` the same checks apply, then 400.
    let path = format!("/socket/websocket?token={}&vsn=2.0.0", ann.access);
    api.get(&path, None).await.assert_error(400, "bad_request");
    api.get("/socket/websocket?vsn=2.0.0", None)
        .await
        .assert_error(403, "forbidden");
}

/// Sends `request` as it is and returns the status line and the body of the answer.
async fn raw_http(api: &Api, request: &str) -> (String, String) {
    let answer = raw_answer(api, request).await;
    let status = answer.lines().next().unwrap_or_default().to_owned();
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// The whole answer to a raw request, head and body.
async fn raw_answer(api: &Api, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = api.server.base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).await.expect("the server listens");
    stream
        .write_all(request.as_bytes())
        .await
        .expect("the request is sent");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the server answers and closes")
        .expect("the answer is read");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrades_with_another_method_get_405_not_sockets() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let path = format!("/socket/websocket?token={}&vsn=2.0.0", ann.access);
    let handshake = "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    for request in [
        format!("POST {path} HTTP/1.1\r\nHost: x\r\n{handshake}Content-Length: 0\r\n\r\n"),
        format!("PUT {path} HTTP/1.1\r\nHost: x\r\n{handshake}Content-Length: 0\r\n\r\n"),
        // actix-http hands CONNECT to the upgrade handler too.
        "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n".to_owned(),
    ] {
        let answer = raw_answer(&api, &request).await;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or_default();
        assert!(
            head.starts_with("HTTP/1.1 405"),
            "{request:?} answered {head:?}"
        );
        assert!(
            head.lines().any(|l| l.eq_ignore_ascii_case("allow: GET")),
            "{request:?}: no Allow header in {head:?}"
        );
        let body: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{request:?}: the envelope, not {body:?}: {e}"));
        assert_eq!(body["error"]["code"], "method_not_allowed", "{request:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fragmented_and_control_frames_are_handled_and_oversized_ones_close_the_socket() {
    let api = Api::with(&[("RTS_WS_MAX_FRAME_BYTES", "4096")]).await;
    let ann = api.register("ann").await;
    let mut ws = connect(&api, &ann).await;
    // A heartbeat split over three frames is one message.
    let text = json!([null, "f1", "phoenix", "heartbeat", {}]).to_string();
    let (a, rest) = text.split_at(5);
    let (b, c) = rest.split_at(5);
    use tokio_tungstenite::tungstenite::protocol::frame::{
        Frame,
        coding::{Data, OpCode},
    };
    for (i, part) in [a, b, c].into_iter().enumerate() {
        let opcode = if i == 0 {
            OpCode::Data(Data::Text)
        } else {
            OpCode::Data(Data::Continue)
        };
        let frame = Frame::message(part.as_bytes().to_vec(), opcode, i == 2);
        ws.send(Message::Frame(frame)).await.unwrap();
    }
    assert_eq!(next(&mut ws).await[1], "f1");
    // Pings are answered with pongs carrying the same bytes.
    ws.send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Pong(bytes))) => {
                assert_eq!(&bytes[..], b"are you there");
                break;
            }
            Some(Ok(_)) => continue,
            other => panic!("expected a pong, got {other:?}"),
        }
    }
    // A frame over the limit closes the socket with 1009.
    let big = json!([null, "big", "phoenix", "heartbeat", {"pad": "x".repeat(8000)}]);
    send(&mut ws, big).await;
    assert_eq!(close_code(&mut ws).await, Some(CloseCode::Size));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_reply_arrives_whole_even_when_the_client_reads_late() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let long = "y".repeat(1900);
    for i in 0..50 {
        api.comment(&ann, "v-big", &format!("{i} {long}")).await;
    }
    let mut ws = connect(&api, &ann).await;
    // Join, then let the reply (about 100 KB) sit in the socket before reading it.
    send(&mut ws, json!(["1", "1", "video:v-big", "phx_join", {}])).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let reply = next_event(&mut ws, "video:v-big", "phx_reply").await;
    let comments = reply[4]["response"]["comments"].as_array().unwrap();
    assert_eq!(comments.len(), 50);
    assert!(
        comments
            .iter()
            .all(|c| c["content"].as_str().unwrap().ends_with(&long))
    );
    next_event(&mut ws, "video:v-big", "presence_state").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_down_closes_every_socket_with_1012() {
    let api = Api::start().await;
    let mut sockets = Vec::new();
    for i in 0..10 {
        let user = api.register(&format!("user{i}")).await;
        let mut ws = connect(&api, &user).await;
        if i % 2 == 0 {
            join(&mut ws, "video:v1", "1", json!({})).await;
        }
        sockets.push(ws);
    }
    let closes = futures_util::future::join_all(sockets.iter_mut().map(close_code));
    let (codes, ()) = tokio::join!(closes, api.server.shut_down());
    assert_eq!(codes, vec![Some(CloseCode::Restart); 10]);
}
