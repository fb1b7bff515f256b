//! `/api/auth/*`, `/api/devices` and bearer tokens over HTTP: sign-up, login, refresh
//! rotation and reuse detection, logout, device revocation, forged tokens, and what an
//! admin's deactivation does to a signed-in user.

use reqwest::Method;
use serde_json::{Value, json};

use crate::TEST_JWT_SECRET;
use crate::api::{
    Api, PASSWORD, Reply, assert_timestamp, assert_uuid, b64url_decode, b64url_encode, email_of,
    keys,
};

const USER_KEYS: [&str; 7] = [
    "email",
    "id",
    "inserted_at",
    "is_active",
    "last_login_at",
    "role",
    "username",
];

fn register_body(email: &str, username: &str, password: &str) -> Value {
    json!({ "email": email, "username": username, "password": password })
}

/// The caller's devices, as `GET /api/devices` lists them.
async fn devices(api: &Api, token: &str) -> Vec<Value> {
    let reply = api.get("/api/devices", Some(token)).await;
    reply.assert_status(200)["devices"]
        .as_array()
        .unwrap_or_else(|| panic!("a device list: {reply:#?}"))
        .clone()
}

fn device<'a>(list: &'a [Value], device_id: &str) -> &'a Value {
    list.iter()
        .find(|d| d["device_id"] == device_id)
        .unwrap_or_else(|| panic!("device {device_id} in {list:#?}"))
}

async fn me(api: &Api, token: &str) -> Reply {
    api.get("/api/me", Some(token)).await
}

// ---- register ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_answers_201_with_the_user_and_a_token_pair() {
    let api = Api::start().await;
    let reply = api
        .post(
            "/api/auth/register",
            None,
            json!({
                "email": "  Ann@Example.COM ",
                "username": "ann",
                "password": PASSWORD,
                "device_id": "ios:phone-1",
                "device_info": { "model": "iPhone" },
            }),
        )
        .await;
    let body = reply.assert_status(201);
    assert_eq!(
        keys(body),
        ["access_token", "expires_in", "refresh_token", "user"]
    );
    assert_eq!(keys(&body["user"]), USER_KEYS);
    let user = &body["user"];
    assert_uuid(&user["id"]);
    assert_eq!(user["email"], "ann@example.com", "emails are normalised");
    assert_eq!(user["username"], "ann");
    assert_eq!(user["role"], "user");
    assert_eq!(user["is_active"], true);
    assert_eq!(user["last_login_at"], Value::Null);
    assert_timestamp(&user["inserted_at"]);
    assert_eq!(body["expires_in"], 900);
    let access = body["access_token"].as_str().unwrap_or_default();
    assert_eq!(access.split('.').count(), 3, "a JWT: {access}");
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|r| r.len() >= 32)
    );

    // Signed in at once, on the device it named.
    let me = me(&api, access).await;
    assert_eq!(me.assert_status(200)["id"], user["id"]);
    let list = devices(&api, access).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["device_id"], "ios:phone-1");
    assert_eq!(list[0]["device_info"], json!({ "model": "iPhone" }));
    assert_eq!(list[0]["current"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_without_a_device_signs_in_on_the_default_device() {
    let api = Api::start().await;
    let reply = api
        .post(
            "/api/auth/register",
            None,
            register_body("ann@example.com", "ann", PASSWORD),
        )
        .await;
    let access = reply.assert_status(201)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let list = devices(&api, &access).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["device_id"], "default");
    assert_eq!(list[0]["device_info"], json!({}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_with_a_taken_email_or_username_is_409_whatever_the_case() {
    let api = Api::start().await;
    api.register("ann").await;

    let same_email = api
        .post(
            "/api/auth/register",
            None,
            register_body("ANN@example.com", "someone", PASSWORD),
        )
        .await;
    same_email.assert_error(409, "conflict");

    let same_username = api
        .post(
            "/api/auth/register",
            None,
            register_body("other@example.com", "ANN", PASSWORD),
        )
        .await;
    same_username.assert_error(409, "conflict");

    // Neither attempt created anything: the free email can still be registered.
    let fine = api
        .post(
            "/api/auth/register",
            None,
            register_body("other@example.com", "someone", PASSWORD),
        )
        .await;
    fine.assert_status(201);
}

/// Emails are compared exactly after trimming, lower-casing and NFC: accents count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn emails_differing_only_in_accents_are_different_accounts() {
    let api = Api::start().await;
    let register = |email: &'static str, username: &'static str| {
        api.post(
            "/api/auth/register",
            None,
            register_body(email, username, PASSWORD),
        )
    };
    let cafe = register("caf\u{e9}.z@example.com", "cafe_acute").await;
    assert_eq!(
        cafe.assert_status(201)["user"]["email"],
        "caf\u{e9}.z@example.com"
    );

    // Logging in with another accent, or none, does not open caf\u{e9}'s account.
    api.login("cafe.z@example.com", PASSWORD, "phone")
        .await
        .assert_error(401, "invalid_credentials");
    api.login("caf\u{e8}.z@example.com", PASSWORD, "phone")
        .await
        .assert_error(401, "invalid_credentials");
    // The same address typed decomposed, or in capitals, does.
    let same = api
        .login("CAFE\u{301}.Z@example.com", PASSWORD, "phone")
        .await;
    assert_eq!(same.assert_status(200)["user"]["username"], "cafe_acute");

    // The variants are free to register, each its own account.
    let plain = register("cafe.z@example.com", "cafe_plain").await;
    assert_eq!(
        plain.assert_status(201)["user"]["email"],
        "cafe.z@example.com"
    );
    let grave = register("caf\u{e8}.z@example.com", "cafe_grave").await;
    grave.assert_status(201);
    let taken = register("CAFE\u{301}.z@example.com", "cafe_again").await;
    taken.assert_error(409, "conflict");
    let plain_login = api.login("cafe.z@example.com", PASSWORD, "phone").await;
    assert_eq!(
        plain_login.assert_status(200)["user"]["username"],
        "cafe_plain"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_lists_every_invalid_field() {
    let api = Api::start().await;
    let all_bad = api
        .post(
            "/api/auth/register",
            None,
            json!({
                "email": "not-an-email",
                "username": "x",
                "password": "short",
                "device_id": "has space",
                "device_info": ["not", "an", "object"],
            }),
        )
        .await;
    all_bad.assert_error(422, "validation_failed");
    let mut fields = all_bad.fields();
    fields.sort();
    assert_eq!(
        fields,
        ["device_id", "device_info", "email", "password", "username"]
    );

    let good = json!({
        "email": "ann@example.com",
        "username": "ann",
        "password": PASSWORD,
        "device_id": "phone",
        "device_info": {},
    });
    let cases: Vec<(&str, Value)> = vec![
        ("email", json!("ann@")),
        ("email", json!("ann example.com")),
        ("email", json!(format!("{}@example.com", "a".repeat(250)))),
        ("username", json!("ab")),
        ("username", json!("_ann")),
        ("username", json!("ann smith")),
        ("username", json!("a".repeat(33))),
        ("password", json!("seven77")),
        ("password", json!("p".repeat(129))),
        ("device_id", json!("")),
        ("device_id", json!("a/b")),
        ("device_id", json!("d".repeat(129))),
        ("device_info", json!("a string")),
        ("device_info", json!(42)),
        ("device_info", json!([])),
        ("device_info", json!({ "blob": "x".repeat(5000) })),
    ];
    for (field, value) in cases {
        let mut body = good.clone();
        body[field] = value.clone();
        let reply = api.post("/api/auth/register", None, body).await;
        reply.assert_error(422, "validation_failed");
        assert_eq!(reply.fields(), [field], "{field} = {value}: {reply:#?}");
    }

    // None of those created the account.
    api.post("/api/auth/register", None, good)
        .await
        .assert_status(201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_with_a_missing_or_mistyped_field_is_422() {
    let api = Api::start().await;
    for body in [
        json!({ "email": "ann@example.com", "username": "ann" }),
        json!({ "email": "ann@example.com", "username": "ann", "password": 12345678 }),
        json!({ "email": "ann@example.com", "username": null, "password": PASSWORD }),
        json!(["ann@example.com", "ann", PASSWORD]),
    ] {
        let reply = api.post("/api/auth/register", None, body.clone()).await;
        reply.assert_error(422, "validation_failed");
    }
}

// ---- login ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_the_right_password_answers_200_and_records_the_login() {
    let api = Api::start().await;
    let ann = api.register("ann").await;

    let reply = api.login(" ANN@Example.com ", PASSWORD, "laptop").await;
    let body = reply.assert_status(200);
    assert_eq!(
        keys(body),
        ["access_token", "expires_in", "refresh_token", "user"]
    );
    assert_eq!(body["user"]["id"], ann.user_id.as_str());
    assert_timestamp(&body["user"]["last_login_at"]);
    assert_ne!(body["access_token"], ann.access.as_str());
    assert_ne!(body["refresh_token"], ann.refresh.as_str());

    let access = body["access_token"].as_str().unwrap_or_default();
    let me = me(&api, access).await;
    let me = me.assert_status(200);
    assert_eq!(me["last_login_at"], body["user"]["last_login_at"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_and_unknown_email_answer_the_same_401() {
    let api = Api::start().await;
    api.register("ann").await;

    let wrong_password = api
        .login(&email_of("ann"), "not the password", "phone")
        .await;
    let unknown_email = api.login(&email_of("nobody"), PASSWORD, "phone").await;
    wrong_password.assert_error(401, "invalid_credentials");
    unknown_email.assert_error(401, "invalid_credentials");
    assert_eq!(wrong_password.body, unknown_email.body);

    // A failed attempt records no login.
    let ann = api.login_ok("ann", "phone").await;
    assert_timestamp(&ann.body["user"]["last_login_at"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_with_invalid_fields_is_422() {
    let api = Api::start().await;
    let reply = api
        .post(
            "/api/auth/login",
            None,
            json!({ "email": "nope", "password": "", "device_id": "a b", "device_info": 1 }),
        )
        .await;
    reply.assert_error(422, "validation_failed");
    let mut fields = reply.fields();
    fields.sort();
    assert_eq!(fields, ["device_id", "device_info", "email", "password"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_registers_the_device_and_a_second_login_refreshes_it() {
    let api = Api::start().await;
    let ann = api.register_on("ann", "phone").await;

    let first = api
        .post(
            "/api/auth/login",
            None,
            json!({
                "email": email_of("ann"),
                "password": PASSWORD,
                "device_id": "laptop",
                "device_info": { "os": "linux" },
            }),
        )
        .await;
    let laptop_token = first.assert_status(200)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let list = devices(&api, &laptop_token).await;
    assert_eq!(list.len(), 2, "{list:#?}");
    for d in &list {
        assert_eq!(
            keys(d),
            [
                "current",
                "device_id",
                "device_info",
                "id",
                "inserted_at",
                "is_active",
                "last_seen_at",
            ]
        );
        assert_uuid(&d["id"]);
        assert_timestamp(&d["inserted_at"]);
        assert_timestamp(&d["last_seen_at"]);
        assert_eq!(d["is_active"], true);
    }
    let laptop = device(&list, "laptop").clone();
    assert_eq!(laptop["current"], true);
    assert_eq!(laptop["device_info"], json!({ "os": "linux" }));
    assert_eq!(device(&list, "phone")["current"], false);
    // The phone sees the same devices, with itself as the current one.
    let from_phone = devices(&api, &ann.access).await;
    assert_eq!(device(&from_phone, "phone")["current"], true);
    assert_eq!(device(&from_phone, "laptop")["current"], false);

    // Signing in again on the laptop refreshes that device instead of adding one.
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let again = api
        .post(
            "/api/auth/login",
            None,
            json!({
                "email": email_of("ann"),
                "password": PASSWORD,
                "device_id": "laptop",
                "device_info": { "os": "macos" },
            }),
        )
        .await;
    let token = again.assert_status(200)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let list = devices(&api, &token).await;
    assert_eq!(list.len(), 2, "{list:#?}");
    let refreshed = device(&list, "laptop");
    assert_eq!(refreshed["id"], laptop["id"], "the same device row");
    assert_eq!(refreshed["device_info"], json!({ "os": "macos" }));
    assert_eq!(refreshed["inserted_at"], laptop["inserted_at"]);
    assert!(
        refreshed["last_seen_at"].as_str() > laptop["last_seen_at"].as_str(),
        "last_seen_at moves on: {refreshed:#} vs {laptop:#}"
    );
    // Most recently seen first.
    assert_eq!(list[0]["device_id"], "laptop");
}

// ---- refresh -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_rotates_the_token_pair() {
    let api = Api::start().await;
    let ann = api.register("ann").await;

    let first = api.refresh(&ann.refresh).await;
    let body = first.assert_status(200).clone();
    assert_eq!(
        keys(&body),
        ["access_token", "expires_in", "refresh_token", "user"]
    );
    assert_eq!(body["user"]["id"], ann.user_id.as_str());
    assert_eq!(keys(&body["user"]), USER_KEYS);
    let access = body["access_token"].as_str().unwrap_or_default();
    let refresh = body["refresh_token"].as_str().unwrap_or_default();
    assert_ne!(refresh, ann.refresh);
    me(&api, access).await.assert_status(200);

    // The new refresh token rotates again, and so on down the chain.
    let second = api.refresh(refresh).await;
    let next = second.assert_status(200)["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_ne!(next, refresh);
    api.refresh(&next).await.assert_status(200);

    // Still one device: refreshing does not register new ones.
    assert_eq!(devices(&api, access).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_refresh_token_signs_the_device_out() {
    let api = Api::start().await;
    let phone = api.register_on("ann", "phone").await;
    let laptop = api.login_ok("ann", "laptop").await;

    let rotated = api.refresh(&phone.refresh).await;
    let rotated = rotated.assert_status(200).clone();
    let new_access = rotated["access_token"].as_str().unwrap_or_default();
    let new_refresh = rotated["refresh_token"].as_str().unwrap_or_default();
    me(&api, new_access).await.assert_status(200);

    // The spent token comes back: someone holds a copy.
    api.refresh(&phone.refresh)
        .await
        .assert_error(401, "refresh_token_reused");
    assert_eq!(api.audited("refresh_token.reused").await, 1);

    // The whole chain of that device is dead, and so are its access tokens.
    // Its newest token was revoked unused: invalid, and no second alarm.
    api.refresh(new_refresh)
        .await
        .assert_error(401, "invalid_refresh_token");
    assert_eq!(api.audited("refresh_token.reused").await, 1);
    me(&api, new_access)
        .await
        .assert_error(401, "invalid_token");
    me(&api, &phone.access)
        .await
        .assert_error(401, "invalid_token");

    // The laptop is another device of the same user: untouched.
    me(&api, &laptop.access).await.assert_status(200);
    let list = devices(&api, &laptop.access).await;
    assert_eq!(device(&list, "phone")["is_active"], false);
    assert_eq!(device(&list, "laptop")["is_active"], true);
    api.refresh(&laptop.refresh).await.assert_status(200);

    // Signing in again on the phone works.
    let back = api.login_ok("ann", "phone").await;
    me(&api, &back.access).await.assert_status(200);
}

/// A token that was revoked without being used (logout, device revocation, deactivation, a
/// password change elsewhere) is merely invalid: no reuse alarm, no reuse audit entry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_token_revoked_unused_is_invalid_not_reused() {
    let api = Api::start().await;
    let admin = api.user_with_role("root", "admin").await;

    // Logout.
    let ann = api.register_on("ann", "phone").await;
    let out = api
        .call(Method::POST, "/api/auth/logout", ann.token(), None)
        .await;
    assert_eq!(out.status, 204, "{out:#?}");
    api.refresh(&ann.refresh)
        .await
        .assert_error(401, "invalid_refresh_token");

    // Revoking the device from another one.
    let laptop = api.login_ok("ann", "laptop").await;
    let tablet = api.login_ok("ann", "tablet").await;
    let tablet_id = device(&devices(&api, &laptop.access).await, "tablet")["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let revoked = api
        .delete(&format!("/api/devices/{tablet_id}"), laptop.token())
        .await;
    assert_eq!(revoked.status, 204, "{revoked:#?}");
    api.refresh(&tablet.refresh)
        .await
        .assert_error(401, "invalid_refresh_token");

    // A password change signs the other devices out.
    let desk = api.login_ok("ann", "desk").await;
    api.patch(
        "/api/me",
        laptop.token(),
        json!({ "current_password": PASSWORD, "new_password": "another long password" }),
    )
    .await
    .assert_status(200);
    api.refresh(&desk.refresh)
        .await
        .assert_error(401, "invalid_refresh_token");

    // Deactivation, with a token that was rotated once before.
    let bob = api.register("bob").await;
    let rotated = api.refresh(&bob.refresh).await;
    let current = rotated.assert_status(200)["refresh_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    api.patch(
        &format!("/api/users/{}", bob.user_id),
        admin.token(),
        json!({ "is_active": false }),
    )
    .await
    .assert_status(200);
    api.refresh(&current)
        .await
        .assert_error(401, "invalid_refresh_token");

    assert_eq!(api.audited("refresh_token.reused").await, 0);
    // The laptop, which changed the password, is still signed in.
    api.refresh(&laptop.refresh).await.assert_status(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_refresh_token_is_401_invalid_refresh_token() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let long = "r".repeat(300);
    for garbage in ["garbage", "", long.as_str(), ann.access.as_str()] {
        api.refresh(garbage)
            .await
            .assert_error(401, "invalid_refresh_token");
    }
    // None of that touched the real session.
    me(&api, &ann.access).await.assert_status(200);
    api.refresh(&ann.refresh).await.assert_status(200);

    let missing = api.post("/api/auth/refresh", None, json!({})).await;
    missing.assert_error(422, "validation_failed");
}

// ---- logout and devices --------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_signs_out_only_the_current_device() {
    let api = Api::start().await;
    let phone = api.register_on("ann", "phone").await;
    let laptop = api.login_ok("ann", "laptop").await;
    me(&api, &phone.access).await.assert_status(200);

    let out = api
        .call(Method::POST, "/api/auth/logout", phone.token(), None)
        .await;
    assert_eq!(out.status, 204, "{out:#?}");
    assert_eq!(out.body, Value::Null, "no body");

    me(&api, &phone.access)
        .await
        .assert_error(401, "invalid_token");
    let refresh = api.refresh(&phone.refresh).await;
    assert_eq!(refresh.status, 401, "{refresh:#?}");
    api.call(Method::POST, "/api/auth/logout", phone.token(), None)
        .await
        .assert_error(401, "invalid_token");

    me(&api, &laptop.access).await.assert_status(200);
    let list = devices(&api, &laptop.access).await;
    assert_eq!(device(&list, "phone")["is_active"], false);
    assert_eq!(device(&list, "laptop")["is_active"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_needs_a_token() {
    let api = Api::start().await;
    api.call(Method::POST, "/api/auth/logout", None, None)
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_device_kills_its_tokens_at_once() {
    let api = Api::start().await;
    let phone = api.register_on("ann", "phone").await;
    let laptop = api.login_ok("ann", "laptop").await;
    // The laptop has just been let in (and that answer may be cached).
    me(&api, &laptop.access).await.assert_status(200);

    let list = devices(&api, &phone.access).await;
    let laptop_id = device(&list, "laptop")["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let revoked = api
        .delete(&format!("/api/devices/{laptop_id}"), phone.token())
        .await;
    assert_eq!(revoked.status, 204, "{revoked:#?}");

    me(&api, &laptop.access)
        .await
        .assert_error(401, "invalid_token");
    assert_eq!(api.refresh(&laptop.refresh).await.status, 401);

    // The current device is fine.
    me(&api, &phone.access).await.assert_status(200);
    let list = devices(&api, &phone.access).await;
    assert_eq!(device(&list, "laptop")["is_active"], false);
    assert_eq!(device(&list, "phone")["is_active"], true);

    // Signing in on the laptop again brings it back.
    let again = api.login_ok("ann", "laptop").await;
    me(&api, &again.access).await.assert_status(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_current_device_signs_it_out() {
    let api = Api::start().await;
    let phone = api.register_on("ann", "phone").await;
    let list = devices(&api, &phone.access).await;
    let id = list[0]["id"].as_str().unwrap_or_default().to_owned();
    let revoked = api
        .delete(&format!("/api/devices/{id}"), phone.token())
        .await;
    assert_eq!(revoked.status, 204, "{revoked:#?}");
    me(&api, &phone.access)
        .await
        .assert_error(401, "invalid_token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_someone_elses_device_is_404() {
    let api = Api::start().await;
    let ann = api.register_on("ann", "phone").await;
    let bob = api.register_on("bob", "phone").await;
    let anns = devices(&api, &ann.access).await;
    let ann_device = anns[0]["id"].as_str().unwrap_or_default().to_owned();

    api.delete(&format!("/api/devices/{ann_device}"), bob.token())
        .await
        .assert_error(404, "not_found");
    me(&api, &ann.access).await.assert_status(200);
    assert_eq!(devices(&api, &ann.access).await[0]["is_active"], true);

    let unknown = uuid::Uuid::now_v7();
    api.delete(&format!("/api/devices/{unknown}"), bob.token())
        .await
        .assert_error(404, "not_found");
    api.delete("/api/devices/not-a-uuid", bob.token())
        .await
        .assert_error(404, "not_found");
    api.delete(&format!("/api/devices/{ann_device}"), None)
        .await
        .assert_error(401, "unauthorized");
    api.get("/api/devices", None)
        .await
        .assert_error(401, "unauthorized");
}

// ---- access tokens -------------------------------------------------------------------

/// `token` with its payload rewritten by `edit`, keeping header and signature.
fn with_payload(token: &str, edit: impl Fn(&mut Value)) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims: Value = serde_json::from_slice(&b64url_decode(parts[1])).expect("claims");
    edit(&mut claims);
    let payload = b64url_encode(claims.to_string().as_bytes());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_a_valid_access_token_are_401() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    me(&api, &ann.access).await.assert_status(200);

    me_without_header(&api).await;
    for header in ["Basic YW5uOnB3", "Bearer", "Bearer   ", &ann.access] {
        let reply = api
            .raw(Method::GET, "/api/me", &[("authorization", header)], "")
            .await;
        reply.assert_error(401, "unauthorized");
    }

    let parts: Vec<&str> = ann.access.split('.').collect();
    let promoted = with_payload(&ann.access, |c| c["role"] = json!("admin"));
    let as_bob = with_payload(&ann.access, |c| c["sub"] = json!(bob.user_id));
    let longer = with_payload(&ann.access, |c| c["exp"] = json!(4_102_444_800u64));
    let unsigned = format!("{}.{}.", parts[0], parts[1]);
    let none_header = b64url_encode(br#"{"alg":"none","typ":"JWT"}"#);
    let alg_none = format!("{none_header}.{}.", parts[1]);
    let alg_none_with_signature = format!("{none_header}.{}.{}", parts[1], parts[2]);
    let mut flipped = ann.access.clone().into_bytes();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).expect("ascii");
    for bad in [
        "garbage",
        "a.b.c",
        ann.refresh.as_str(),
        &promoted,
        &as_bob,
        &longer,
        &unsigned,
        &alg_none,
        &alg_none_with_signature,
        &flipped,
    ] {
        me(&api, bad).await.assert_error(401, "invalid_token");
    }
    // And the real one still works.
    me(&api, &ann.access).await.assert_status(200);
}

/// The scheme is case-insensitive (RFC 7235 section 2.1), and one or more spaces may follow it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bearer_scheme_is_case_insensitive() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    for scheme in ["Bearer ", "bearer ", "BEARER ", "bEaReR ", "Bearer   "] {
        let header = format!("{scheme}{}", ann.access);
        api.raw(Method::GET, "/api/me", &[("authorization", &header)], "")
            .await
            .assert_status(200);
    }
    for header in ["Bearerx", "Bear x", "BEARER"] {
        let header = header.replace('x', &ann.access);
        api.raw(Method::GET, "/api/me", &[("authorization", &header)], "")
            .await
            .assert_error(401, "unauthorized");
    }
}

async fn me_without_header(api: &Api) {
    api.get("/api/me", None)
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_signed_with_another_secret_is_401() {
    let api = Api::start().await;
    let other_secret = "another-secret-another-secret-another";
    assert_ne!(other_secret, TEST_JWT_SECRET);
    let other = api
        .another_server(&[("RTS_JWT_SECRET", other_secret)])
        .await;

    // A real account in the shared database, signed in through the other server.
    let reply = api
        .call_on(
            &other.base,
            Method::POST,
            "/api/auth/register",
            None,
            Some(register_body(&email_of("ann"), "ann", PASSWORD)),
        )
        .await;
    let foreign = reply.assert_status(201)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let there = api
        .call_on(&other.base, Method::GET, "/api/me", Some(&foreign), None)
        .await;
    there.assert_status(200);

    me(&api, &foreign).await.assert_error(401, "invalid_token");

    // The account itself is fine here with a token of ours.
    let ours = api.login_ok("ann", "default").await;
    me(&api, &ours.access).await.assert_status(200);
}

// ---- deactivation --------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_deactivation_ends_access_at_once_and_reactivation_restores_login() {
    let api = Api::start().await;
    let admin = api.user_with_role("root", "admin").await;
    let bob = api.register("bob").await;
    me(&api, &bob.access).await.assert_status(200);

    let off = api
        .patch(
            &format!("/api/users/{}", bob.user_id),
            admin.token(),
            json!({ "is_active": false }),
        )
        .await;
    let user = off.assert_status(200);
    assert_eq!(user["is_active"], false);
    assert_eq!(user["id"], bob.user_id.as_str());

    me(&api, &bob.access)
        .await
        .assert_error(401, "invalid_token");
    api.login(&email_of("bob"), PASSWORD, "default")
        .await
        .assert_error(403, "account_deactivated");
    // A wrong password still says only that the credentials are wrong.
    api.login(&email_of("bob"), "not the password", "default")
        .await
        .assert_error(401, "invalid_credentials");
    let refresh = api.refresh(&bob.refresh).await;
    assert_eq!(refresh.status, 401, "{refresh:#?}");

    let on = api
        .patch(
            &format!("/api/users/{}", bob.user_id),
            admin.token(),
            json!({ "is_active": true }),
        )
        .await;
    assert_eq!(on.assert_status(200)["is_active"], true);
    let back = api.login_ok("bob", "default").await;
    me(&api, &back.access).await.assert_status(200);
}

/// A user row deleted behind the server's back (by an operator, in SQL): the token's
/// requests answer 401 at once, even while the gate still holds its "active" answer, and
/// never 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_deleted_in_the_database_gets_401_at_once() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    // Let the gate cache "ann is active" (for two seconds).
    me(&api, &ann.access).await.assert_status(200);
    api.db
        .execute(&format!(
            "DELETE FROM users WHERE id = UNHEX(REPLACE('{}', '-', ''))",
            ann.user_id
        ))
        .await;

    api.post(
        "/api/videos/v1/comments",
        ann.token(),
        json!({ "content": "still here?" }),
    )
    .await
    .assert_error(401, "invalid_token");
    me(&api, &ann.access)
        .await
        .assert_error(401, "invalid_token");
    api.patch("/api/me", ann.token(), json!({ "username": "ghost" }))
        .await
        .assert_error(401, "invalid_token");
    api.get("/api/devices", ann.token())
        .await
        .assert_error(401, "invalid_token");
}

/// Deactivation ends the user's sessions (its refresh tokens are revoked), so reactivating
/// the account restores login but must not bring an access token issued before the
/// deactivation back to life: the admin may have deactivated it because it was stolen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reactivation_does_not_revive_sessions_from_before_the_deactivation() {
    let api = Api::start().await;
    let admin = api.user_with_role("root", "admin").await;
    let bob = api.register("bob").await;
    let path = format!("/api/users/{}", bob.user_id);

    api.patch(&path, admin.token(), json!({ "is_active": false }))
        .await
        .assert_status(200);
    me(&api, &bob.access)
        .await
        .assert_error(401, "invalid_token");
    api.patch(&path, admin.token(), json!({ "is_active": true }))
        .await
        .assert_status(200);

    let old_access = me(&api, &bob.access).await;
    assert_eq!(
        old_access.status, 401,
        "the access token from before the deactivation: {old_access:#?}"
    );
    assert_eq!(api.refresh(&bob.refresh).await.status, 401);
    let fresh = api.login_ok("bob", "default").await;
    me(&api, &fresh.access).await.assert_status(200);
}
