//! The `demo_data` marker and the [`DemoData`] port: whether `realtime-server seed` has
//! filled this database with demo data.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::ports::DemoData;

use crate::columns::{now, to_column};
use crate::database::{Database, with_conn};
use crate::error::Error;
use crate::schema::demo_data;

/// The marker's one row.
const ROW: u8 = 1;

#[async_trait]
impl DemoData for Database {
    async fn seeded(&self) -> domain::Result<bool> {
        let query = demo_data::table
            .filter(demo_data::id.eq(ROW))
            .select(demo_data::id);
        let found: Option<u8> = with_conn!(self, |c| query.first(c))
            .optional()
            .map_err(Error::from)?;
        Ok(found.is_some())
    }

    async fn mark_seeded(&self) -> domain::Result<()> {
        let at = to_column(now());
        let upsert = diesel::insert_into(demo_data::table)
            .values((demo_data::id.eq(ROW), demo_data::seeded_at.eq(at)))
            .on_conflict(diesel::dsl::DuplicatedKeys)
            .do_update()
            .set(demo_data::seeded_at.eq(at));
        with_conn!(self, |c| upsert.execute(c)).map_err(Error::from)?;
        Ok(())
    }
}
