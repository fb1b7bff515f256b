//! The devices a user signed in from: listing them and revoking one, audited.

use domain::audit::{AuditAction, AuditEntry};
use domain::policy::Actor;
use domain::ports::Transaction;
use domain::{Device, DeviceRowId};
use serde_json::Value;

use super::Sessions;
use crate::error::Result;

impl Sessions {
    /// The caller's devices, most recently seen first.
    pub async fn devices(&self, actor: &Actor) -> Result<Vec<Device>> {
        Ok(self.stores.devices.list_for_user(actor.user_id).await?)
    }

    /// Revokes one of the caller's devices: its tokens stop working at once.
    pub async fn revoke_device(&self, actor: &Actor, device: DeviceRowId) -> Result<()> {
        let tx = self.stores.transactions.begin().await?;
        let revoked = revoke_device_in(&*tx, actor, device).await;
        tx.finish(revoked).await?;
        self.signed_out(device);
        Ok(())
    }
}

/// Signs one of the actor's devices out inside `tx`, audited: the device is marked
/// inactive and its refresh tokens revoked. The caller calls `signed_out` after the commit.
pub(crate) async fn revoke_device_in(
    tx: &dyn Transaction,
    actor: &Actor,
    device: DeviceRowId,
) -> Result<()> {
    tx.devices().deactivate(actor.user_id, device).await?;
    tx.tokens().revoke_device(device).await?;
    tx.audit()
        .record(AuditEntry {
            action: AuditAction::DeviceRevoked,
            actor: Some(actor.user_id),
            subject: Some(*device.as_uuid()),
            detail: Value::Null,
            ip: None,
        })
        .await?;
    Ok(())
}
