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
use domain::policy::{Action, Policy, Rule, Scope};

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

    /// The 403's message: the rule of the table above that refused, in its own words.
    fn refusal(&self, role: Role, action: Action, scope: Scope) -> &'static str {
        use Action::*;
        use Rule::*;
        match (action, Rule::of(self, role, action, scope)) {
            (PostComment, _) => "you may post comments only as yourself",
            (EditComment, OwnOnly) => "only its author may edit a comment",
            (DeleteComment, OwnOnly) => {
                "only its author, a moderator or an admin may delete a comment"
            }
            (ViewUserPrivate, _) => "only the user and admins may see this",
            (ListUsers, _) => "only admins may list users",
            (ChangeRole, NotOnYourself) => "admins cannot change their own role",
            (ChangeRole, _) => "only admins may change roles",
            (DeactivateUser, NotOnYourself) => "admins cannot deactivate themselves",
            (DeactivateUser, _) => "only admins may deactivate users",
            (_, rule) => rule.message(),
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

    /// Every refused cell says which rule refused, in words of its own.
    #[test]
    fn every_refusal_names_its_rule() {
        for (action, role, own, others) in EXPECTED {
            for (scope, allowed) in [(Scope::Own, own), (Scope::Others, others)] {
                if allowed {
                    continue;
                }
                let message = RolePolicy.refusal(role, action, scope);
                let rule = Rule::of(&RolePolicy, role, action, scope);
                assert_ne!(
                    message,
                    rule.message(),
                    "{action:?} {role:?} {scope:?}: a message of its own"
                );
                let expected_rule = match (action, role, scope) {
                    (Action::PostComment | Action::EditComment, _, Scope::Others)
                    | (
                        Action::DeleteComment | Action::ViewUserPrivate,
                        Role::User,
                        Scope::Others,
                    )
                    | (Action::ViewUserPrivate, Role::Moderator, Scope::Others) => Rule::OwnOnly,
                    (Action::ChangeRole | Action::DeactivateUser, Role::Admin, Scope::Own) => {
                        Rule::NotOnYourself
                    }
                    _ => Rule::RoleTooLow,
                };
                assert_eq!(rule, expected_rule, "{action:?} {role:?} {scope:?}");
            }
        }
    }

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
