//! The things the product is about: users, their devices, and comments on videos.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{CommentId, DeviceRowId, UserId};
use crate::values::{ClientId, CommentBody, DeviceId, Email, Username, ValidationError, VideoId};

/// What a user may do beyond its own content.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    User,
    Moderator,
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::User, Role::Moderator, Role::Admin];

    pub const fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Moderator => "moderator",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ValidationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| ValidationError::new("role", "must be one of user, moderator, admin"))
    }
}

/// A user account. The password hash is an opaque PHC string owned by the auth crate.
#[derive(Clone, Debug, PartialEq)]
pub struct User {
    pub id: UserId,
    pub email: Email,
    pub username: Username,
    pub password_hash: String,
    pub role: Role,
    pub is_active: bool,
    pub last_login_at: Option<DateTime<Utc>>,
    pub inserted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What it takes to create a user.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub email: Email,
    pub username: Username,
    pub password_hash: String,
    pub role: Role,
}

/// A device a user signed in from; refresh tokens and sockets are bound to it.
#[derive(Clone, Debug, PartialEq)]
pub struct Device {
    pub id: DeviceRowId,
    pub user_id: UserId,
    pub device_id: DeviceId,
    pub device_info: serde_json::Value,
    pub is_active: bool,
    pub last_seen_at: DateTime<Utc>,
    pub inserted_at: DateTime<Utc>,
}

/// A comment on a video, with its author's current username.
#[derive(Clone, Debug, PartialEq)]
pub struct Comment {
    pub id: CommentId,
    pub video_id: VideoId,
    pub user_id: UserId,
    pub username: Username,
    pub body: CommentBody,
    pub inserted_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its place in its room: 1, 2, 3, ... with no gaps, in the order comments were
    /// stored, so everything up to a room's last position is stored.
    pub position: u64,
    /// 1 when posted, one more with every change: of two copies, the greater is newer.
    pub version: u32,
}

/// What it takes to create a comment.
#[derive(Clone, Debug)]
pub struct NewComment {
    pub video_id: VideoId,
    pub user_id: UserId,
    /// The author's username, as the returned comment shows it.
    pub username: Username,
    pub body: CommentBody,
    /// The client's own id for it; a second post with the same id on the same video
    /// returns the first.
    pub client_id: Option<ClientId>,
}
