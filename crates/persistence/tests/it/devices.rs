use domain::ports::DeviceStore;
use domain::{DeviceId, Error};
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
    db.deactivate(ann.id, &phone).await.expect("deactivated");
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
    db.upsert(ann.id, &shared, json!({})).await.expect("ann's");
    db.upsert(ann.id, &DeviceId::parse("tv").expect("valid"), json!({}))
        .await
        .expect("ann's second");
    db.upsert(bob.id, &shared, json!({}))
        .await
        .expect("bob's, same device id");

    assert_eq!(db.list_for_user(ann.id).await.expect("list").len(), 2);
    db.deactivate(bob.id, &shared)
        .await
        .expect("bob's deactivated");
    let anns = db.list_for_user(ann.id).await.expect("list");
    assert!(
        anns.iter().all(|d| d.is_active),
        "ann's devices are untouched"
    );

    let unknown = db
        .deactivate(bob.id, &DeviceId::parse("nope").expect("valid"))
        .await;
    assert!(matches!(unknown, Err(Error::NotFound(_))), "{unknown:?}");
}
