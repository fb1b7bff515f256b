//! The comment object every client sees, written in one place: the REST API, the
//! WebSocket rooms and the Firebase mirror all serialize a [`Comment`] through this impl.
//!
//! `{id, video_id, user_id, username, content, inserted_at, updated_at, position, version}`;
//! ids as strings, times in RFC 3339, UTC, with microseconds (`2026-11-26T14:09:04.123456Z`),
//! position and version as numbers.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::entities::Comment;

/// RFC 3339, UTC, microseconds: the one timestamp format clients see.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

impl Serialize for Comment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Comment", 9)?;
        s.serialize_field("id", &self.id.to_string())?;
        s.serialize_field("video_id", self.video_id.as_str())?;
        s.serialize_field("user_id", &self.user_id.to_string())?;
        s.serialize_field("username", self.username.as_str())?;
        s.serialize_field("content", self.body.as_str())?;
        s.serialize_field("inserted_at", &timestamp(self.inserted_at))?;
        s.serialize_field("updated_at", &timestamp(self.updated_at))?;
        s.serialize_field("position", &self.position)?;
        s.serialize_field("version", &self.version)?;
        s.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CommentBody, CommentId, UserId, Username, VideoId};
    use chrono::TimeZone;

    #[test]
    fn a_comment_has_the_documented_shape() {
        let at = Utc
            .with_ymd_and_hms(2026, 11, 26, 14, 9, 4)
            .single()
            .unwrap_or_default();
        let c = Comment {
            id: CommentId::generate(),
            video_id: VideoId::parse("v1").unwrap_or_else(|e| panic!("{e}")),
            user_id: UserId::generate(),
            username: Username::parse("ann").unwrap_or_else(|e| panic!("{e}")),
            body: CommentBody::parse("hello").unwrap_or_else(|e| panic!("{e}")),
            inserted_at: at,
            updated_at: at,
            position: 7,
            version: 2,
        };
        let v = serde_json::to_value(&c).unwrap_or_default();
        assert_eq!(
            v,
            serde_json::json!({
                "id": c.id.to_string(),
                "video_id": "v1",
                "user_id": c.user_id.to_string(),
                "username": "ann",
                "content": "hello",
                "inserted_at": "2026-11-26T14:09:04.000000Z",
                "updated_at": "2026-11-26T14:09:04.000000Z",
                "position": 7,
                "version": 2,
            })
        );
    }
}
