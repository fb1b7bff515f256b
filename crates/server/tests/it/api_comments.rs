//! `/api/videos/{video_id}/comments` and `/api/comments/{id}` over HTTP: posting, reading,
//! paging, editing and deleting, validation, and the whole role × action × ownership
//! permission matrix.

use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{Api, Session, assert_timestamp, assert_uuid, keys};

const COMMENT_KEYS: [&str; 9] = [
    "content",
    "id",
    "inserted_at",
    "position",
    "updated_at",
    "user_id",
    "username",
    "version",
    "video_id",
];

fn comment_path(comment: &Value) -> String {
    format!(
        "/api/comments/{}",
        comment["id"].as_str().unwrap_or_default()
    )
}

fn comments_path(video: &str) -> String {
    format!("/api/videos/{video}/comments")
}

/// The ids of a listing's comments, in order.
fn ids(page: &Value) -> Vec<String> {
    page["comments"]
        .as_array()
        .unwrap_or_else(|| panic!("a comment list: {page:#}"))
        .iter()
        .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn id(comment: &Value) -> String {
    comment["id"].as_str().unwrap_or_default().to_owned()
}

async fn listing(api: &Api, video: &str) -> Vec<String> {
    let reply = api.get(&comments_path(video), None).await;
    ids(reply.assert_status(200))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posting_a_comment_answers_201_with_the_trimmed_comment() {
    let api = Api::start().await;
    let ann = api.register("ann").await;

    let reply = api
        .post(
            &comments_path("dQw4w9WgXcQ"),
            ann.token(),
            json!({ "content": "  hello\n\tworld  " }),
        )
        .await;
    let comment = reply.assert_status(201).clone();
    assert_eq!(keys(&comment), COMMENT_KEYS);
    assert_uuid(&comment["id"]);
    assert_eq!(comment["content"], "hello\n\tworld");
    assert_eq!(comment["video_id"], "dQw4w9WgXcQ");
    assert_eq!(comment["user_id"], ann.user_id.as_str());
    assert_eq!(comment["username"], "ann");
    assert_timestamp(&comment["inserted_at"]);
    assert_timestamp(&comment["updated_at"]);
    assert_eq!(comment["inserted_at"], comment["updated_at"]);
    assert_eq!(comment["position"], 1, "the video's first comment");
    assert_eq!(comment["version"], 1);

    // Anyone may read it, without a token.
    let fetched = api.get(&comment_path(&comment), None).await;
    assert_eq!(fetched.assert_status(200), &comment);
    let list = api.get(&comments_path("dQw4w9WgXcQ"), None).await;
    let list = list.assert_status(200);
    assert_eq!(keys(list), ["comments", "next_cursor"]);
    assert_eq!(list["comments"], json!([comment]));
    assert_eq!(list["next_cursor"], Value::Null);

    // Multibyte content up to the limit is fine.
    let long = "é".repeat(2000);
    let reply = api
        .post(
            &comments_path("dQw4w9WgXcQ"),
            ann.token(),
            json!({ "content": long }),
        )
        .await;
    assert_eq!(reply.assert_status(201)["content"], long.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posting_needs_a_valid_token() {
    let api = Api::start().await;
    api.post(&comments_path("video1"), None, json!({ "content": "hi" }))
        .await
        .assert_error(401, "unauthorized");
    api.post(
        &comments_path("video1"),
        Some("garbage"),
        json!({ "content": "hi" }),
    )
    .await
    .assert_error(401, "invalid_token");
    assert!(listing(&api, "video1").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn comments_are_listed_newest_first_page_by_page() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let mut posted = Vec::new();
    for n in 0..5 {
        let who = if n % 2 == 0 { &ann } else { &bob };
        posted.push(id(&api
            .comment(who, "video1", &format!("comment {n}"))
            .await));
    }
    api.comment(&ann, "video2", "elsewhere").await;
    let newest_first: Vec<String> = posted.iter().rev().cloned().collect();

    assert_eq!(listing(&api, "video1").await, newest_first);
    assert!(listing(&api, "no-comments-here").await.is_empty());

    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("{}?limit=2&cursor={c}", comments_path("video1")),
            None => format!("{}?limit=2", comments_path("video1")),
        };
        let reply = api.get(&path, None).await;
        let page = reply.assert_status(200).clone();
        sizes.push(ids(&page).len());
        seen.extend(ids(&page));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(sizes.len() < 10, "pagination ends");
    }
    assert_eq!(sizes, [2, 2, 1]);
    assert_eq!(seen, newest_first);

    // A page that ends exactly at the last comment says there is no more.
    let exact = api
        .get(&format!("{}?limit=5", comments_path("video1")), None)
        .await;
    let exact = exact.assert_status(200);
    assert_eq!(ids(exact), newest_first);
    assert_eq!(exact["next_cursor"], Value::Null);

    // The limit bounds are inclusive.
    for ok in ["limit=1", "limit=100", "cursor="] {
        api.get(&format!("{}?{ok}", comments_path("video1")), None)
            .await
            .assert_status(200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_page_parameters_are_422() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    api.comment(&ann, "video1", "hello").await;

    for (query, field) in [
        ("limit=0", Some("limit")),
        ("limit=101", Some("limit")),
        ("limit=abc", None),
        ("limit=-1", None),
        ("limit=99999999", None),
        ("cursor=not-a-cursor!", Some("cursor")),
        ("cursor=AAAA", Some("cursor")),
    ] {
        let reply = api
            .get(&format!("{}?{query}", comments_path("video1")), None)
            .await;
        reply.assert_error(422, "validation_failed");
        if let Some(field) = field {
            assert_eq!(reply.fields(), [field], "{query}: {reply:#?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_video_ids_are_422() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let long = "v".repeat(65);
    for video in ["bad.id", "a:b", "caf%C3%A9", long.as_str()] {
        let listed = api.get(&comments_path(video), None).await;
        listed.assert_error(422, "validation_failed");
        assert_eq!(listed.fields(), ["video_id"], "{video}: {listed:#?}");

        let posted = api
            .post(
                &comments_path(video),
                ann.token(),
                json!({ "content": "hi" }),
            )
            .await;
        posted.assert_error(422, "validation_failed");
        assert_eq!(posted.fields(), ["video_id"], "{video}: {posted:#?}");
    }
    // 64 characters is fine.
    api.comment(&ann, &"v".repeat(64), "hi").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_content_is_422_naming_content() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let mine = api.comment(&ann, "video1", "original").await;
    let too_long = "x".repeat(2001);
    for content in [
        "",
        "   ",
        " \n\t ",
        too_long.as_str(),
        "bell\u{7}",
        "nul\u{0}byte",
        "carriage\rreturn",
        "escape\u{1b}[31m",
        "\u{200b}",
        "\u{feff}\u{200b}\u{200d} \u{2060}",
        "\u{2800}\u{3164}\u{ad}",
    ] {
        let posted = api
            .post(
                &comments_path("video1"),
                ann.token(),
                json!({ "content": content }),
            )
            .await;
        posted.assert_error(422, "validation_failed");
        assert_eq!(posted.fields(), ["content"], "{content:?}: {posted:#?}");

        let edited = api
            .patch(
                &comment_path(&mine),
                ann.token(),
                json!({ "content": content }),
            )
            .await;
        edited.assert_error(422, "validation_failed");
        assert_eq!(edited.fields(), ["content"], "{content:?}: {edited:#?}");
    }
    for shape in [
        json!({}),
        json!({ "content": 5 }),
        json!({ "content": null }),
    ] {
        api.post(&comments_path("video1"), ann.token(), shape)
            .await
            .assert_error(422, "validation_failed");
    }
    assert_eq!(listing(&api, "video1").await, [id(&mine)]);
    let unchanged = api.get(&comment_path(&mine), None).await;
    assert_eq!(unchanged.assert_status(200)["content"], "original");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authors_edit_their_own_comments_and_nobody_else_does() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let moderator = api.user_with_role("mod", "moderator").await;
    let admin = api.user_with_role("root", "admin").await;
    let comment = api.comment(&ann, "video1", "first draft").await;

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let edited = api
        .patch(
            &comment_path(&comment),
            ann.token(),
            json!({ "content": "  second draft " }),
        )
        .await;
    let edited = edited.assert_status(200).clone();
    assert_eq!(keys(&edited), COMMENT_KEYS);
    assert_eq!(edited["content"], "second draft");
    assert_eq!(edited["id"], comment["id"]);
    assert_eq!(edited["inserted_at"], comment["inserted_at"]);
    assert_eq!(
        edited["position"], comment["position"],
        "an edit keeps its place"
    );
    assert_eq!(edited["version"], 2, "an edit is a newer version");
    assert!(
        edited["updated_at"].as_str() > comment["updated_at"].as_str(),
        "updated_at moves on: {edited:#}"
    );
    let fetched = api.get(&comment_path(&comment), None).await;
    assert_eq!(fetched.assert_status(200), &edited);

    for other in [&bob, &moderator, &admin] {
        api.patch(
            &comment_path(&comment),
            other.token(),
            json!({ "content": "vandalised" }),
        )
        .await
        .assert_error(403, "forbidden");
    }
    api.patch(
        &comment_path(&comment),
        None,
        json!({ "content": "anonymous" }),
    )
    .await
    .assert_error(401, "unauthorized");

    let fetched = api.get(&comment_path(&comment), None).await;
    assert_eq!(fetched.assert_status(200)["content"], "second draft");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_comment_removes_it_everywhere() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let keep = api.comment(&ann, "video1", "keep me").await;
    let gone = api.comment(&ann, "video1", "delete me").await;

    let deleted = api.delete(&comment_path(&gone), ann.token()).await;
    assert_eq!(deleted.status, 204, "{deleted:#?}");
    assert_eq!(deleted.body, Value::Null, "no body");

    api.get(&comment_path(&gone), None)
        .await
        .assert_error(404, "not_found");
    assert_eq!(listing(&api, "video1").await, [id(&keep)]);
    api.delete(&comment_path(&gone), ann.token())
        .await
        .assert_error(404, "not_found");
    api.patch(
        &comment_path(&gone),
        ann.token(),
        json!({ "content": "back from the dead" }),
    )
    .await
    .assert_error(404, "not_found");
    api.delete(&comment_path(&keep), None)
        .await
        .assert_error(401, "unauthorized");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moderators_and_admins_delete_others_comments_and_users_do_not() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let bob = api.register("bob").await;
    let moderator = api.user_with_role("mod", "moderator").await;
    let admin = api.user_with_role("root", "admin").await;
    let first = api.comment(&ann, "video1", "one").await;
    let second = api.comment(&ann, "video1", "two").await;

    api.delete(&comment_path(&first), bob.token())
        .await
        .assert_error(403, "forbidden");
    assert_eq!(listing(&api, "video1").await.len(), 2);

    for (who, comment) in [(&moderator, &first), (&admin, &second)] {
        let reply = api.delete(&comment_path(comment), who.token()).await;
        assert_eq!(reply.status, 204, "{}: {reply:#?}", who.username);
        api.get(&comment_path(comment), None)
            .await
            .assert_error(404, "not_found");
    }
    assert!(listing(&api, "video1").await.is_empty());
}

/// A `client_id` names one comment per author and video: a retry answers the original,
/// or 409 once it was deleted; on another video it is a new comment.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_id_is_scoped_to_the_video_and_a_deleted_comment_is_not_revived() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let (api, ann) = (&api, &ann);
    let post = |video: &'static str| async move {
        let path = format!("/api/videos/{video}/comments");
        let body = json!({ "content": "hello", "client_id": "c-1" });
        api.post(&path, ann.token(), body).await
    };
    let first = post("video1").await.assert_status(201).clone();
    let retried = post("video1").await;
    assert_eq!(retried.assert_status(201)["id"], first["id"]);

    let elsewhere = post("video2").await.assert_status(201).clone();
    assert_ne!(elsewhere["id"], first["id"]);
    assert_eq!(elsewhere["video_id"], "video2");
    assert_eq!(listing(api, "video2").await.len(), 1);

    let deleted = api.delete(&comment_path(&first), ann.token()).await;
    assert_eq!(deleted.status, 204, "{deleted:#?}");
    let after = post("video1").await;
    after.assert_error(409, "conflict");
    assert!(
        after.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("deleted")),
        "{after:#?}"
    );
    assert!(listing(api, "video1").await.is_empty(), "not stored again");
    let still = post("video2").await;
    assert_eq!(still.assert_status(201)["id"], elsewhere["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_or_malformed_comment_ids_are_404() {
    let api = Api::start().await;
    let ann = api.register("ann").await;
    let unknown = format!("/api/comments/{}", uuid::Uuid::now_v7());
    for path in [
        unknown.as_str(),
        "/api/comments/not-a-uuid",
        "/api/comments/123",
    ] {
        api.get(path, None).await.assert_error(404, "not_found");
        api.patch(path, ann.token(), json!({ "content": "hi" }))
            .await
            .assert_error(404, "not_found");
        api.delete(path, ann.token())
            .await
            .assert_error(404, "not_found");
    }
}

/// Who may do what to a comment, for every role, action and ownership, over HTTP.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_permission_matrix_over_http() {
    let api = Api::start().await;
    let author = api.register("author").await;
    let mut actors: Vec<(&str, Session)> = Vec::new();
    for role in ["user", "moderator", "admin"] {
        actors.push((role, api.user_with_role(&format!("a-{role}"), role).await));
    }

    // (role, action, own comment?) -> expected status
    let expected = |role: &str, action: &str, own: bool| -> u16 {
        match (action, own) {
            ("edit", true) => 200,
            ("edit", false) => 403,
            ("delete", true) => 204,
            ("delete", false) if role == "user" => 403,
            ("delete", false) => 204,
            _ => unreachable!(),
        }
    };

    let mut mismatches = Vec::new();
    let mut cases = 0;
    for (role, actor) in &actors {
        for action in ["edit", "delete"] {
            for own in [true, false] {
                let owner = if own { actor } else { &author };
                let comment = api.comment(owner, "matrix", "a comment").await;
                let path = comment_path(&comment);
                let reply = match action {
                    "edit" => {
                        api.call(
                            Method::PATCH,
                            &path,
                            actor.token(),
                            Some(json!({ "content": "edited" })),
                        )
                        .await
                    }
                    _ => api.delete(&path, actor.token()).await,
                };
                cases += 1;
                let want = expected(role, action, own);
                if reply.status.as_u16() != want {
                    mismatches.push(format!(
                        "{role} {action} {} comment: want {want}, got {} {}",
                        if own { "own" } else { "other's" },
                        reply.status,
                        reply.body
                    ));
                    continue;
                }
                // The effect matches the answer.
                let after = api.get(&path, None).await;
                let effect = match (want, action) {
                    (200, _) => after.status == 200 && after.body["content"] == "edited",
                    (204, _) => after.status == 404,
                    _ => after.status == 200 && after.body["content"] == "a comment",
                };
                if !effect {
                    mismatches.push(format!(
                        "{role} {action} {}: answered {want} but the comment is now {} {}",
                        if own { "own" } else { "other's" },
                        after.status,
                        after.body
                    ));
                }
                if want == 403 {
                    assert_eq!(reply.code(), "forbidden", "{reply:#?}");
                }
            }
        }
    }
    assert_eq!(cases, 12);
    assert!(mismatches.is_empty(), "{mismatches:#?}");
}
