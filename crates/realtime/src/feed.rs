//! Comment changes, wherever they come from (REST or a socket), reach the video's room:
//! `new_comment` and `comment_updated` carry `{"comment": ...}`, `comment_deleted` carries
//! `{"id", "video_id"}`.

use std::sync::Arc;

use async_trait::async_trait;
use domain::ports::{CommentEvent, CommentEvents};
use serde_json::json;

use crate::broker::Broker;
use crate::events::{COMMENT_DELETED, COMMENT_UPDATED, NEW_COMMENT};
use crate::frame;
use crate::room::topic_of;

/// Publishes comment changes to `video:<id>` rooms through the broker.
#[derive(Debug)]
pub struct RoomFeed {
    broker: Arc<dyn Broker>,
}

impl RoomFeed {
    pub fn new(broker: Arc<dyn Broker>) -> Self {
        Self { broker }
    }
}

#[async_trait]
impl CommentEvents for RoomFeed {
    async fn publish(&self, event: CommentEvent) {
        let (topic, event, payload) = match &event {
            CommentEvent::Created(c) => {
                (topic_of(&c.video_id), NEW_COMMENT, json!({ "comment": c }))
            }
            CommentEvent::Updated(c) => (
                topic_of(&c.video_id),
                COMMENT_UPDATED,
                json!({ "comment": c }),
            ),
            CommentEvent::Deleted { id, video_id } => (
                topic_of(video_id),
                COMMENT_DELETED,
                json!({ "id": id.to_string(), "video_id": video_id.as_str() }),
            ),
        };
        let started = std::time::Instant::now();
        self.broker.publish(
            &topic,
            event,
            frame::broadcast(&topic, event, &payload),
            None,
        );
        metrics::histogram!("realtime_fanout_duration_seconds", "event" => event)
            .record(started.elapsed().as_secs_f64());
    }
}
