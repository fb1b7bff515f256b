//! One transaction per use case: when the audit entry that goes with a change cannot be
//! written, the change is not made either (the request fails with 500, and nothing of it
//! remains).

use serde_json::{Value, json};

use crate::api::{Api, PASSWORD, Session, email_of};

fn user_path(session: &Session) -> String {
    format!("/api/users/{}", session.user_id)
}

/// The caller's devices, as `GET /api/devices` lists them.
async fn devices(api: &Api, session: &Session) -> Vec<Value> {
    let reply = api.get("/api/devices", session.token()).await;
    reply.assert_status(200)["devices"]
        .as_array()
        .unwrap_or_else(|| panic!("a device list: {reply:#?}"))
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_role_change_whose_audit_entry_fails_is_not_made() {
    let api = Api::start().await;
    let admin = api.user_with_role("root", "admin").await;
    let bob = api.register("bob").await;
    api.refuse_audit().await;

    api.patch(
        &user_path(&bob),
        admin.token(),
        json!({ "role": "moderator" }),
    )
    .await
    .assert_error(500, "internal");

    let profile = api.get(&user_path(&bob), admin.token()).await;
    assert_eq!(profile.assert_status(200)["role"], "user");
    assert_eq!(api.audited("user.role_changed").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivation_whose_audit_entry_fails_is_not_made() {
    let api = Api::start().await;
    let admin = api.user_with_role("root", "admin").await;
    let bob = api.register("bob").await;
    api.refuse_audit().await;

    api.patch(
        &user_path(&bob),
        admin.token(),
        json!({ "is_active": false }),
    )
    .await
    .assert_error(500, "internal");

    let profile = api.get(&user_path(&bob), admin.token()).await;
    assert_eq!(profile.assert_status(200)["is_active"], true);
    api.get("/api/me", bob.token()).await.assert_status(200);
    assert_eq!(devices(&api, &bob).await[0]["is_active"], true);
    // Its refresh tokens were not revoked either.
    api.refresh(&bob.refresh).await.assert_status(200);
    assert_eq!(api.audited("user.deactivated").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_revocation_whose_audit_entry_fails_is_not_made() {
    let api = Api::start().await;
    let phone = api.register_on("ann", "phone").await;
    let laptop = api.login_ok("ann", "laptop").await;
    let laptop_id = api.device_row_id(phone.token(), "laptop").await;
    api.refuse_audit().await;

    api.delete(&format!("/api/devices/{laptop_id}"), phone.token())
        .await
        .assert_error(500, "internal");

    api.get("/api/me", laptop.token()).await.assert_status(200);
    let list = devices(&api, &phone).await;
    assert!(list.iter().all(|d| d["is_active"] == true), "{list:#?}");
    api.refresh(&laptop.refresh).await.assert_status(200);
    assert_eq!(api.audited("device.revoked").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_whose_audit_entries_fail_is_not_made() {
    let api = Api::start().await;
    let phone = api.register_on("ann", "phone").await;
    let laptop = api.login_ok("ann", "laptop").await;
    api.refuse_audit().await;

    // Signing the other devices out is audited, so the whole change fails.
    api.patch(
        "/api/me",
        phone.token(),
        json!({ "current_password": PASSWORD, "new_password": "a brand new password" }),
    )
    .await
    .assert_error(500, "internal");

    api.get("/api/me", laptop.token()).await.assert_status(200);
    api.allow_audit().await;
    api.login(&email_of("ann"), PASSWORD, "phone")
        .await
        .assert_status(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moderators_deletion_whose_audit_entry_fails_is_not_made() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let moderator = api.user_with_role("mod", "moderator").await;
    let comment = api.comment(&ann, "video1", "keep me").await;
    let path = format!(
        "/api/comments/{}",
        comment["id"].as_str().unwrap_or_default()
    );
    api.refuse_audit().await;

    api.delete(&path, moderator.token())
        .await
        .assert_error(500, "internal");

    let still = api.get(&path, None).await;
    assert_eq!(still.assert_status(200)["content"], "keep me");
    assert_eq!(api.audited("comment.deleted_by_moderator").await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_whose_audit_entry_fails_leaves_no_device_or_token() {
    let api = Api::start().await;
    let phone = api.register_on("ann", "phone").await;
    api.refuse_audit().await;

    api.login(&email_of("ann"), PASSWORD, "tablet")
        .await
        .assert_error(500, "internal");

    let list = devices(&api, &phone).await;
    assert_eq!(list.len(), 1, "no tablet: {list:#?}");
    assert_eq!(
        api.db
            .count("SELECT COUNT(*) FROM users WHERE last_login_at IS NOT NULL")
            .await,
        0
    );
}
