//! What the server does for browsers: the web client at `/` with its security headers,
//! CORS for the API, and the WebSocket Origin check. (The page itself is tested in real
//! Chromium: e2e/browser.)

use reqwest::Method;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::api::{Api, Reply};

const ALLOWED: &str = "https://app.example.com";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_are_served_with_security_headers() {
    let api = Api::start().await;
    let client = crate::http_client();
    let page = client.get(api.server.url("/")).send().await.expect("page");
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(header("content-type"), "text/html; charset=utf-8");
    let csp = header("content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "no-referrer");
    let html = page.text().await.expect("html");
    assert!(html.contains("<html"), "{html}");

    let phoenix = client
        .get(api.server.url("/assets/vendor/phoenix.mjs"))
        .send()
        .await
        .expect("phoenix.mjs");
    assert_eq!(phoenix.status(), 200);
    assert_eq!(
        phoenix.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let etag = phoenix.headers()["etag"].clone();
    let again = client
        .get(api.server.url("/assets/vendor/phoenix.mjs"))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("revalidated");
    assert_eq!(again.status(), 304);

    let missing = api.get("/assets/nope.js", None).await;
    missing.assert_error(404, "not_found");
    let outside = api.get("/assets/../Cargo.toml", None).await;
    assert_eq!(outside.status, 404);
    // A 404 under /assets/ has the page's headers too, and the API answers are never sniffed.
    for (path, csp) in [
        ("/assets/nope.js", true),
        ("/api/me", false),
        ("/nowhere", false),
    ] {
        let res = client
            .get(api.server.url(path))
            .send()
            .await
            .expect("answers");
        let got = |name: &str| {
            res.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            got("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(got("content-security-policy").is_some(), csp, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_only_deployment_serves_no_page() {
    let api = Api::with(&[("RTS_WEB_CLIENT", "false")]).await;
    api.get("/", None).await.assert_error(404, "not_found");
    api.get("/assets/vendor/phoenix.mjs", None)
        .await
        .assert_error(404, "not_found");
}

async fn preflight(api: &Api, origin: &str) -> Reply {
    api.raw(
        Method::OPTIONS,
        "/api/auth/login",
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            ("access-control-request-headers", "content-type"),
        ],
        "",
    )
    .await
}

/// A sign-up sent with `Origin: origin` (a user of its own per origin).
async fn register_from(api: &Api, origin: &str) -> Reply {
    let name = format!("u{}", origin.len());
    api.raw(
        Method::POST,
        "/api/auth/register",
        &[("origin", origin), ("content-type", "application/json")],
        serde_json::json!({
            "email": format!("{name}@example.com"),
            "username": name,
            "password": crate::api::PASSWORD,
            "device_id": "browser",
        })
        .to_string(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_origin_requests_are_refused_unless_the_origin_is_allowed() {
    let api = Api::with(&[("RTS_CORS_ALLOWED_ORIGINS", ALLOWED)]).await;
    let refused = preflight(&api, "https://evil.example").await;
    refused.assert_error(403, "forbidden");
    assert!(refused.headers.get("access-control-allow-origin").is_none());
    let allowed = preflight(&api, ALLOWED).await;
    assert!(allowed.status.is_success(), "{allowed:?}");
    assert_eq!(allowed.headers["access-control-allow-origin"], ALLOWED);

    // The actual request, too: refused from elsewhere, answered with CORS headers from an
    // allowed origin and from the server's own.
    register_from(&api, "https://evil.example")
        .await
        .assert_error(403, "forbidden");
    let ok = register_from(&api, ALLOWED).await;
    assert_eq!(ok.status, 201, "{ok:?}");
    assert_eq!(ok.headers["access-control-allow-origin"], ALLOWED);
    let same = register_from(&api, &api.server.base).await;
    assert_eq!(same.status, 201, "the page's own origin: {same:?}");
}

async fn upgrade_status(base: &str, token: &str, origin: Option<&str>) -> u16 {
    let url = format!(
        "{}/socket/websocket?token={token}&vsn=2.0.0",
        base.replace("http://", "ws://")
    );
    let mut request = url.into_client_request().expect("a request");
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_str(origin).expect("a header"));
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok(_) => 101,
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => res.status().as_u16(),
        Err(e) => panic!("unexpected error: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_from_a_foreign_origin_are_refused() {
    let api = Api::with(&[("RTS_CORS_ALLOWED_ORIGINS", ALLOWED)]).await;
    let ann = api.register("ann").await;
    let base = &api.server.base;
    assert_eq!(
        upgrade_status(base, &ann.access, None).await,
        101,
        "no Origin: not a browser"
    );
    assert_eq!(
        upgrade_status(base, &ann.access, Some(base)).await,
        101,
        "the page's own"
    );
    assert_eq!(upgrade_status(base, &ann.access, Some(ALLOWED)).await, 101);
    assert_eq!(
        upgrade_status(base, &ann.access, Some("https://evil.example")).await,
        403
    );
    assert_eq!(upgrade_status(base, &ann.access, Some("null")).await, 403);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_logins_are_told_only_where_the_demo_data_is_seeded() {
    let api = Api::start().await;
    let before = api.get("/api/demo", None).await;
    assert_eq!(
        before.assert_status(200),
        &serde_json::json!({ "seeded": false })
    );

    server::seed::run(api.db.database(), |_| {})
        .await
        .expect("the demo data is stored");
    let after = api.get("/api/demo", None).await;
    let hints = after.assert_status(200);
    assert_eq!(hints["seeded"], true, "{hints:#}");
    assert_eq!(hints["password"], "demo-password");
    assert_eq!(hints["users"][2]["email"], "carol@example.com", "{hints:#}");
    assert_eq!(hints["users"][0]["role"], "admin");
    assert_eq!(hints["videos"][0], "demo-video-1");
    // The hints are right: carol signs in with them.
    api.login("carol@example.com", "demo-password", "hints")
        .await
        .assert_status(200);
}
