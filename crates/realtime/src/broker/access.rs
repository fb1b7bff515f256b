//! Changes to who may do what, which every node must hear within a second: a revoked
//! device's sockets close wherever they are, and every node's cached answer about a
//! changed user is dropped. On Redis they travel on `rts:control` as the envelope's body:
//! `device_revoked <device row id>`, `user_deactivated <user id>`, `user_changed <user id>`.

use domain::{DeviceRowId, UserId};

/// One change, as announced to the other nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessChange {
    DeviceRevoked(DeviceRowId),
    UserDeactivated(UserId),
    /// Role, name or password changed, or the user is gone.
    UserChanged(UserId),
}

impl AccessChange {
    /// The envelope's event word for these.
    pub(crate) const EVENT: &'static str = "access";

    pub(crate) fn to_wire(self) -> String {
        match self {
            AccessChange::DeviceRevoked(d) => format!("device_revoked {}", d.as_uuid()),
            AccessChange::UserDeactivated(u) => format!("user_deactivated {}", u.as_uuid()),
            AccessChange::UserChanged(u) => format!("user_changed {}", u.as_uuid()),
        }
    }

    pub(crate) fn from_wire(text: &str) -> Option<Self> {
        let (kind, id) = text.split_once(' ')?;
        let id: uuid::Uuid = id.parse().ok()?;
        Some(match kind {
            "device_revoked" => AccessChange::DeviceRevoked(DeviceRowId::from_uuid(id)),
            "user_deactivated" => AccessChange::UserDeactivated(UserId::from_uuid(id)),
            "user_changed" => AccessChange::UserChanged(UserId::from_uuid(id)),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_round_trip_and_unknown_ones_are_ignored() {
        for change in [
            AccessChange::DeviceRevoked(DeviceRowId::generate()),
            AccessChange::UserDeactivated(UserId::generate()),
            AccessChange::UserChanged(UserId::generate()),
        ] {
            assert_eq!(AccessChange::from_wire(&change.to_wire()), Some(change));
        }
        assert_eq!(AccessChange::from_wire("user_promoted 1"), None);
        assert_eq!(AccessChange::from_wire("user_changed not-a-uuid"), None);
        assert_eq!(AccessChange::from_wire(""), None);
    }
}
