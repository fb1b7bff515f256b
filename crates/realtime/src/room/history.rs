//! What a join sends of the room's comments: the latest, or every one after where the
//! client stands (`after` a position, or `since` a comment), cut to a byte budget.

use domain::comments::{Comments, ReplayFrom};
use domain::{CommentId, Error, VideoId};
use serde_json::{Value, json};

use crate::frame::Inbound;

/// What a join asks for: the latest comments, or every one after where the client stands.
pub(crate) enum Since {
    Latest,
    After(ReplayFrom),
}

/// How much history a join gets.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HistoryLimits {
    /// Comments sent on a plain join.
    pub latest: u16,
    /// Most comments, and most bytes of them, sent on a join with `after` or `since`.
    pub replay: u16,
    pub replay_bytes: usize,
}

/// The join's payload (`after` or `since`), checked before the join touches anything: a
/// join refused for its payload leaves the socket's channels and subscriptions as they
/// were (subscribing makes the other nodes send their members of the room, which a client
/// must not be able to set off at will).
pub(crate) fn check_join(frame: &Inbound) -> Result<Since, Value> {
    let payload = |key: &str| frame.payload.get(key).filter(|v| !v.is_null());
    match (payload("after"), payload("since")) {
        (None, None) => Ok(Since::Latest),
        (Some(after), None) => after
            .as_u64()
            .map(|p| Since::After(ReplayFrom::Position(p)))
            .ok_or_else(|| json!({ "reason": "invalid after: give a comment position (an integer, 0 or more)" })),
        (None, Some(since)) => since
            .as_str()
            .and_then(|s| s.parse::<CommentId>().ok())
            .map(|id| Since::After(ReplayFrom::Comment(id)))
            .ok_or_else(|| json!({ "reason": "invalid since: give a comment id" })),
        (Some(_), Some(_)) => Err(json!({ "reason": "invalid payload: give after or since, not both" })),
    }
}

/// The join reply's response: the latest comments, or those after where the client
/// stands, with the position up to which it then has every comment.
///
/// A large room (`large`) showed only some of its comments, so it does not replay every
/// one stored since: a join with `after` or `since` gets the latest, as a plain join, and
/// `"sampled": true` to say so (the REST API still has every comment).
pub(crate) async fn history(
    comments: &Comments,
    limits: HistoryLimits,
    since: Since,
    video: &VideoId,
    large: bool,
) -> Result<Value, Value> {
    let sampled = large && matches!(since, Since::After(_));
    let since = if sampled { Since::Latest } else { since };
    let replaying = matches!(since, Since::After(_));
    let replay = match since {
        Since::Latest => comments.latest(video, limits.latest).await,
        Since::After(from) => comments.replay(video, from, limits.replay).await,
    };
    let replay = replay.map_err(|e| match e {
        Error::NotFound(_) => json!({ "reason": "invalid since: no such comment in this room" }),
        other => super::refusal(&other),
    })?;
    let (sent, cut) = within_bytes(
        replay.comments.iter().map(|c| json!(c)),
        limits.replay_bytes,
    );
    // Cut short for size: the client stands at the last comment it got.
    let position = if cut {
        replay.comments[..sent.len()]
            .last()
            .map_or(replay.position, |c| c.position)
    } else {
        replay.position
    };
    if sampled {
        return Ok(json!({ "comments": sent, "position": position, "sampled": true }));
    }
    if !replaying {
        return Ok(json!({ "comments": sent, "position": position }));
    }
    Ok(json!({
        "comments": sent,
        "complete": replay.complete && !cut,
        "position": position,
    }))
}

/// The leading values whose JSON fits in `budget` bytes (at least one, so a client paging
/// on always moves forward), and whether any were left out.
fn within_bytes(values: impl ExactSizeIterator<Item = Value>, budget: usize) -> (Vec<Value>, bool) {
    let total = values.len();
    let mut used = 0;
    let mut kept = Vec::with_capacity(total);
    for value in values {
        used += serde_json::to_string(&value).map_or(0, |text| text.len() + 1);
        if used > budget && !kept.is_empty() {
            break;
        }
        kept.push(value);
    }
    let cut = kept.len() < total;
    (kept, cut)
}
