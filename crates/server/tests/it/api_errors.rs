//! The error envelope over HTTP: bad bodies (400, 413, 415, 422), unknown routes (404),
//! wrong methods (405), rate limits (429 with Retry-After), and that no bad request ever
//! gets a 500 or a body that is not the envelope.

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, PASSWORD, Reply, assert_envelope, email_of};

const JSON: (&str, &str) = ("content-type", "application/json");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_json_is_400_malformed_json() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let bearer = format!("Bearer {}", ann.access);
    for body in ["{not json", "{\"email\": ", "", "nul\u{0}", "{'a': 1}"] {
        let reply = api
            .raw(Method::POST, "/api/auth/login", &[JSON], body)
            .await;
        reply.assert_error(400, "malformed_json");

        let reply = api
            .raw(
                Method::POST,
                "/api/videos/video1/comments",
                &[JSON, ("authorization", bearer.as_str())],
                body,
            )
            .await;
        reply.assert_error(400, "malformed_json");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_json_is_415() {
    let api = Api::start().await;
    let body = json!({ "email": email_of("ann"), "password": PASSWORD }).to_string();
    for headers in [
        vec![("content-type", "text/plain")],
        vec![("content-type", "application/x-www-form-urlencoded")],
        vec![],
    ] {
        let reply = api
            .raw(Method::POST, "/api/auth/login", &headers, body.clone())
            .await;
        reply.assert_error(415, "unsupported_media_type");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_configured_limit_is_413() {
    let api = Api::with(&[("RTS_HTTP_MAX_BODY_BYTES", "2048")]).await;
    let ann = api.register("ann").await;

    let big = json!({
        "email": email_of("bob"),
        "username": "bob",
        "password": PASSWORD,
        "device_info": { "padding": "x".repeat(3000) },
    });
    let reply = api.post("/api/auth/register", None, big).await;
    reply.assert_error(413, "payload_too_large");

    let comment = json!({ "content": "y".repeat(2500) });
    api.post("/api/videos/video1/comments", ann.token(), comment)
        .await
        .assert_error(413, "payload_too_large");

    // Just under the limit is read (and judged on its content).
    let small = json!({ "content": "z".repeat(1900) });
    api.post("/api/videos/video1/comments", ann.token(), small)
        .await
        .assert_status(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_default_limit_is_413() {
    let api = Api::start().await;
    let big = json!({
        "email": email_of("bob"),
        "username": "bob",
        "password": PASSWORD,
        "device_info": { "padding": "x".repeat(70_000) },
    });
    api.post("/api/auth/register", None, big)
        .await
        .assert_error(413, "payload_too_large");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_routes_are_404_with_the_envelope() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    for path in [
        "/nope",
        "/api",
        "/api/nope",
        "/api/videos",
        "/api/videos/video1",
        "/api/videos/video1/comments/extra",
        "/api/auth",
        "/api/comments",
        "/api/me/extra",
    ] {
        api.get(path, None).await.assert_error(404, "not_found");
        api.get(path, ann.token())
            .await
            .assert_error(404, "not_found");
        api.post(path, ann.token(), json!({}))
            .await
            .assert_error(404, "not_found");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_method_is_405_with_the_envelope() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let comment = format!("/api/comments/{}", uuid::Uuid::now_v7());
    for (method, path) in [
        (Method::PUT, "/api/me"),
        (Method::DELETE, "/api/me"),
        (Method::POST, "/api/me"),
        (Method::GET, "/api/auth/login"),
        (Method::GET, "/api/auth/register"),
        (Method::DELETE, "/api/auth/logout"),
        (Method::PUT, "/api/devices"),
        (
            Method::GET,
            "/api/devices/0190a0e0-0000-7000-8000-000000000000",
        ),
        (Method::DELETE, "/api/users"),
        (Method::PUT, "/api/videos/video1/comments"),
        (Method::POST, comment.as_str()),
        (Method::PUT, comment.as_str()),
    ] {
        let reply = api
            .call(method.clone(), path, ann.token(), Some(json!({})))
            .await;
        reply.assert_error(405, "method_not_allowed");
    }
}

/// Bodies are JSON objects: an array (which serde would read as the fields in order), a
/// string, a number or null is a 422 envelope on every route that takes a body.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_is_not_a_json_object_is_422() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let comment = api.comment(&ann, "video1", "hello").await;
    let comment_path = format!("/api/comments/{}", comment["id"].as_str().unwrap_or("x"));
    let user_path = format!("/api/users/{}", ann.user_id);
    let email = email_of("bob");
    let cases: Vec<(Method, &str, Value)> = vec![
        (
            Method::POST,
            "/api/auth/register",
            json!([email, "bob", PASSWORD]),
        ),
        (Method::POST, "/api/auth/login", json!([email, PASSWORD])),
        (Method::POST, "/api/auth/refresh", json!([ann.refresh])),
        (Method::PATCH, "/api/me", json!(["annie"])),
        (Method::PATCH, &user_path, json!(["admin"])),
        (Method::POST, "/api/videos/video1/comments", json!(["hi"])),
        (Method::PATCH, &comment_path, json!(["edited"])),
    ];
    for (method, path, body) in cases {
        for body in [body, json!("text"), json!(7), Value::Null] {
            let reply = api
                .call(method.clone(), path, ann.token(), Some(body.clone()))
                .await;
            assert_eq!(
                reply.status.as_u16(),
                422,
                "{method} {path} with {body}: {reply:#?}"
            );
            reply.assert_error(422, "validation_failed");
        }
    }
    // Nothing was changed by those requests.
    let me = api.get("/api/me", ann.token()).await;
    assert_eq!(me.assert_status(200)["username"], "ann");
    let listed = api.get("/api/videos/video1/comments", None).await;
    let comments = listed.assert_status(200)["comments"].clone();
    assert_eq!(comments.as_array().map(Vec::len), Some(1), "{comments}");
    assert_eq!(comments[0]["content"], "hello");
}

/// The `Allow` header of a 405: the route's methods, sorted.
fn allow(reply: &Reply) -> Vec<String> {
    let value = reply
        .headers
        .get("allow")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("a 405 has an Allow header: {reply:#?}"));
    let mut methods: Vec<String> = value.split(',').map(|m| m.trim().to_owned()).collect();
    methods.sort();
    methods
}

/// Every route answers a method it does not serve with 405, the envelope, and `Allow`;
/// the operator routes and the socket path included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_405_says_which_methods_are_allowed() {
    let api = Api::start().await;
    let id = "0190a0e0-0000-7000-8000-000000000000";
    let comment = format!("/api/comments/{id}");
    let user = format!("/api/users/{id}");
    let device = format!("/api/devices/{id}");
    for (method, path, allowed) in [
        (Method::POST, "/healthz", vec!["GET"]),
        (Method::DELETE, "/readyz", vec!["GET"]),
        (Method::PUT, "/metrics", vec!["GET"]),
        (Method::POST, "/socket/websocket", vec!["GET"]),
        (Method::POST, "/api/openapi.json", vec!["GET"]),
        (Method::GET, "/api/auth/login", vec!["POST"]),
        (Method::PUT, "/api/me", vec!["GET", "PATCH"]),
        (Method::DELETE, "/api/devices", vec!["GET"]),
        (Method::GET, device.as_str(), vec!["DELETE"]),
        (Method::POST, user.as_str(), vec!["GET", "PATCH"]),
        (Method::PUT, "/api/videos/v1/comments", vec!["GET", "POST"]),
        (
            Method::POST,
            comment.as_str(),
            vec!["DELETE", "GET", "PATCH"],
        ),
    ] {
        let reply = api.call(method.clone(), path, None, None).await;
        reply.assert_error(405, "method_not_allowed");
        assert_eq!(allow(&reply), allowed, "{method} {path}");
        assert!(reply.headers.contains_key("x-request-id"), "{reply:#?}");
    }
}

/// Sends `request` as is over a fresh connection and returns what came back.
async fn raw_exchange(api: &Api, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = api.server.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    stream.write_all(request).await.expect("sends");
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await;
    // A keep-alive answer leaves the connection open: what arrived is enough.
    if read.is_err() {
        assert!(!answer.is_empty(), "no answer to {request:?}");
    }
    String::from_utf8_lossy(&answer).into_owned()
}

/// Requests that parse but name no path (the asterisk form, `GET *`) still reach the app:
/// the envelope and a request id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_asterisk_form_gets_the_envelope_and_a_request_id() {
    let api = Api::start().await;
    for method in ["GET", "OPTIONS", "POST"] {
        let request = format!("{method} * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        let answer = raw_exchange(&api, request.as_bytes()).await;
        let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let head = head.to_ascii_lowercase();
        assert!(head.starts_with("http/1.1 404"), "{method} *: {answer}");
        assert!(head.contains("\r\nx-request-id: "), "{method} *: {answer}");
        assert!(
            head.contains("\r\ncontent-type: application/json"),
            "{method} *: {answer}"
        );
        let body: Value = serde_json::from_str(body).expect("a JSON body");
        assert_eq!(body["error"]["code"], "not_found", "{answer}");
    }
}

/// What actix-http answers itself, before any request exists (documented in docs/api.md,
/// "Errors"): a head that does not parse is 400, one over the size limit 431, each with an
/// empty body, and the connection is closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unparseable_requests_are_400_and_oversized_heads_431() {
    let api = Api::start().await;
    let huge = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(140_000)
    );
    let many: String = (0..100).map(|i| format!("X-{i}: a\r\n")).collect();
    let many = format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n");
    for (request, status) in [
        ("NONSENSE\r\n\r\n".to_owned(), "400"),
        ("GET /healthz HTTP/1.1\r\n\r\n".to_owned(), "400"),
        ("GET /he llo HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(), "400"),
        (huge, "431"),
        (many, "431"),
    ] {
        let answer = raw_exchange(&api, request.as_bytes()).await;
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{:?}: {answer}",
            &request[..request.len().min(40)]
        );
    }
    // The server is fine afterwards.
    api.get("/healthz", None).await.assert_status(200);
}

/// A grab bag of hostile and sloppy requests: each gets the envelope, none a 5xx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_the_json_envelope_and_never_a_500() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let comment = api.comment(&ann, "video1", "hello").await;
    let comment_path = format!("/api/comments/{}", comment["id"].as_str().unwrap_or("x"));

    let long_path = format!("/api/videos/{}/comments", "v".repeat(5000));
    let calls: Vec<(Method, String, Option<&str>, Option<Value>)> = vec![
        (Method::GET, "/api/users?limit=x".into(), ann.token(), None),
        (Method::GET, "/api/users?limit=0".into(), ann.token(), None),
        (Method::GET, "/api/users/%00".into(), ann.token(), None),
        (Method::GET, long_path, None, None),
        (
            Method::GET,
            "/api/videos/video1/comments?limit=1&limit=2".into(),
            None,
            None,
        ),
        (
            Method::GET,
            "/api/videos/video1/comments?cursor=%FF%FE".into(),
            None,
            None,
        ),
        (
            Method::GET,
            "/api/videos/video1/comments?cursor=_____________________w".into(),
            None,
            None,
        ),
        (
            Method::POST,
            "/api/auth/register".into(),
            None,
            Some(json!({
                "email": "😀@example.com",
                "username": "😀😀😀",
                "password": PASSWORD,
            })),
        ),
        (
            Method::POST,
            "/api/auth/login".into(),
            None,
            Some(json!({ "email": email_of("ann"), "password": "p".repeat(2000) })),
        ),
        (
            Method::POST,
            "/api/auth/refresh".into(),
            None,
            Some(json!({ "refresh_token": "\u{0}\u{1}" })),
        ),
        (
            Method::POST,
            "/api/auth/refresh".into(),
            None,
            Some(json!({ "refresh_token": ["a"] })),
        ),
        (
            Method::PATCH,
            "/api/me".into(),
            ann.token(),
            Some(json!({ "username": 7 })),
        ),
        (
            Method::PATCH,
            comment_path.clone(),
            ann.token(),
            Some(json!({ "content": { "nested": true } })),
        ),
        (
            Method::PATCH,
            format!("/api/users/{}", ann.user_id),
            ann.token(),
            Some(json!({ "role": "admin", "is_active": false })),
        ),
        (Method::DELETE, "/api/devices/%20".into(), ann.token(), None),
    ];
    let mut answers: Vec<Reply> = Vec::new();
    for (method, path, token, body) in calls {
        let reply = api.call(method.clone(), &path, token, body).await;
        assert!(
            reply.status.as_u16() < 500,
            "{method} {path}: never a 5xx: {reply:#?}"
        );
        if !reply.status.is_success() {
            assert_envelope(&reply);
        }
        answers.push(reply);
    }
    // The server is still fine afterwards.
    api.get("/api/me", ann.token()).await.assert_status(200);
    assert!(!answers.is_empty());
}

/// Device info nested deeper than the database accepts (MariaDB's JSON depth limit is
/// 32) is an invalid field, not a failure inside the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deeply_nested_device_info_is_422_not_a_500() {
    let api = Api::start().await;
    api.register("ann").await;
    let mut deep = json!({ "leaf": true });
    for _ in 0..40 {
        deep = json!({ "n": deep });
    }
    let register = api
        .post(
            "/api/auth/register",
            None,
            json!({
                "email": email_of("deep"),
                "username": "deep",
                "password": PASSWORD,
                "device_info": deep.clone(),
            }),
        )
        .await;
    register.assert_error(422, "validation_failed");
    assert_eq!(register.fields(), ["device_info"], "{register:#?}");

    let login = api
        .post(
            "/api/auth/login",
            None,
            json!({
                "email": email_of("ann"),
                "password": PASSWORD,
                "device_info": deep,
            }),
        )
        .await;
    login.assert_error(422, "validation_failed");
    assert_eq!(login.fields(), ["device_info"], "{login:#?}");
}

// ---- rate limits ---------------------------------------------------------------------

/// The `Retry-After` header, in whole seconds.
fn retry_after(reply: &Reply) -> u64 {
    let value = reply
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("a Retry-After header: {reply:#?}"));
    value
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After is whole seconds: {value:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fourth_login_of_an_account_in_a_minute_is_429() {
    let api = Api::with(&[("RTS_RATE_LOGINS_PER_ACCOUNT", "3")]).await;
    api.register("ann").await;
    api.register("bob").await;

    // Failed attempts count too.
    api.login(&email_of("ann"), "wrong password", "phone")
        .await
        .assert_error(401, "invalid_credentials");
    api.login_ok("ann", "phone").await;
    api.login_ok("ann", "phone").await;

    let limited = api.login(&email_of("ann"), PASSWORD, "phone").await;
    limited.assert_error(429, "rate_limited");
    let wait = retry_after(&limited);
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    // A sentence for people, with the same wait; the limit's name stays in the logs.
    assert_eq!(
        limited.body["error"]["message"],
        format!("Too many sign-in attempts; try again in {wait} s"),
        "{limited:#?}"
    );

    // Another account has a budget of its own.
    api.login_ok("bob", "phone").await;
    // The limit is per account, whatever the spelling of its email.
    api.login(" ANN@example.com", PASSWORD, "laptop")
        .await
        .assert_error(429, "rate_limited");
}

/// Accented variants of an email are other addresses: they neither open the account nor
/// get an allowance of their own against it. The same address typed decomposed (e + a
/// combining accent) is the same address, and shares its allowance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accented_variants_of_an_email_do_not_bypass_the_account_limit() {
    let api = Api::with(&[("RTS_RATE_LOGINS_PER_ACCOUNT", "3")]).await;
    register_email(&api, "caf\u{e9}.x@example.com", "cafe_x").await;
    for _ in 0..3 {
        api.login("caf\u{e9}.x@example.com", "wrong password", "phone")
            .await
            .assert_error(401, "invalid_credentials");
    }
    api.login("caf\u{e9}.x@example.com", PASSWORD, "phone")
        .await
        .assert_error(429, "rate_limited");
    api.login("cafe\u{301}.x@example.com", PASSWORD, "phone")
        .await
        .assert_error(429, "rate_limited");
    for other in [
        "cafe.x@example.com",
        "caf\u{e8}.x@example.com",
        "CAF\u{c8}.x@example.com",
    ] {
        api.login(other, PASSWORD, "phone")
            .await
            .assert_error(401, "invalid_credentials");
    }
}

async fn register_email(api: &Api, email: &str, username: &str) -> crate::api::Reply {
    let reply = api
        .post(
            "/api/auth/register",
            None,
            serde_json::json!({ "email": email, "username": username, "password": PASSWORD }),
        )
        .await;
    assert_eq!(reply.status, 201, "{reply:#?}");
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_from_one_address_are_limited_too() {
    let api = Api::with(&[("RTS_RATE_LOGINS_PER_IP", "2")]).await;
    for name in ["ann", "bob", "cat"] {
        api.register(name).await;
    }
    api.login_ok("ann", "phone").await;
    api.login(&email_of("nobody"), PASSWORD, "phone")
        .await
        .assert_error(401, "invalid_credentials");
    let limited = api.login(&email_of("cat"), PASSWORD, "phone").await;
    limited.assert_error(429, "rate_limited");
    assert!(retry_after(&limited) >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_third_comment_of_a_user_in_a_minute_is_429() {
    let api = Api::with(&[("RTS_RATE_COMMENTS_PER_USER", "2")]).await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    api.comment(&ann, "video1", "one").await;
    api.comment(&ann, "video2", "two").await;

    let limited = api
        .post(
            "/api/videos/video1/comments",
            ann.token(),
            json!({ "content": "three" }),
        )
        .await;
    limited.assert_error(429, "rate_limited");
    let wait = retry_after(&limited);
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    assert_eq!(
        limited.body["error"]["message"],
        format!("You're posting too fast; try again in {wait} s"),
        "{limited:#?}"
    );

    // Not stored; and other users are not affected.
    let listed = api.get("/api/videos/video1/comments", None).await;
    assert_eq!(
        listed.assert_status(200)["comments"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    api.comment(&bob, "video1", "mine").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_from_one_address_are_limited() {
    let api = Api::with(&[("RTS_RATE_REGISTRATIONS_PER_IP", "2")]).await;
    api.register("ann").await;
    // Refused sign-ups count too: each costs a password hash.
    api.post(
        "/api/auth/register",
        None,
        json!({ "email": email_of("ann"), "username": "ann2", "password": PASSWORD }),
    )
    .await
    .assert_error(409, "conflict");
    let limited = api
        .post(
            "/api/auth/register",
            None,
            json!({ "email": email_of("bob"), "username": "bob", "password": PASSWORD }),
        )
        .await;
    limited.assert_error(429, "rate_limited");
    let wait = retry_after(&limited);
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    // Not stored; and signing in is a budget of its own.
    api.login(&email_of("bob"), PASSWORD, "phone")
        .await
        .assert_error(401, "invalid_credentials");
    api.login_ok("ann", "phone").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_are_limited_by_default() {
    // The defaults of a real deployment, not the API tests' unlimited ones.
    let db = persistence::test_db::TestDatabase::new().await;
    let server = crate::TestServer::start(db.url().expose(), &[]).await;
    let client = crate::http_client();
    let mut statuses = Vec::new();
    for i in 0..11 {
        let reply = client
            .post(server.url("/api/auth/register"))
            .json(&json!({
                "email": email_of(&format!("user{i}")),
                "username": format!("user{i}"),
                "password": PASSWORD,
            }))
            .send()
            .await
            .expect("the server answers");
        statuses.push(reply.status().as_u16());
    }
    assert_eq!(statuses[..10], [201; 10], "{statuses:?}");
    assert_eq!(statuses[10], 429, "{statuses:?}");
}

/// phoenix.js falls back to LongPoll where there is no WebSocket (Node 20 without the `ws`
/// package): its polls get an envelope that says so, whatever the method.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn longpoll_is_refused_with_a_hint_to_use_the_websocket() {
    let api = Api::start().await;
    for method in [Method::GET, Method::POST] {
        let reply = api
            .raw(
                method.clone(),
                "/socket/longpoll?vsn=2.0.0&token=x",
                &[JSON],
                "[]",
            )
            .await;
        reply.assert_error(404, "longpoll_not_supported");
        let message = reply.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("WebSocket") && message.contains("/socket/websocket"),
            "{method}: {message}"
        );
    }
}

/// A login from `xff` (as a proxy would forward it); its status.
async fn login_from(api: &Api, xff: &str, name: &str) -> u16 {
    let body = json!({ "email": email_of(name), "password": PASSWORD, "device_id": "phone" });
    api.raw(
        Method::POST,
        "/api/auth/login",
        &[
            ("content-type", "application/json"),
            ("x-forwarded-for", xff),
        ],
        body.to_string(),
    )
    .await
    .status
    .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_client_address_has_its_own_login_allowance() {
    let api = Api::with(&[
        ("RTS_RATE_LOGINS_PER_IP", "2"),
        ("RTS_TRUSTED_PROXIES", "127.0.0.1, ::1"),
    ])
    .await;
    for name in ["ann", "bob", "cat"] {
        api.register(name).await;
    }
    assert_eq!(login_from(&api, "198.51.100.1", "ann").await, 200);
    assert_eq!(login_from(&api, "198.51.100.1", "bob").await, 200);
    assert_eq!(login_from(&api, "198.51.100.1", "cat").await, 429);
    // Another client behind the same proxy has its own allowance.
    assert_eq!(login_from(&api, "198.51.100.2", "cat").await, 200);
    // A forged first entry changes nothing: the proxy's own entry is the last.
    assert_eq!(login_from(&api, "6.6.6.6, 198.51.100.1", "cat").await, 429);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_headers_from_an_untrusted_peer_are_ignored() {
    let api = Api::with(&[("RTS_RATE_LOGINS_PER_IP", "2")]).await;
    for name in ["ann", "bob", "cat"] {
        api.register(name).await;
    }
    assert_eq!(login_from(&api, "198.51.100.1", "ann").await, 200);
    assert_eq!(login_from(&api, "198.51.100.2", "bob").await, 200);
    assert_eq!(
        login_from(&api, "198.51.100.3", "cat").await,
        429,
        "every request is from the peer, 127.0.0.1"
    );
}
