//! The unit of work: writes through one transaction are kept together or not at all.

use domain::audit::{AuditAction, AuditEntry};
use domain::ports::{UnitOfWork, UserStore};
use domain::{Error, Role, UserId};
use persistence::test_db::TestDatabase;
use serde_json::Value;

fn role_changed(user: UserId) -> AuditEntry {
    AuditEntry {
        action: AuditAction::RoleChanged,
        actor: None,
        subject: Some(*user.as_uuid()),
        detail: Value::Null,
        ip: None,
    }
}

/// Makes every insert into `audit_log` fail, as a full disk or a lost table would.
const REFUSE_AUDIT: &str = "CREATE TRIGGER audit_refused BEFORE INSERT ON audit_log \
     FOR EACH ROW SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'audit refused by the test'";

async fn role_of(t: &TestDatabase, user: UserId) -> Role {
    t.database()
        .by_id(user)
        .await
        .expect("query")
        .expect("found")
        .role
}

async fn audit_rows(t: &TestDatabase) -> i64 {
    t.count("SELECT COUNT(*) FROM audit_log").await
}

#[tokio::test]
async fn committed_writes_are_kept_together() {
    let t = TestDatabase::new().await;
    let ann = crate::user(t.database(), "ann").await;
    let tx = t.database().begin().await.expect("begins");
    tx.users()
        .set_role(ann.id, Role::Moderator)
        .await
        .expect("role set");
    assert_eq!(
        tx.users()
            .by_id(ann.id)
            .await
            .expect("query")
            .map(|u| u.role),
        Some(Role::Moderator),
        "the transaction reads its own write"
    );
    assert_eq!(
        role_of(&t, ann.id).await,
        Role::User,
        "nobody else sees it before the commit"
    );
    tx.audit()
        .record(role_changed(ann.id))
        .await
        .expect("audited");
    tx.commit().await.expect("commits");
    assert_eq!(role_of(&t, ann.id).await, Role::Moderator);
    assert_eq!(audit_rows(&t).await, 1);
}

#[tokio::test]
async fn a_failing_second_write_leaves_no_partial_change() {
    let t = TestDatabase::new().await;
    let ann = crate::user(t.database(), "ann").await;
    t.execute(REFUSE_AUDIT).await;
    let tx = t.database().begin().await.expect("begins");
    let outcome = async {
        tx.users().set_role(ann.id, Role::Admin).await?;
        tx.audit().record(role_changed(ann.id)).await
    }
    .await;
    let finished = tx.finish(outcome).await;
    assert!(matches!(finished, Err(Error::Internal(_))), "{finished:?}");
    assert_eq!(
        role_of(&t, ann.id).await,
        Role::User,
        "the role change was undone"
    );
    assert_eq!(audit_rows(&t).await, 0);
}

#[tokio::test]
async fn rollback_and_drop_undo_every_write() {
    let t = TestDatabase::new().await;
    let ann = crate::user(t.database(), "ann").await;

    let tx = t.database().begin().await.expect("begins");
    tx.users().set_role(ann.id, Role::Admin).await.expect("set");
    tx.rollback().await;
    assert_eq!(role_of(&t, ann.id).await, Role::User);

    let tx = t.database().begin().await.expect("begins");
    tx.users().set_role(ann.id, Role::Admin).await.expect("set");
    tx.audit()
        .record(role_changed(ann.id))
        .await
        .expect("audited");
    drop(tx);
    assert_eq!(role_of(&t, ann.id).await, Role::User);
    assert_eq!(audit_rows(&t).await, 0);

    // The pool is fine afterwards: the abandoned connection was closed, not reused.
    for _ in 0..20 {
        assert_eq!(role_of(&t, ann.id).await, Role::User);
    }
}

#[tokio::test]
async fn a_transaction_holds_one_connection_only() {
    let t = TestDatabase::new().await;
    let ann = crate::user(t.database(), "ann").await;
    // More transactions than the pool has connections, one after the other: each gives
    // its connection back when it ends.
    for round in 0..25 {
        let tx = t.database().begin().await.expect("begins");
        let role = if round % 2 == 0 {
            Role::Moderator
        } else {
            Role::User
        };
        tx.users().set_role(ann.id, role).await.expect("set");
        if round % 3 == 0 {
            tx.rollback().await;
        } else {
            tx.commit().await.expect("commits");
        }
    }
    assert_eq!(t.database().status().open, t.database().status().idle);
}
