//! The JSON objects the realtime side sends; the comment is the same object the REST API
//! returns (a test in http-api holds them together).

use chrono::SecondsFormat;
use domain::Comment;
use serde_json::{Value, json};

/// `{id, video_id, user_id, username, content, inserted_at, updated_at}`.
pub fn comment_json(c: &Comment) -> Value {
    json!({
        "id": c.id.to_string(),
        "video_id": c.video_id.as_str(),
        "user_id": c.user_id.to_string(),
        "username": c.username.as_str(),
        "content": c.body.as_str(),
        "inserted_at": c.inserted_at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "updated_at": c.updated_at.to_rfc3339_opts(SecondsFormat::Micros, true),
    })
}
