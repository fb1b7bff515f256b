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

    /// Why `allows` said no, for the 403's message; by default the kind of rule that
    /// refused ([`Rule`]), in general words.
    fn refusal(&self, role: Role, action: Action, scope: Scope) -> &'static str {
        Rule::of(self, role, action, scope).message()
    }
}

/// The kind of rule that refused an action, read off the policy's own answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    /// The role may do it to its own things only: the caller is not the author.
    OwnOnly,
    /// The role may do it to others but not to itself (an admin changing their own role).
    NotOnYourself,
    /// The role is too low for it.
    RoleTooLow,
}

impl Rule {
    /// Which rule refused `role` doing `action` in `scope` (call when `allows` said no).
    pub fn of<P: Policy + ?Sized>(policy: &P, role: Role, action: Action, scope: Scope) -> Self {
        match scope {
            Scope::Own if policy.allows(role, action, Scope::Others) => Rule::NotOnYourself,
            Scope::Others if policy.allows(role, action, Scope::Own) => Rule::OwnOnly,
            _ => Rule::RoleTooLow,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Rule::OwnOnly => "only its owner may do this",
            Rule::NotOnYourself => "you may not do this to yourself",
            Rule::RoleTooLow => "your role may not do this",
        }
    }
}
