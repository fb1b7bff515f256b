use chrono::Utc;
use domain::ports::UserStore;
use domain::{Email, Error, NewUser, PageRequest, Role, UserId, Username};
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

/// The application normalises emails (trim, lower case, NFC); the database compares the
/// result exactly, so accents count.
#[tokio::test]
async fn emails_differing_only_in_accents_are_different_addresses() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let new = |email: &str, name: &str| NewUser {
        email: Email::parse(email).expect("valid"),
        username: Username::parse(name).expect("valid"),
        password_hash: "x".into(),
        role: Role::User,
    };
    let acute = db
        .insert(new("caf\u{e9}@example.com", "acute"))
        .await
        .expect("inserted");
    let plain = db
        .insert(new("cafe@example.com", "plain"))
        .await
        .expect("an address of its own");
    db.insert(new("caf\u{e8}@example.com", "grave"))
        .await
        .expect("an address of its own");
    let found = |email: &str| {
        let email = Email::parse(email).expect("valid");
        async move { db.by_email(&email).await.expect("query").map(|u| u.id) }
    };
    assert_eq!(found("cafe@example.com").await, Some(plain.id));
    assert_eq!(found("caf\u{e9}@example.com").await, Some(acute.id));
    assert_eq!(found("cafe\u{301}@example.com").await, Some(acute.id));
    assert_eq!(found("caf\u{ea}@example.com").await, None);
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

#[tokio::test]
async fn username_and_password_hash_change() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;

    let new_name = Username::parse("annie").expect("valid");
    db.set_username(ann.id, &new_name).await.expect("renamed");
    db.set_password_hash(ann.id, "$argon2id$new")
        .await
        .expect("hash set");
    let now = db.by_id(ann.id).await.expect("query").expect("found");
    assert_eq!(now.username, new_name);
    assert_eq!(now.password_hash, "$argon2id$new");
    assert!(now.updated_at >= ann.updated_at);

    db.set_username(ann.id, &new_name)
        .await
        .expect("keeping one's own name is not a conflict");

    let missing = db.set_username(UserId::generate(), &new_name).await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
    let missing = db.set_password_hash(UserId::generate(), "x").await;
    assert!(matches!(missing, Err(Error::NotFound(_))), "{missing:?}");
}

#[tokio::test]
async fn renaming_to_a_taken_username_is_a_conflict_ignoring_case() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    crate::user(db, "bob").await;

    let clash = db
        .set_username(ann.id, &Username::parse("BOB").expect("valid"))
        .await;
    assert!(
        matches!(&clash, Err(Error::Conflict(m)) if m.contains("username")),
        "{clash:?}"
    );
    let unchanged = db.by_id(ann.id).await.expect("query").expect("found");
    assert_eq!(unchanged.username.as_str(), "ann");
}

/// Creates a user with its own email and username.
async fn user_with(db: &persistence::Database, email: &str, name: &str) -> domain::User {
    db.insert(NewUser {
        email: Email::parse(email).expect("valid"),
        username: Username::parse(name).expect("valid"),
        password_hash: "x".into(),
        role: Role::User,
    })
    .await
    .expect("inserted")
}

fn page(limit: u16, before: Option<UserId>) -> PageRequest<UserId> {
    PageRequest::new(limit, before).expect("valid page")
}

#[tokio::test]
async fn search_pages_newest_first_through_every_user() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let mut ids = Vec::new();
    for name in ["u1", "u2", "u3", "u4", "u5"] {
        ids.push(crate::user(db, &format!("{name}x")).await.id);
    }

    let mut seen = Vec::new();
    let mut before = None;
    let mut pages = 0;
    loop {
        let got = db.search(None, page(2, before)).await.expect("page");
        pages += 1;
        seen.extend(got.items.iter().map(|u| u.id));
        match got.next {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    let newest_first: Vec<UserId> = ids.iter().rev().copied().collect();
    assert_eq!(seen, newest_first);
    assert_eq!(pages, 3, "5 users in pages of 2");

    let exact = db.search(None, page(5, None)).await.expect("page");
    assert_eq!(exact.items.len(), 5);
    assert_eq!(exact.next, None, "no next page when nothing is left");
}

#[tokio::test]
async fn search_matches_a_prefix_of_username_or_email_ignoring_case() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = user_with(db, "ann@example.com", "ann").await;
    let anna = user_with(db, "zed@example.com", "Anna").await;
    let by_email = user_with(db, "annex@example.org", "carl").await;
    user_with(db, "bob@example.com", "bob").await;
    user_with(db, "joanne@example.com", "joanne").await;

    let found = db.search(Some("AN"), page(10, None)).await.expect("search");
    let ids: Vec<UserId> = found.items.iter().map(|u| u.id).collect();
    assert_eq!(ids, vec![by_email.id, anna.id, ann.id], "newest first");
    assert_eq!(found.next, None);

    let first = db.search(Some("an"), page(2, None)).await.expect("search");
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.next, Some(anna.id));
    let rest = db
        .search(Some("an"), page(2, first.next))
        .await
        .expect("search");
    assert_eq!(
        rest.items.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![ann.id]
    );
    assert_eq!(rest.next, None);

    let by_domain_part = db
        .search(Some("annex@example.o"), page(10, None))
        .await
        .expect("search");
    assert_eq!(by_domain_part.items.len(), 1);
    assert!(
        db.search(Some("nobody"), page(10, None))
            .await
            .expect("search")
            .items
            .is_empty()
    );
}

#[tokio::test]
async fn search_takes_like_wildcards_in_the_prefix_literally() {
    let t = TestDatabase::new().await;
    let db = t.database();
    user_with(db, "ann@example.com", "ann").await;
    user_with(db, "abc@example.com", "abc").await;
    let percent = user_with(db, "a%b@example.com", "pct").await;
    let underscore = user_with(db, "und@example.com", "a_z").await;

    let found = db.search(Some("a%"), page(10, None)).await.expect("search");
    assert_eq!(
        found.items.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![percent.id],
        "`%` is not a wildcard"
    );
    let found = db.search(Some("a_"), page(10, None)).await.expect("search");
    assert_eq!(
        found.items.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![underscore.id],
        "`_` is not a wildcard"
    );
    let found = db.search(Some("%"), page(10, None)).await.expect("search");
    assert!(found.items.is_empty(), "nobody's name starts with `%`");
}
