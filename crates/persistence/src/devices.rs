//! `user_devices` rows and the [`DeviceStore`] port.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::{AsyncMysqlConnection, RunQueryDsl};
use domain::ports::DeviceStore;
use domain::{Device, DeviceId, DeviceRowId, UserId};

use crate::columns::{from_column, now, to_column, uuid_from_column};
use crate::database::{Database, with_conn};
use crate::error::{Error, Result};
use crate::schema::user_devices;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = user_devices, check_for_backend(diesel::mysql::Mysql))]
struct DeviceRow {
    id: Vec<u8>,
    user_id: Vec<u8>,
    device_id: String,
    device_info: serde_json::Value,
    is_active: bool,
    last_seen_at: chrono::NaiveDateTime,
    inserted_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

impl TryFrom<DeviceRow> for Device {
    type Error = Error;
    fn try_from(row: DeviceRow) -> Result<Self> {
        Ok(Device {
            id: DeviceRowId::from_uuid(uuid_from_column(&row.id)?),
            user_id: UserId::from_uuid(uuid_from_column(&row.user_id)?),
            device_id: DeviceId::parse(&row.device_id).map_err(Error::corrupt)?,
            device_info: row.device_info,
            is_active: row.is_active,
            last_seen_at: from_column(row.last_seen_at),
            inserted_at: from_column(row.inserted_at),
        })
    }
}

/// Inserts the device or refreshes the existing row (one atomic upsert), then reads it.
async fn upsert(
    conn: &mut AsyncMysqlConnection,
    user: UserId,
    device: &DeviceId,
    info: serde_json::Value,
) -> Result<Device> {
    let at = to_column(now());
    let row = DeviceRow {
        id: DeviceRowId::generate().to_bytes().to_vec(),
        user_id: user.to_bytes().to_vec(),
        device_id: device.as_str().to_owned(),
        device_info: info,
        is_active: true,
        last_seen_at: at,
        inserted_at: at,
        updated_at: at,
    };
    diesel::insert_into(user_devices::table)
        .values(&row)
        .on_conflict(diesel::dsl::DuplicatedKeys)
        .do_update()
        .set((
            user_devices::device_info.eq(&row.device_info),
            user_devices::is_active.eq(true),
            user_devices::last_seen_at.eq(at),
            user_devices::updated_at.eq(at),
        ))
        .execute(conn)
        .await?;
    user_devices::table
        .filter(user_devices::user_id.eq(&row.user_id))
        .filter(user_devices::device_id.eq(&row.device_id))
        .select(DeviceRow::as_select())
        .first(conn)
        .await?
        .try_into()
}

/// The device row with this id, active or not.
pub(crate) async fn by_id(
    conn: &mut AsyncMysqlConnection,
    id: DeviceRowId,
) -> Result<Option<Device>> {
    user_devices::table
        .find(id.to_bytes().to_vec())
        .select(DeviceRow::as_select())
        .first(conn)
        .await
        .optional()?
        .map(Device::try_from)
        .transpose()
}

#[async_trait]
impl DeviceStore for Database {
    async fn upsert(
        &self,
        user: UserId,
        device: &DeviceId,
        info: serde_json::Value,
    ) -> domain::Result<Device> {
        Ok(with_conn!(self, |c| upsert(c, user, device, info))?)
    }

    async fn list_for_user(&self, user: UserId) -> domain::Result<Vec<Device>> {
        let query = user_devices::table
            .filter(user_devices::user_id.eq(user.to_bytes().to_vec()))
            .order(user_devices::last_seen_at.desc())
            .select(DeviceRow::as_select());
        let rows: Vec<DeviceRow> = with_conn!(self, |c| query.load(c)).map_err(Error::from)?;
        Ok(rows
            .into_iter()
            .map(Device::try_from)
            .collect::<Result<_>>()?)
    }

    async fn by_id(&self, id: DeviceRowId) -> domain::Result<Option<Device>> {
        Ok(with_conn!(self, |c| by_id(c, id))?)
    }

    async fn deactivate(&self, user: UserId, device: DeviceRowId) -> domain::Result<()> {
        let target = user_devices::table
            .filter(user_devices::id.eq(device.to_bytes().to_vec()))
            .filter(user_devices::user_id.eq(user.to_bytes().to_vec()));
        let update = diesel::update(target).set((
            user_devices::is_active.eq(false),
            user_devices::updated_at.eq(to_column(now())),
        ));
        let n = with_conn!(self, |c| update.execute(c)).map_err(Error::from)?;
        if n == 0 {
            return Err(domain::Error::NotFound("device"));
        }
        Ok(())
    }
}
