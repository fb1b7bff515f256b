//! What clients see: the JSON shapes of users, devices, comments, sessions and pages, and
//! the opaque pagination cursor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SecondsFormat, Utc};
use domain::{Comment, Device, User};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::error::ApiError;

/// RFC 3339, UTC, microseconds: `2026-11-26T14:09:04.123456Z`.
pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

#[derive(Serialize)]
pub(crate) struct UserView {
    id: String,
    username: String,
    role: &'static str,
    inserted_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_login_at: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    is_active: Option<bool>,
}

impl UserView {
    /// The public profile, plus the private fields when `private`.
    pub(crate) fn new(user: &User, private: bool) -> Self {
        Self {
            id: user.id.to_string(),
            username: user.username.to_string(),
            role: user.role.as_str(),
            inserted_at: timestamp(user.inserted_at),
            email: private.then(|| user.email.to_string()),
            last_login_at: private.then(|| user.last_login_at.map(timestamp)),
            is_active: private.then_some(user.is_active),
        }
    }
}

#[derive(Serialize)]
pub(crate) struct SessionView {
    user: UserView,
    access_token: String,
    refresh_token: String,
    expires_in: u64,
}

impl From<auth::Session> for SessionView {
    fn from(s: auth::Session) -> Self {
        Self {
            user: UserView::new(&s.user, true),
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            expires_in: s.expires_in,
        }
    }
}

#[derive(Serialize)]
pub(crate) struct DeviceView {
    id: String,
    device_id: String,
    device_info: Value,
    is_active: bool,
    last_seen_at: String,
    inserted_at: String,
    current: bool,
}

impl DeviceView {
    pub(crate) fn new(device: &Device, current: bool) -> Self {
        Self {
            id: device.id.to_string(),
            device_id: device.device_id.to_string(),
            device_info: device.device_info.clone(),
            is_active: device.is_active,
            last_seen_at: timestamp(device.last_seen_at),
            inserted_at: timestamp(device.inserted_at),
            current,
        }
    }
}

/// The comment object, the same one the WebSocket side sends.
#[derive(Serialize)]
pub(crate) struct CommentView {
    id: String,
    video_id: String,
    user_id: String,
    username: String,
    content: String,
    inserted_at: String,
    updated_at: String,
}

impl From<&Comment> for CommentView {
    fn from(c: &Comment) -> Self {
        Self {
            id: c.id.to_string(),
            video_id: c.video_id.to_string(),
            user_id: c.user_id.to_string(),
            username: c.username.to_string(),
            content: c.body.to_string(),
            inserted_at: timestamp(c.inserted_at),
            updated_at: timestamp(c.updated_at),
        }
    }
}

/// An opaque cursor: the last item's id, base64url. Clients pass it back unchanged.
pub(crate) fn encode_cursor(id: &Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

pub(crate) fn decode_cursor(cursor: &str) -> Result<Uuid, ApiError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| Uuid::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor this server gave out"))
}
