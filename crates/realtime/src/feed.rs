//! Comment changes, wherever they come from (REST or a socket), reach the video's room:
//! `new_comment` and `comment_updated` carry `{"comment": ...}`, `comment_deleted` carries
//! `{"id", "video_id"}`. In a large room a new comment past the room's budget is held back:
//! it reaches its author and the moderators only, as `{"comment": ..., "held": true}`.

use std::sync::Arc;

use async_trait::async_trait;
use domain::ports::{CommentEvent, CommentEvents};
use serde_json::json;

use crate::audience::{Admission, Audience};
use crate::broker::Broker;
use crate::events::{COMMENT_DELETED, COMMENT_UPDATED, NEW_COMMENT};
use crate::frame;
use crate::room::topic_of;

/// Publishes comment changes to `video:<id>` rooms through the broker.
#[derive(Debug)]
pub struct RoomFeed {
    broker: Arc<dyn Broker>,
    audience: Arc<Audience>,
}

impl RoomFeed {
    pub(crate) fn new(broker: Arc<dyn Broker>, audience: Arc<Audience>) -> Self {
        Self { broker, audience }
    }
}

#[async_trait]
impl CommentEvents for RoomFeed {
    async fn publish(&self, event: CommentEvent) {
        let (topic, event, payload) = match &event {
            CommentEvent::Created {
                comment,
                author_role,
            } => {
                let topic = topic_of(&comment.video_id);
                let admission = self.audience.admit(&topic, comment.user_id, *author_role);
                if admission == Admission::Held {
                    let payload = json!({ "comment": comment, "held": true });
                    let frame = frame::broadcast(&topic, NEW_COMMENT, &payload);
                    self.broker.publish_held(&topic, comment.user_id, frame);
                    return;
                }
                (topic, NEW_COMMENT, json!({ "comment": comment }))
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
