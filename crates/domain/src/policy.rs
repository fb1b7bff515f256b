//! The vocabulary of permissions: who is acting, what they want to do, and whether the
//! target is their own. The decision table itself lives in the auth crate (one place for
//! every rule) behind the [`Policy`] port.

use crate::entities::Role;
use crate::ids::{DeviceRowId, UserId};
use crate::values::Username;

/// The authenticated caller of a use case.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: UserId,
    pub device: DeviceRowId,
    pub role: Role,
    /// The caller's username as of authentication (it signs what they post).
    pub username: Username,
}

/// Something a caller may or may not do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    PostComment,
    EditComment,
    DeleteComment,
    ViewUserPrivate,
    ListUsers,
    ChangeRole,
    DeactivateUser,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::PostComment,
        Action::EditComment,
        Action::DeleteComment,
        Action::ViewUserPrivate,
        Action::ListUsers,
        Action::ChangeRole,
        Action::DeactivateUser,
    ];
}

/// Whose resource the action touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    Own,
    Others,
}

impl Scope {
    pub fn of(actor: &Actor, owner: UserId) -> Self {
        if actor.user_id == owner {
            Scope::Own
        } else {
            Scope::Others
        }
    }
}

/// Decides whether `role` may do `action` in `scope`.
pub trait Policy: Send + Sync {
    fn allows(&self, role: Role, action: Action, scope: Scope) -> bool;
}
