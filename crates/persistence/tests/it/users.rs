use chrono::Utc;
use domain::ports::UserStore;
use domain::{Email, Error, NewUser, Role, UserId, Username};
use persistence::test_db::TestDatabase;

#[tokio::test]
async fn insert_then_find_by_id_and_email() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    assert_eq!(ann.role, Role::User);
    assert!(ann.is_active);

    let by_id = db.by_id(ann.id).await.expect("query").expect("found");
    assert_eq!(by_id, ann);
    let email = Email::parse("ANN@example.com").expect("valid");
    let by_email = db.by_email(&email).await.expect("query").expect("found");
    assert_eq!(by_email.id, ann.id);
    assert!(db.by_id(UserId::generate()).await.expect("query").is_none());
}

#[tokio::test]
async fn email_and_username_are_unique_ignoring_case() {
    let t = TestDatabase::new().await;
    let db = t.database();
    crate::user(db, "ann").await;
    let clash = |email: &str, name: &str| NewUser {
        email: Email::parse(email).expect("valid"),
        username: Username::parse(name).expect("valid"),
        password_hash: "x".into(),
        role: Role::User,
    };
    let same_name = db.insert(clash("other@example.com", "ANN")).await;
    assert!(
        matches!(&same_name, Err(Error::Conflict(m)) if m.contains("username")),
        "{same_name:?}"
    );
    let same_email = db.insert(clash("ann@example.com", "bob")).await;
    assert!(
        matches!(&same_email, Err(Error::Conflict(m)) if m.contains("email")),
        "{same_email:?}"
    );
}

#[tokio::test]
async fn role_activity_and_last_login_change() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let at = Utc::now();
    db.record_login(ann.id, at).await.expect("login recorded");
    db.set_role(ann.id, Role::Moderator)
        .await
        .expect("role set");
    db.set_active(ann.id, false).await.expect("deactivated");
    db.set_active(ann.id, false)
        .await
        .expect("deactivating twice is fine");

    let now = db.by_id(ann.id).await.expect("query").expect("found");
    assert_eq!(now.role, Role::Moderator);
    assert!(!now.is_active);
    let stored = now.last_login_at.expect("set");
    assert_eq!(
        stored.timestamp_micros(),
        at.timestamp_micros(),
        "microsecond precision, UTC"
    );

    let missing = db.set_role(UserId::generate(), Role::Admin).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}
