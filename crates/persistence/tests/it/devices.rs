use domain::ports::DeviceStore;
use domain::{DeviceId, DeviceRowId, Error};
use persistence::test_db::TestDatabase;
use serde_json::json;

#[tokio::test]
async fn login_registers_then_refreshes_a_device() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let phone = DeviceId::parse("ios-1").expect("valid");

    let first = db
        .upsert(ann.id, &phone, json!({"os": "iOS 18"}))
        .await
        .expect("registered");
    db.deactivate(ann.id, first.id).await.expect("deactivated");
    let again = db
        .upsert(ann.id, &phone, json!({"os": "iOS 19", "app": {"v": 2}}))
        .await
        .expect("refreshed");

    assert_eq!(again.id, first.id, "same row, not a second device");
    assert!(again.is_active, "a new login reactivates the device");
    assert_eq!(again.device_info, json!({"app": {"v": 2}, "os": "iOS 19"}));
    assert!(again.last_seen_at >= first.last_seen_at);
    assert_eq!(again.inserted_at, first.inserted_at);
}

#[tokio::test]
async fn devices_are_listed_per_user_and_deactivated_per_user() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let bob = crate::user(db, "bob").await;
    let shared = DeviceId::parse("web").expect("valid");
    let anns_web = db.upsert(ann.id, &shared, json!({})).await.expect("ann's");
    db.upsert(ann.id, &DeviceId::parse("tv").expect("valid"), json!({}))
        .await
        .expect("ann's second");
    let bobs_web = db
        .upsert(bob.id, &shared, json!({}))
        .await
        .expect("bob's, same device id");
    assert_ne!(anns_web.id, bobs_web.id, "one row per user");

    assert_eq!(db.list_for_user(ann.id).await.expect("list").len(), 2);
    db.deactivate(bob.id, bobs_web.id)
        .await
        .expect("bob's deactivated");
    let anns = db.list_for_user(ann.id).await.expect("list");
    assert!(
        anns.iter().all(|d| d.is_active),
        "ann's devices are untouched"
    );

    let unknown = db.deactivate(bob.id, DeviceRowId::generate()).await;
    assert!(
        matches!(unknown, Err(Error::NotFound("device"))),
        "{unknown:?}"
    );
}

#[tokio::test]
async fn a_user_cannot_deactivate_another_users_device() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let bob = crate::user(db, "bob").await;
    let anns = db
        .upsert(ann.id, &DeviceId::parse("web").expect("valid"), json!({}))
        .await
        .expect("ann's");

    let theft = db.deactivate(bob.id, anns.id).await;
    assert!(matches!(theft, Err(Error::NotFound("device"))), "{theft:?}");
    let still = db.by_id(anns.id).await.expect("query").expect("found");
    assert!(still.is_active);
}

#[tokio::test]
async fn devices_are_found_by_row_id_active_or_not() {
    let t = TestDatabase::new().await;
    let db = t.database();
    let ann = crate::user(db, "ann").await;
    let tv = db
        .upsert(
            ann.id,
            &DeviceId::parse("tv").expect("valid"),
            json!({"model": "x"}),
        )
        .await
        .expect("registered");

    assert_eq!(db.by_id(tv.id).await.expect("query"), Some(tv.clone()));
    db.deactivate(ann.id, tv.id).await.expect("deactivated");
    let inactive = db.by_id(tv.id).await.expect("query").expect("still there");
    assert!(!inactive.is_active);
    assert_eq!(inactive.device_id, tv.device_id);
    assert_eq!(
        db.by_id(DeviceRowId::generate()).await.expect("query"),
        None
    );
}
