//! Refresh tokens as storage sees them: only a hash of the secret is ever stored, and the
//! tokens of one device form a chain in which each use replaces the previous token.

use chrono::{DateTime, Utc};

use crate::entities::Device;
use crate::ids::{DeviceRowId, RefreshTokenId, UserId};

/// SHA-256 of a refresh token's secret.
pub type TokenHash = [u8; 32];

/// A refresh token to store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewRefreshToken {
    pub id: RefreshTokenId,
    pub user_id: UserId,
    pub device: DeviceRowId,
    pub hash: TokenHash,
    pub expires_at: DateTime<Utc>,
}

/// What presenting a refresh token led to.
#[derive(Clone, Debug, PartialEq)]
pub enum Rotation {
    /// The token was live: it is now spent, and the new one replaces it.
    Rotated { user_id: UserId, device: Device },
    /// The token had already been exchanged for a successor: every token of its device
    /// is now revoked (someone may hold a stolen copy).
    Reused {
        user_id: UserId,
        device: DeviceRowId,
    },
    /// No such token, or it expired, or it (or its device) was revoked without being used.
    Rejected,
}
