//! The role policy: every permission rule of the product in one table.
//!
//! | action           | user       | moderator   | admin       |
//! |------------------|------------|-------------|-------------|
//! | PostComment      | own        | own         | own         |
//! | EditComment      | own        | own         | own         |
//! | DeleteComment    | own        | own, others | own, others |
//! | ViewUserPrivate  | own        | own         | own, others |
//! | ListUsers        | -          | -           | yes         |
//! | ChangeRole       | -          | -           | others      |
//! | DeactivateUser   | -          | -           | others      |
//!
//! Admins cannot change their own role or deactivate themselves, so a deployment cannot
//! lock out its last admin by accident.

use domain::Role;
use domain::policy::{Action, Policy, Scope};

/// The policy as a table of `(action, role) -> (own allowed, others allowed)`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RolePolicy;

const fn rule(action: Action, role: Role) -> (bool, bool) {
    use Action::*;
    use Role::*;
    match (action, role) {
        (PostComment | EditComment, _) => (true, false),
        (DeleteComment, User) => (true, false),
        (DeleteComment, Moderator | Admin) => (true, true),
        (ViewUserPrivate, User | Moderator) => (true, false),
        (ViewUserPrivate, Admin) => (true, true),
        (ListUsers, Admin) => (true, true),
        (ListUsers, User | Moderator) => (false, false),
        (ChangeRole | DeactivateUser, Admin) => (false, true),
        (ChangeRole | DeactivateUser, User | Moderator) => (false, false),
    }
}

impl Policy for RolePolicy {
    fn allows(&self, role: Role, action: Action, scope: Scope) -> bool {
        let (own, others) = rule(action, role);
        match scope {
            Scope::Own => own,
            Scope::Others => others,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole matrix, spelled out: (action, role, own, others).
    const EXPECTED: [(Action, Role, bool, bool); 21] = [
        (Action::PostComment, Role::User, true, false),
        (Action::PostComment, Role::Moderator, true, false),
        (Action::PostComment, Role::Admin, true, false),
        (Action::EditComment, Role::User, true, false),
        (Action::EditComment, Role::Moderator, true, false),
        (Action::EditComment, Role::Admin, true, false),
        (Action::DeleteComment, Role::User, true, false),
        (Action::DeleteComment, Role::Moderator, true, true),
        (Action::DeleteComment, Role::Admin, true, true),
        (Action::ViewUserPrivate, Role::User, true, false),
        (Action::ViewUserPrivate, Role::Moderator, true, false),
        (Action::ViewUserPrivate, Role::Admin, true, true),
        (Action::ListUsers, Role::User, false, false),
        (Action::ListUsers, Role::Moderator, false, false),
        (Action::ListUsers, Role::Admin, true, true),
        (Action::ChangeRole, Role::User, false, false),
        (Action::ChangeRole, Role::Moderator, false, false),
        (Action::ChangeRole, Role::Admin, false, true),
        (Action::DeactivateUser, Role::User, false, false),
        (Action::DeactivateUser, Role::Moderator, false, false),
        (Action::DeactivateUser, Role::Admin, false, true),
    ];

    #[test]
    fn the_matrix_is_exactly_as_documented() {
        assert_eq!(EXPECTED.len(), Action::ALL.len() * Role::ALL.len());
        for (action, role, own, others) in EXPECTED {
            assert_eq!(
                RolePolicy.allows(role, action, Scope::Own),
                own,
                "{action:?} {role:?} own"
            );
            assert_eq!(
                RolePolicy.allows(role, action, Scope::Others),
                others,
                "{action:?} {role:?} others"
            );
        }
    }
}
