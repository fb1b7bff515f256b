use chrono::{Duration, Utc};
use domain::ports::{DeviceStore, RefreshTokenStore};
use domain::tokens::{NewRefreshToken, Rotation, TokenHash};
use domain::{Device, DeviceId, Error, RefreshTokenId, User, UserId};
use persistence::Database;
use persistence::test_db::TestDatabase;
use serde_json::json;

/// A distinct hash per `n`.
fn hash(n: u8) -> TokenHash {
    let mut h = [0xA5; 32];
    h[0] = n;
    h
}

/// A token for `device` expiring in an hour (owner and device are ignored by `rotate`).
fn token(device: &Device, n: u8) -> NewRefreshToken {
    NewRefreshToken {
        id: RefreshTokenId::generate(),
        user_id: device.user_id,
        device: device.id,
        hash: hash(n),
        expires_at: Utc::now() + Duration::hours(1),
    }
}

async fn device(db: &Database, user: &User, id: &str) -> Device {
    db.upsert(user.id, &DeviceId::parse(id).expect("valid"), json!({}))
        .await
        .expect("device registered")
}

#[tokio::test]
async fn rotation_spends_the_old_token_and_the_new_one_works() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let phone = device(db, &ann, "phone").await;
    db.issue(token(&phone, 1)).await.expect("issued");

    let second = token(&phone, 2);
    let rotated = db.rotate(&hash(1), second.clone()).await.expect("rotate");
    assert_eq!(
        rotated,
        Rotation::Rotated {
            user_id: ann.id,
            device: phone.clone()
        }
    );
    assert_eq!(
        db.device_of(&hash(2)).await.expect("query"),
        Some((ann.id, phone.id, second.id)),
        "the successor is stored for the same user and device"
    );

    let third = db.rotate(&hash(2), token(&phone, 3)).await.expect("rotate");
    assert!(matches!(third, Rotation::Rotated { .. }), "{third:?}");

    assert!(
        matches!(
            db.rotate(&hash(99), token(&phone, 4))
                .await
                .expect("rotate"),
            Rotation::Rejected
        ),
        "an unknown token is rejected"
    );
}

#[tokio::test]
async fn rotation_takes_owner_and_device_from_the_old_token() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let bob = crate::user(db, "bob").await;
    let anns = device(db, &ann, "phone").await;
    let bobs = device(db, &bob, "phone").await;
    db.issue(token(&anns, 1)).await.expect("issued");

    let mut forged = token(&bobs, 2);
    forged.user_id = bob.id;
    let rotated = db.rotate(&hash(1), forged.clone()).await.expect("rotate");
    assert!(
        matches!(&rotated, Rotation::Rotated { user_id, device } if *user_id == ann.id && device.id == anns.id),
        "{rotated:?}"
    );
    assert_eq!(
        db.device_of(&hash(2)).await.expect("query"),
        Some((ann.id, anns.id, forged.id))
    );
}

#[tokio::test]
async fn reusing_a_spent_token_revokes_the_whole_device_chain_only() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let phone = device(db, &ann, "phone").await;
    let laptop = device(db, &ann, "laptop").await;
    db.issue(token(&phone, 1)).await.expect("issued");
    db.issue(token(&laptop, 50)).await.expect("issued");
    db.rotate(&hash(1), token(&phone, 2)).await.expect("rotate");
    db.rotate(&hash(2), token(&phone, 3)).await.expect("rotate");

    let replayed = db.rotate(&hash(1), token(&phone, 4)).await.expect("rotate");
    assert_eq!(
        replayed,
        Rotation::Reused {
            user_id: ann.id,
            device: phone.id
        }
    );
    assert_eq!(
        db.device_of(&hash(4)).await.expect("query"),
        None,
        "nothing is issued on reuse"
    );

    let newest = db.rotate(&hash(3), token(&phone, 5)).await.expect("rotate");
    assert_eq!(
        newest,
        Rotation::Rejected,
        "the newest token of the chain was revoked too (and the revocation was committed); \
         never used, it is merely invalid"
    );
    let other_device = db
        .rotate(&hash(50), token(&laptop, 51))
        .await
        .expect("rotate");
    assert!(
        matches!(&other_device, Rotation::Rotated { device, .. } if device.id == laptop.id),
        "another device's tokens survive: {other_device:?}"
    );
    assert_eq!(
        db.revoke_device(phone.id).await.expect("revoke"),
        0,
        "no live token was left on the phone"
    );
}

/// A logout revokes the device's live token without using it: presenting it later is an
/// invalid token, not a reuse, and revokes nothing more.
#[tokio::test]
async fn a_token_revoked_unused_is_rejected_not_reused() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let phone = device(db, &ann, "phone").await;
    db.issue(token(&phone, 1)).await.expect("issued");
    assert_eq!(db.revoke_device(phone.id).await.expect("revoked"), 1);

    let outcome = db.rotate(&hash(1), token(&phone, 2)).await.expect("rotate");
    assert_eq!(outcome, Rotation::Rejected);
    assert_eq!(db.device_of(&hash(2)).await.expect("query"), None);
}

#[tokio::test]
async fn an_expired_token_is_rejected() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let phone = device(db, &ann, "phone").await;
    let mut old = token(&phone, 1);
    old.expires_at = Utc::now() - Duration::seconds(1);
    db.issue(old).await.expect("issued");

    let outcome = db.rotate(&hash(1), token(&phone, 2)).await.expect("rotate");
    assert_eq!(outcome, Rotation::Rejected);
    assert_eq!(db.device_of(&hash(2)).await.expect("query"), None);
}

#[tokio::test]
async fn a_token_of_a_deactivated_device_is_rejected() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let phone = device(db, &ann, "phone").await;
    db.issue(token(&phone, 1)).await.expect("issued");
    db.deactivate(ann.id, phone.id).await.expect("deactivated");

    let outcome = db.rotate(&hash(1), token(&phone, 2)).await.expect("rotate");
    assert_eq!(outcome, Rotation::Rejected);
    assert_eq!(db.device_of(&hash(2)).await.expect("query"), None);
}

#[tokio::test]
async fn revoke_user_revokes_every_live_token_of_that_user_only() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let bob = crate::user(db, "bob").await;
    let phone = device(db, &ann, "phone").await;
    let laptop = device(db, &ann, "laptop").await;
    let bobs = device(db, &bob, "phone").await;
    db.issue(token(&phone, 1)).await.expect("issued");
    db.rotate(&hash(1), token(&phone, 2)).await.expect("rotate");
    db.issue(token(&laptop, 10)).await.expect("issued");
    db.issue(token(&bobs, 20)).await.expect("issued");

    assert_eq!(
        db.revoke_user(ann.id).await.expect("revoke"),
        2,
        "the phone's live token and the laptop's; the spent one is not counted"
    );
    assert_eq!(db.revoke_user(ann.id).await.expect("revoke"), 0);
    for (h, d) in [(2, &phone), (10, &laptop)] {
        let outcome = db
            .rotate(&hash(h), token(d, h + 100))
            .await
            .expect("rotate");
        assert_eq!(
            outcome,
            Rotation::Rejected,
            "revoked unused: invalid, not reused"
        );
    }
    let used = db
        .rotate(&hash(1), token(&phone, 200))
        .await
        .expect("rotate");
    assert!(
        matches!(used, Rotation::Reused { .. }),
        "a used token is still reuse after a revocation: {used:?}"
    );
    let bobs_outcome = db
        .rotate(&hash(20), token(&bobs, 21))
        .await
        .expect("rotate");
    assert!(
        matches!(bobs_outcome, Rotation::Rotated { user_id, .. } if user_id == bob.id),
        "{bobs_outcome:?}"
    );
}

#[tokio::test]
async fn revoke_device_counts_live_tokens_of_that_device() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let phone = device(db, &ann, "phone").await;
    let laptop = device(db, &ann, "laptop").await;
    db.issue(token(&phone, 1)).await.expect("issued");
    db.issue(token(&phone, 2)).await.expect("issued");
    db.issue(token(&laptop, 3)).await.expect("issued");

    assert_eq!(db.revoke_device(phone.id).await.expect("revoke"), 2);
    let laptop_outcome = db
        .rotate(&hash(3), token(&laptop, 4))
        .await
        .expect("rotate");
    assert!(
        matches!(laptop_outcome, Rotation::Rotated { .. }),
        "{laptop_outcome:?}"
    );
}

#[tokio::test]
async fn device_of_finds_live_and_spent_tokens() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let phone = device(db, &ann, "phone").await;
    let first = token(&phone, 1);
    db.issue(first.clone()).await.expect("issued");
    db.rotate(&hash(1), token(&phone, 2)).await.expect("rotate");
    db.revoke_device(phone.id).await.expect("revoke");

    assert_eq!(
        db.device_of(&hash(1)).await.expect("query"),
        Some((ann.id, phone.id, first.id))
    );
    assert!(db.device_of(&hash(2)).await.expect("query").is_some());
    assert_eq!(db.device_of(&hash(3)).await.expect("query"), None);
}

#[tokio::test]
async fn a_token_hash_is_stored_once() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let phone = device(db, &ann, "phone").await;
    db.issue(token(&phone, 1)).await.expect("issued");

    let again = db.issue(token(&phone, 1)).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");

    let mut orphan = token(&phone, 2);
    orphan.user_id = UserId::generate();
    assert!(
        db.issue(orphan).await.is_err(),
        "a token for an unknown user violates the foreign key"
    );
}
