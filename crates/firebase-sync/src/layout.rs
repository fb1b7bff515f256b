//! Where each thing lives in the Realtime Database (docs/firebase.md shows a sample tree):
//!
//! - `videos/<video_id>/comments/<comment_id>`: the comment, as REST and WebSocket clients
//!   get it; removed when the comment is deleted;
//! - `videos/<video_id>/presence/<user_id>`: `{username, connections, online_at}`;
//! - `users/<user_id>/last_login_at`: when the user last signed in.
//!
//! Video ids are ASCII letters, digits, `_` and `-`, and the other ids are UUIDs, so every
//! segment is a valid Firebase key as it is.

use domain::mirror::MirrorChange;
use domain::{CommentId, UserId, VideoId};
use serde_json::Value;

pub fn comments(video: &VideoId) -> String {
    format!("videos/{video}/comments")
}

pub fn comment(video: &VideoId, id: CommentId) -> String {
    format!("videos/{video}/comments/{id}")
}

pub fn presence(video: &VideoId) -> String {
    format!("videos/{video}/presence")
}

pub fn member(video: &VideoId, user: &str) -> String {
    format!("videos/{video}/presence/{user}")
}

pub fn last_login(user: UserId) -> String {
    format!("users/{user}/last_login_at")
}

/// The path a change sets, and its value (`null` removes).
pub(crate) fn update_of(change: &MirrorChange) -> (String, Value) {
    match change {
        MirrorChange::CommentSaved {
            id,
            video_id,
            comment: value,
        } => (comment(video_id, *id), value.clone()),
        MirrorChange::CommentDeleted { id, video_id } => (comment(video_id, *id), Value::Null),
        MirrorChange::SignedIn { user, at } => (
            last_login(*user),
            Value::String(domain::wire::timestamp(*at)),
        ),
    }
}
