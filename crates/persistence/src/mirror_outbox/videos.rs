//! The [`MirrorSource`] port: the videos with live comments, which a full resync goes
//! through.

use async_trait::async_trait;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use domain::VideoId;
use domain::mirror::MirrorSource;

use crate::database::{Database, with_conn};
use crate::error::{Error, Result};

#[async_trait]
impl MirrorSource for Database {
    async fn videos(&self, after: Option<&VideoId>, limit: u32) -> domain::Result<Vec<VideoId>> {
        use crate::schema::comments;
        let mut query = comments::table
            .filter(comments::deleted_at.is_null())
            .select(comments::video_id)
            .distinct()
            .order(comments::video_id.asc())
            .limit(i64::from(limit))
            .into_boxed();
        if let Some(after) = after {
            query = query.filter(comments::video_id.gt(after.as_str().to_owned()));
        }
        let ids: Vec<String> = with_conn!(self, |c| query.load(c)).map_err(Error::from)?;
        Ok(ids
            .iter()
            .map(|id| VideoId::parse(id).map_err(Error::corrupt))
            .collect::<Result<_>>()?)
    }
}
