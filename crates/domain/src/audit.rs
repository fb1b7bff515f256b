//! Security-relevant events kept in the audit log: who did what to whom, and when.

use serde_json::Value;
use uuid::Uuid;

use crate::ids::UserId;

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    LoginSucceeded,
    LoginFailed,
    RefreshTokenReused,
    RoleChanged,
    UserDeactivated,
    UserReactivated,
    DeviceRevoked,
    CommentDeletedByModerator,
}

impl AuditAction {
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditAction::LoginSucceeded => "login.succeeded",
            AuditAction::LoginFailed => "login.failed",
            AuditAction::RefreshTokenReused => "refresh_token.reused",
            AuditAction::RoleChanged => "user.role_changed",
            AuditAction::UserDeactivated => "user.deactivated",
            AuditAction::UserReactivated => "user.reactivated",
            AuditAction::DeviceRevoked => "device.revoked",
            AuditAction::CommentDeletedByModerator => "comment.deleted_by_moderator",
        }
    }
}

/// One audit log entry.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditEntry {
    pub action: AuditAction,
    /// Who acted; `None` when unknown (a failed login for an unknown email).
    pub actor: Option<UserId>,
    /// What it was done to (a user, device or comment id).
    pub subject: Option<Uuid>,
    /// Anything else worth keeping, e.g. `{"from": "user", "to": "moderator"}`.
    pub detail: Value,
    /// The client's address as the server saw it.
    pub ip: Option<String>,
}
