//! `mirror_outbox` rows: the [`MirrorOutbox`](domain::mirror::MirrorOutbox) port (a use
//! case's transaction writes one row per change) and the
//! [`MirrorQueue`](domain::mirror::MirrorQueue) port (the mirror's workers take, report on
//! and delete them).
//!
//! One worker sends at a time, in the whole deployment: it holds the single row of
//! `mirror_sender`, a lease with an expiry taken with one conditional UPDATE, while it
//! sends one batch of the oldest pending rows (up to the second change to one subject); a
//! row that arrived is deleted. Order per comment follows from there being one sender
//! going through the rows in id order, and a failed batch keeps its place at the head of
//! the queue while the whole queue waits. So
//! a row costs MariaDB its INSERT, its share of one read and one DELETE by primary key,
//! and nothing per row in between (migration 000013 says what that replaced).
//!
//! This module holds the rows' states and kinds; [`enqueue`] writes rows, [`lease`] takes
//! the sender lease and its batch, [`change`] reads a row back as the change it stands for
//! now, [`report`] records how a batch went, [`queue`] implements the workers' port on top
//! of them, and [`videos`] lists what a full resync goes through.

mod change;
mod enqueue;
mod lease;
mod queue;
mod report;
mod videos;

use diesel::prelude::*;

use crate::schema::mirror_outbox;

const PENDING: &str = "pending";
const DEAD: &str = "dead";

const COMMENT_SAVED: &str = "comment_saved";
const COMMENT_DELETED: &str = "comment_deleted";
const SIGNED_IN: &str = "signed_in";

#[derive(Queryable, Selectable)]
#[diesel(table_name = mirror_outbox, check_for_backend(diesel::mysql::Mysql))]
struct Row {
    id: u64,
    subject: Vec<u8>,
    kind: String,
    video_id: Option<String>,
    payload: Option<serde_json::Value>,
    attempts: u16,
    enqueued_at: chrono::NaiveDateTime,
    last_error: Option<String>,
}
