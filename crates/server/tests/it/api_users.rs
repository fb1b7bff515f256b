//! `/api/me` and `/api/users` over HTTP: the caller's own account (username, password),
//! public and private profiles, and the admin's listing and role changes.

use serde_json::{Value, json};

use crate::api::{Api, PASSWORD, Session, assert_timestamp, email_of, keys};

const PUBLIC: [&str; 4] = ["id", "inserted_at", "role", "username"];
const PRIVATE: [&str; 7] = [
    "email",
    "id",
    "inserted_at",
    "is_active",
    "last_login_at",
    "role",
    "username",
];

fn user_path(session: &Session) -> String {
    format!("/api/users/{}", session.user_id)
}

// ---- /api/me -------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn me_answers_the_callers_private_profile() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let reply = api.get("/api/me", ann.token()).await;
    let me = reply.assert_status(200);
    assert_eq!(keys(me), PRIVATE);
    assert_eq!(me["id"], ann.user_id.as_str());
    assert_eq!(me["email"], ann.email.as_str());
    assert_eq!(me["username"], "ann");
    assert_eq!(me["role"], "user");
    assert_eq!(me["is_active"], true);
    assert_timestamp(&me["inserted_at"]);
    assert_eq!(me, &ann.body["user"]);

    api.get("/api/me", None)
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_username() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    api.register("bob").await;

    let renamed = api
        .patch("/api/me", ann.token(), json!({ "username": "  annie " }))
        .await;
    assert_eq!(renamed.assert_status(200)["username"], "annie");
    let me = api.get("/api/me", ann.token()).await;
    assert_eq!(me.assert_status(200)["username"], "annie");
    let public = api.get(&user_path(&ann), ann.token()).await;
    assert_eq!(public.assert_status(200)["username"], "annie");
    // What she posts next is signed with the new name at once.
    let posted = api
        .post(
            "/api/videos/v1/comments",
            ann.token(),
            json!({ "content": "hi" }),
        )
        .await;
    assert_eq!(posted.assert_status(201)["username"], "annie");

    // Taken, whatever the case.
    for taken in ["bob", "BOB"] {
        api.patch("/api/me", ann.token(), json!({ "username": taken }))
            .await
            .assert_error(409, "conflict");
    }
    let invalid = api
        .patch("/api/me", ann.token(), json!({ "username": "a b" }))
        .await;
    invalid.assert_error(422, "validation_failed");
    assert_eq!(invalid.fields(), ["username"]);

    let me = api.get("/api/me", ann.token()).await;
    assert_eq!(me.assert_status(200)["username"], "annie");
    api.patch("/api/me", None, json!({ "username": "whoever" }))
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changing_the_password_needs_the_right_current_password() {
    let api = Api::start().await;
    let ann = api.register("ann").await;

    api.patch(
        "/api/me",
        ann.token(),
        json!({ "current_password": "not the password", "new_password": "a brand new one" }),
    )
    .await
    .assert_error(403, "wrong_password");
    // Nothing changed.
    api.login_ok("ann", "default").await;
    api.login(&email_of("ann"), "a brand new one", "default")
        .await
        .assert_error(401, "invalid_credentials");

    let only_new = api
        .patch(
            "/api/me",
            ann.token(),
            json!({ "new_password": "a brand new one" }),
        )
        .await;
    only_new.assert_error(422, "validation_failed");
    assert_eq!(only_new.fields(), ["current_password"]);

    let only_current = api
        .patch(
            "/api/me",
            ann.token(),
            json!({ "current_password": PASSWORD }),
        )
        .await;
    only_current.assert_error(422, "validation_failed");
    assert_eq!(only_current.fields(), ["new_password"]);
}

/// The details name the field the client sent (`new_password`), not an internal name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_too_short_new_password_is_422_naming_new_password() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let short = api
        .patch(
            "/api/me",
            ann.token(),
            json!({ "current_password": PASSWORD, "new_password": "short" }),
        )
        .await;
    short.assert_error(422, "validation_failed");
    assert_eq!(short.fields(), ["new_password"], "{short:#?}");
    api.login_ok("ann", "default").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_works_for_login_and_signs_out_the_other_devices() {
    let api = Api::start().await;
    let phone = api.register_on("ann", "phone").await;
    let laptop = api.login_ok("ann", "laptop").await;
    let tablet = api.login_ok("ann", "tablet").await;
    api.get("/api/me", laptop.token()).await.assert_status(200);

    let changed = api
        .patch(
            "/api/me",
            phone.token(),
            json!({ "current_password": PASSWORD, "new_password": "a brand new one" }),
        )
        .await;
    assert_eq!(changed.assert_status(200)["id"], phone.user_id.as_str());

    // This device goes on; the others are signed out, refresh tokens included.
    api.get("/api/me", phone.token()).await.assert_status(200);
    api.refresh(&phone.refresh).await.assert_status(200);
    for other in [&laptop, &tablet] {
        api.get("/api/me", other.token())
            .await
            .assert_error(401, "invalid_token");
        assert_eq!(api.refresh(&other.refresh).await.status, 401);
    }

    api.login(&email_of("ann"), PASSWORD, "laptop")
        .await
        .assert_error(401, "invalid_credentials");
    let again = api
        .login(&email_of("ann"), "a brand new one", "laptop")
        .await;
    let token = again.assert_status(200)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    api.get("/api/me", Some(&token)).await.assert_status(200);
}

/// A request that is refused must not have done half of its work: here the username is
/// taken (409), so the password must not have changed nor the other devices been signed out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_change_to_me_changes_nothing() {
    let api = Api::start().await;
    let phone = api.register_on("ann", "phone").await;
    let laptop = api.login_ok("ann", "laptop").await;
    api.register("bob").await;

    api.patch(
        "/api/me",
        phone.token(),
        json!({
            "username": "bob",
            "current_password": PASSWORD,
            "new_password": "a brand new one",
        }),
    )
    .await
    .assert_error(409, "conflict");

    api.get("/api/me", laptop.token()).await.assert_status(200);
    api.login(&email_of("ann"), PASSWORD, "desktop")
        .await
        .assert_status(200);
}

// ---- profiles ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_show_private_fields_only_to_self_and_admins() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let moderator = api.user_with_role("mod", "moderator").await;
    let admin = api.user_with_role("root", "admin").await;

    let by_self = api.get(&user_path(&ann), ann.token()).await;
    let by_self = by_self.assert_status(200);
    assert_eq!(keys(by_self), PRIVATE);
    assert_eq!(by_self["email"], email_of("ann"));

    for viewer in [&bob, &moderator] {
        let public = api.get(&user_path(&ann), viewer.token()).await;
        let public = public.assert_status(200);
        assert_eq!(keys(public), PUBLIC, "as {}", viewer.username);
        assert_eq!(public["id"], ann.user_id.as_str());
        assert_eq!(public["username"], "ann");
        assert_eq!(public["role"], "user");
        assert_eq!(public["inserted_at"], by_self["inserted_at"]);
    }

    let by_admin = api.get(&user_path(&ann), admin.token()).await;
    let by_admin = by_admin.assert_status(200);
    assert_eq!(keys(by_admin), PRIVATE);
    assert_eq!(by_admin, by_self);

    // Roles show on public profiles.
    let moderator_profile = api.get(&user_path(&moderator), ann.token()).await;
    assert_eq!(moderator_profile.assert_status(200)["role"], "moderator");

    let unknown = uuid::Uuid::now_v7();
    api.get(&format!("/api/users/{unknown}"), ann.token())
        .await
        .assert_error(404, "not_found");
    api.get("/api/users/not-a-uuid", ann.token())
        .await
        .assert_error(404, "not_found");
    api.get(&user_path(&ann), None)
        .await
        .assert_error(401, "unauthorized");
}

// ---- the admin's user list -----------------------------------------------------------

fn usernames(page: &Value) -> Vec<String> {
    page["users"]
        .as_array()
        .unwrap_or_else(|| panic!("a user list: {page:#}"))
        .iter()
        .map(|u| u["username"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_admins_list_users() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let moderator = api.user_with_role("mod", "moderator").await;
    let admin = api.user_with_role("root", "admin").await;

    for who in [&ann, &moderator] {
        api.get("/api/users", who.token())
            .await
            .assert_error(403, "forbidden");
    }
    api.get("/api/users", None)
        .await
        .assert_error(401, "unauthorized");

    let all = api.get("/api/users", admin.token()).await;
    let all = all.assert_status(200);
    assert_eq!(keys(all), ["next_cursor", "users"]);
    assert_eq!(usernames(all), ["root", "mod", "ann"], "newest first");
    assert_eq!(all["next_cursor"], Value::Null);
    for user in all["users"].as_array().into_iter().flatten() {
        assert_eq!(keys(user), PRIVATE, "admins see private fields");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_finds_users_by_username_or_email_prefix() {
    let api = Api::start().await;
    for name in ["alpha1", "alpha2", "beta1", "alpha3"] {
        api.register(name).await;
    }
    // An email that does not start like the username.
    let reply = api
        .post(
            "/api/auth/register",
            None,
            json!({ "email": "zed@alpha.org", "username": "gamma", "password": PASSWORD }),
        )
        .await;
    reply.assert_status(201);
    let admin = api.user_with_role("root", "admin").await;

    let search = |q: &str| {
        let path = format!("/api/users?q={q}");
        let api = &api;
        let token = admin.access.clone();
        async move {
            let reply = api.get(&path, Some(&token)).await;
            let body = reply.assert_status(200).clone();
            assert_eq!(body["next_cursor"], Value::Null, "{body:#}");
            usernames(&body)
        }
    };
    assert_eq!(search("alp").await, ["alpha3", "alpha2", "alpha1"]);
    assert_eq!(search("ALP").await, ["alpha3", "alpha2", "alpha1"]);
    assert_eq!(search("%20alp%20").await, ["alpha3", "alpha2", "alpha1"]);
    assert_eq!(search("beta1%40exa").await, ["beta1"], "by email");
    assert_eq!(search("zed").await, ["gamma"], "by email");
    assert_eq!(search("lpha").await, Vec::<String>::new(), "a prefix only");
    assert_eq!(search("%25").await, Vec::<String>::new(), "% is literal");
    assert_eq!(search("_").await, Vec::<String>::new(), "_ is literal");
    assert_eq!(search("nobody").await, Vec::<String>::new());
    assert_eq!(search("").await.len(), 6, "an empty q lists everyone");

    let long = "q".repeat(255);
    let too_long = api
        .get(&format!("/api/users?q={long}"), admin.token())
        .await;
    too_long.assert_error(422, "validation_failed");
    assert_eq!(too_long.fields(), ["q"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_user_list_pages_with_limit_and_cursor() {
    let api = Api::start().await;
    for name in ["user1", "user2", "user3", "user4", "user5"] {
        api.register(name).await;
    }
    let admin = api.user_with_role("root", "admin").await;

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/users?limit=2&cursor={c}"),
            None => "/api/users?limit=2".to_owned(),
        };
        let reply = api.get(&path, admin.token()).await;
        let page = reply.assert_status(200).clone();
        let names = usernames(&page);
        sizes.push(names.len());
        seen.extend(names);
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(sizes.len() < 10, "pagination ends");
    }
    assert_eq!(sizes, [2, 2, 2]);
    assert_eq!(
        seen,
        ["root", "user5", "user4", "user3", "user2", "user1"],
        "newest first, each once"
    );

    for bad in ["limit=0", "limit=101", "cursor=not-a-cursor!"] {
        let reply = api.get(&format!("/api/users?{bad}"), admin.token()).await;
        reply.assert_error(422, "validation_failed");
    }
}

// ---- administration ------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_role_change_changes_what_the_user_may_do_at_once() {
    let api = Api::start().await;
    let admin = api.user_with_role("root", "admin").await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let first = api.comment(&bob, "video1", "first").await;
    let second = api.comment(&bob, "video1", "second").await;
    let path = |c: &Value| format!("/api/comments/{}", c["id"].as_str().unwrap_or_default());

    api.delete(&path(&first), ann.token())
        .await
        .assert_error(403, "forbidden");

    let promoted = api
        .patch(
            &user_path(&ann),
            admin.token(),
            json!({ "role": "moderator" }),
        )
        .await;
    let promoted = promoted.assert_status(200);
    assert_eq!(promoted["role"], "moderator");
    assert_eq!(keys(promoted), PRIVATE);

    // The same access token, now with the moderator's rights.
    let deleted = api.delete(&path(&first), ann.token()).await;
    assert_eq!(deleted.status, 204, "{deleted:#?}");
    let me = api.get("/api/me", ann.token()).await;
    assert_eq!(me.assert_status(200)["role"], "moderator");

    let demoted = api
        .patch(&user_path(&ann), admin.token(), json!({ "role": "user" }))
        .await;
    assert_eq!(demoted.assert_status(200)["role"], "user");
    api.delete(&path(&second), ann.token())
        .await
        .assert_error(403, "forbidden");

    // An admin made by an admin may list users.
    api.get("/api/users", ann.token())
        .await
        .assert_error(403, "forbidden");
    api.patch(&user_path(&ann), admin.token(), json!({ "role": "admin" }))
        .await
        .assert_status(200);
    api.get("/api/users", ann.token()).await.assert_status(200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_changes_are_validated() {
    let api = Api::start().await;
    let admin = api.user_with_role("root", "admin").await;
    let ann = api.register("ann").await;

    let bad_role = api
        .patch(
            &user_path(&ann),
            admin.token(),
            json!({ "role": "superuser" }),
        )
        .await;
    bad_role.assert_error(422, "validation_failed");
    assert_eq!(bad_role.fields(), ["role"]);

    api.patch(&user_path(&ann), admin.token(), json!({}))
        .await
        .assert_error(422, "validation_failed");
    api.patch(
        &user_path(&ann),
        admin.token(),
        json!({ "is_active": "no" }),
    )
    .await
    .assert_error(422, "validation_failed");

    let unknown = uuid::Uuid::now_v7();
    api.patch(
        &format!("/api/users/{unknown}"),
        admin.token(),
        json!({ "role": "moderator" }),
    )
    .await
    .assert_error(404, "not_found");

    let me = api.get(&user_path(&ann), admin.token()).await;
    assert_eq!(me.assert_status(200)["role"], "user");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_cannot_change_their_own_role_or_deactivate_themselves() {
    let api = Api::start().await;
    let admin = api.user_with_role("root", "admin").await;
    for change in [
        json!({ "role": "user" }),
        json!({ "role": "admin" }),
        json!({ "is_active": false }),
    ] {
        api.patch(&user_path(&admin), admin.token(), change)
            .await
            .assert_error(403, "forbidden");
    }
    let me = api.get("/api/me", admin.token()).await;
    let me = me.assert_status(200);
    assert_eq!(me["role"], "admin");
    assert_eq!(me["is_active"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_moderators_cannot_administer_users() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let moderator = api.user_with_role("mod", "moderator").await;

    for (who, target) in [(&ann, &bob), (&ann, &ann), (&moderator, &bob)] {
        for change in [json!({ "role": "admin" }), json!({ "is_active": false })] {
            api.patch(&user_path(target), who.token(), change)
                .await
                .assert_error(403, "forbidden");
        }
    }
    api.patch(&user_path(&bob), None, json!({ "role": "admin" }))
        .await
        .assert_error(401, "unauthorized");

    let bob_now = api.get("/api/me", bob.token()).await;
    let bob_now = bob_now.assert_status(200);
    assert_eq!(bob_now["role"], "user");
    assert_eq!(bob_now["is_active"], true);
}

/// A 403 says which rule refused: not the author, a role too low, or an action no one may
/// take on themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_says_which_rule_refused() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let moderator = api.user_with_role("mod", "moderator").await;
    let admin = api.user_with_role("boss", "admin").await;
    let comment = api.comment(&ann, "video1", "mine").await;
    let comment_path = format!("/api/comments/{}", comment["id"].as_str().unwrap_or("x"));

    let message = |reply: &crate::api::Reply| {
        reply.assert_error(403, "forbidden");
        reply.body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let cases = [
        (
            api.patch(&comment_path, moderator.token(), json!({ "content": "x" }))
                .await,
            "only its author may edit a comment",
        ),
        (
            api.delete(&comment_path, bob.token()).await,
            "only its author, a moderator or an admin may delete a comment",
        ),
        (
            api.get("/api/users", moderator.token()).await,
            "only admins may list users",
        ),
        (
            api.patch(&user_path(&ann), bob.token(), json!({ "role": "admin" }))
                .await,
            "only admins may change roles",
        ),
        (
            api.patch(
                &user_path(&ann),
                moderator.token(),
                json!({ "is_active": false }),
            )
            .await,
            "only admins may deactivate users",
        ),
        (
            api.patch(&user_path(&admin), admin.token(), json!({ "role": "user" }))
                .await,
            "admins cannot change their own role",
        ),
        (
            api.patch(
                &user_path(&admin),
                admin.token(),
                json!({ "is_active": false }),
            )
            .await,
            "admins cannot deactivate themselves",
        ),
    ];
    for (reply, expected) in cases {
        assert_eq!(message(&reply), expected, "{reply:#?}");
    }
}
