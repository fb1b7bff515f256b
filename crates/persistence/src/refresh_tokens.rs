//! `refresh_tokens` rows and the [`RefreshTokenStore`] port: hashed tokens chained per
//! device, rotated in one transaction with reuse detection.

use async_trait::async_trait;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncMysqlConnection, RunQueryDsl};
use domain::ports::RefreshTokenStore;
use domain::tokens::{NewRefreshToken, Rotation, TokenHash};
use domain::{DeviceRowId, RefreshTokenId, UserId};

use crate::columns::{now, to_column, uuid_from_column};
use crate::database::{Database, with_conn};
use crate::devices;
use crate::error::Result;
use crate::schema::refresh_tokens;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens, check_for_backend(diesel::mysql::Mysql))]
struct TokenRow {
    id: Vec<u8>,
    user_id: Vec<u8>,
    device_id: Vec<u8>,
    token_hash: Vec<u8>,
    replaced_by: Option<Vec<u8>>,
    revoked_at: Option<NaiveDateTime>,
    expires_at: NaiveDateTime,
    inserted_at: NaiveDateTime,
}

impl TokenRow {
    /// A fresh, live row for `token`, owned by `user` and `device`.
    fn new(token: &NewRefreshToken, user: UserId, device: DeviceRowId) -> Self {
        Self {
            id: token.id.to_bytes().to_vec(),
            user_id: user.to_bytes().to_vec(),
            device_id: device.to_bytes().to_vec(),
            token_hash: token.hash.to_vec(),
            replaced_by: None,
            revoked_at: None,
            expires_at: to_column(token.expires_at),
            inserted_at: to_column(now()),
        }
    }

    fn user(&self) -> Result<UserId> {
        Ok(UserId::from_uuid(uuid_from_column(&self.user_id)?))
    }

    fn device(&self) -> Result<DeviceRowId> {
        Ok(DeviceRowId::from_uuid(uuid_from_column(&self.device_id)?))
    }

    /// Already exchanged for a successor: presenting it again means a copy exists. (A
    /// token revoked unused, by a logout or a deactivation, is merely invalid.)
    fn was_used(&self) -> bool {
        self.replaced_by.is_some()
    }
}

async fn issue(conn: &mut AsyncMysqlConnection, token: NewRefreshToken) -> Result<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(TokenRow::new(&token, token.user_id, token.device))
        .execute(conn)
        .await?;
    Ok(())
}

/// Revokes every live token of the device; returns how many.
async fn revoke_device(conn: &mut AsyncMysqlConnection, device: DeviceRowId) -> Result<u64> {
    let n = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::device_id.eq(device.to_bytes().to_vec()))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(to_column(now()))))
    .execute(conn)
    .await?;
    Ok(n as u64)
}

/// Revokes every live token of the user; returns how many.
async fn revoke_user(conn: &mut AsyncMysqlConnection, user: UserId) -> Result<u64> {
    let n = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user.to_bytes().to_vec()))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(Some(to_column(now()))))
    .execute(conn)
    .await?;
    Ok(n as u64)
}

/// The body of [`rotate`], run inside its transaction.
///
/// The presented token's row is locked (`FOR UPDATE`), so of two concurrent uses of one
/// token exactly one rotates it and the other sees it used and revokes the device's chain.
async fn rotate_locked(
    tx: &mut AsyncMysqlConnection,
    presented: &TokenHash,
    next: &NewRefreshToken,
) -> Result<Rotation> {
    let Some(old) = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(presented.to_vec()))
        .select(TokenRow::as_select())
        .for_update()
        .first(tx)
        .await
        .optional()?
    else {
        return Ok(Rotation::Rejected);
    };
    let user_id = old.user()?;
    let device_id = old.device()?;
    let at = now();

    if old.was_used() {
        revoke_device(tx, device_id).await?;
        return Ok(Rotation::Reused {
            user_id,
            device: device_id,
        });
    }
    if old.revoked_at.is_some() || old.expires_at <= to_column(at) {
        return Ok(Rotation::Rejected);
    }
    let device = match devices::by_id(tx, device_id).await? {
        Some(device) if device.is_active && device.user_id == user_id => device,
        _ => return Ok(Rotation::Rejected),
    };

    diesel::update(refresh_tokens::table.find(&old.id))
        .set((
            refresh_tokens::replaced_by.eq(Some(next.id.to_bytes().to_vec())),
            refresh_tokens::revoked_at.eq(Some(to_column(at))),
        ))
        .execute(tx)
        .await?;
    diesel::insert_into(refresh_tokens::table)
        .values(TokenRow::new(next, user_id, device_id))
        .execute(tx)
        .await?;
    Ok(Rotation::Rotated { user_id, device })
}

/// Rotates in one transaction. Every outcome, `Reused` included, is returned as `Ok` so
/// the transaction commits: the revocation that reuse triggers must stick.
async fn rotate(
    conn: &mut AsyncMysqlConnection,
    presented: &TokenHash,
    next: NewRefreshToken,
) -> Result<Rotation> {
    conn.transaction(async |tx| rotate_locked(tx, presented, &next).await)
        .await
}

async fn device_of(
    conn: &mut AsyncMysqlConnection,
    presented: &TokenHash,
) -> Result<Option<(UserId, DeviceRowId, RefreshTokenId)>> {
    let found: Option<(Vec<u8>, Vec<u8>, Vec<u8>)> = refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(presented.to_vec()))
        .select((
            refresh_tokens::user_id,
            refresh_tokens::device_id,
            refresh_tokens::id,
        ))
        .first(conn)
        .await
        .optional()?;
    found
        .map(|(user, device, id)| {
            Ok((
                UserId::from_uuid(uuid_from_column(&user)?),
                DeviceRowId::from_uuid(uuid_from_column(&device)?),
                RefreshTokenId::from_uuid(uuid_from_column(&id)?),
            ))
        })
        .transpose()
}

#[async_trait]
impl RefreshTokenStore for Database {
    async fn issue(&self, token: NewRefreshToken) -> domain::Result<()> {
        Ok(with_conn!(self, |c| issue(c, token))?)
    }

    async fn rotate(
        &self,
        presented: &TokenHash,
        next: NewRefreshToken,
    ) -> domain::Result<Rotation> {
        Ok(with_conn!(self, |c| rotate(c, presented, next))?)
    }

    async fn revoke_device(&self, device: DeviceRowId) -> domain::Result<u64> {
        Ok(with_conn!(self, |c| revoke_device(c, device))?)
    }

    async fn revoke_user(&self, user: UserId) -> domain::Result<u64> {
        Ok(with_conn!(self, |c| revoke_user(c, user))?)
    }

    async fn device_of(
        &self,
        presented: &TokenHash,
    ) -> domain::Result<Option<(UserId, DeviceRowId, RefreshTokenId)>> {
        Ok(with_conn!(self, |c| device_of(c, presented))?)
    }
}
