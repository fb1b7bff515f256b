//! What clients see: the JSON shapes of users, devices, comments, sessions and pages, and
//! the opaque pagination cursor.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{Comment, Device, User};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;

/// RFC 3339, UTC, microseconds: `2026-11-26T14:09:04.123456Z`.
pub(crate) use domain::wire::timestamp;

/// A user. `email`, `last_login_at` and `is_active` appear only for the user itself and
/// for admins.
#[derive(Serialize, ToSchema)]
#[schema(as = User)]
pub(crate) struct UserView {
    #[schema(format = Uuid)]
    id: String,
    username: String,
    #[schema(value_type = String, pattern = "^(user|moderator|admin)$")]
    role: &'static str,
    #[schema(format = DateTime)]
    inserted_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime, nullable)]
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

/// A signed-in session: what register, login and refresh answer.
#[derive(Serialize, ToSchema)]
#[schema(as = Session)]
pub(crate) struct SessionView {
    user: UserView,
    access_token: String,
    refresh_token: String,
    /// Seconds until the access token expires.
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

/// A device the user signed in from.
#[derive(Serialize, ToSchema)]
#[schema(as = Device)]
pub(crate) struct DeviceView {
    /// The id to revoke it by.
    #[schema(format = Uuid)]
    id: String,
    /// The client-chosen device id given at login.
    device_id: String,
    #[schema(value_type = Object)]
    device_info: Value,
    is_active: bool,
    #[schema(format = DateTime)]
    last_seen_at: String,
    #[schema(format = DateTime)]
    inserted_at: String,
    /// True for the device of the token making this request.
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

/// The schema of the comment object in the OpenAPI document. The JSON itself is written by
/// `domain::Comment`'s one serializer (domain/src/wire.rs), shared with the WebSocket rooms;
/// a test holds this schema to it.
#[derive(ToSchema)]
#[schema(as = Comment)]
#[allow(dead_code)] // never built: it only describes the serializer's output
pub(crate) struct CommentView {
    #[schema(format = Uuid)]
    id: String,
    video_id: String,
    #[schema(format = Uuid)]
    user_id: String,
    username: String,
    content: String,
    #[schema(format = DateTime)]
    inserted_at: String,
    #[schema(format = DateTime)]
    updated_at: String,
    /// Its place in its room: 1, 2, 3, ... with no gaps, in the order comments were stored.
    /// A client holding every comment up to a position misses none by asking for those
    /// after it (docs/realtime.md).
    #[schema(minimum = 1)]
    position: u64,
    /// 1 when posted, one more with every change: of two copies of a comment, keep the
    /// one with the greater version.
    #[schema(minimum = 1)]
    version: u32,
}

/// One page of comments, newest first.
#[derive(Serialize, ToSchema)]
pub(crate) struct CommentPage {
    #[schema(value_type = Vec<CommentView>)]
    pub(crate) comments: Vec<Comment>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub(crate) next_cursor: Option<String>,
}

/// One page of users, newest first.
#[derive(Serialize, ToSchema)]
pub(crate) struct UserPage {
    pub(crate) users: Vec<UserView>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub(crate) next_cursor: Option<String>,
}

/// The caller's devices, most recently seen first.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeviceList {
    pub(crate) devices: Vec<DeviceView>,
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
