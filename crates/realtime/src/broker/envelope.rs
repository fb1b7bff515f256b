//! What a broadcast looks like on Redis, where operators see it (`redis-cli monitor`):
//! channel `rts:topic:<topic>`, message `rts2 <node id> <event>\n<frame>`, the frame being
//! the exact Phoenix V2 text the sockets receive. A message between nodes, never for
//! sockets, has the event `node.<kind>` and its own body (presence's members and their
//! changes). A comment a large room held back has the event `held.<author's user id>`: it
//! is for its author's and the moderators' sockets only. The first word is the envelope's
//! version; a node skips messages it published itself and any version it does not know.

use bytes::{Bytes, BytesMut};

/// The version word this node writes and reads.
/// rts2: presence changes travel between nodes as `node.presence_changes` with their own
/// body, no longer inside a client frame; nodes of rts1 and rts2 do not hear each other.
/// rts3: held comments (`held.<user>`) and room reports; an rts2 node would deliver a
/// held comment to everyone.
const VERSION: &str = "rts3";

/// The event word of a [`NodeMessage`](super::NodeMessage) is this and its kind.
pub(crate) const NODE_EVENT: &str = "node.";

/// The event word of a held comment is this and its author's user id.
pub(crate) const HELD_EVENT: &str = "held.";

/// The channel of access changes (revocations, deactivations, changed users), which
/// every node listens to.
pub(crate) const CONTROL_CHANNEL: &str = "rts:control";

/// The Redis channel of a topic.
pub(crate) fn channel(topic: &str) -> String {
    format!("rts:topic:{topic}")
}

/// The topic of a Redis channel, if it is one of ours.
pub(crate) fn topic(channel: &str) -> Option<&str> {
    channel.strip_prefix("rts:topic:")
}

/// `rts3 <node> <event>\n<frame>`.
pub(crate) fn encode(node: &str, event: &str, frame: &[u8]) -> Bytes {
    let mut out =
        BytesMut::with_capacity(VERSION.len() + node.len() + event.len() + 3 + frame.len());
    out.extend_from_slice(VERSION.as_bytes());
    out.extend_from_slice(b" ");
    out.extend_from_slice(node.as_bytes());
    out.extend_from_slice(b" ");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\n");
    out.extend_from_slice(frame);
    out.freeze()
}

/// A message from another node: who sent it, the event, and the frame.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Envelope<'a> {
    pub node: &'a str,
    pub event: &'a str,
    pub frame: Bytes,
}

/// Parses a message; `None` for anything not in this version's shape.
pub(crate) fn decode(message: &Bytes) -> Option<Envelope<'_>> {
    let end = message.iter().position(|&b| b == b'\n')?;
    let header = std::str::from_utf8(&message[..end]).ok()?;
    let mut words = header.split(' ');
    if words.next()? != VERSION {
        return None;
    }
    let node = words.next()?;
    let event = words.next()?;
    if words.next().is_some() || node.is_empty() || event.is_empty() {
        return None;
    }
    Some(Envelope {
        node,
        event,
        frame: message.slice(end + 1..),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_round_trips_and_keeps_the_frame_byte_for_byte() {
        let frame = br#"[null,null,"video:1","new_comment",{"comment":{"content":"a\nb c"}}]"#;
        let bytes = encode("node-1", "new_comment", frame);
        assert!(bytes.starts_with(b"rts3 node-1 new_comment\n"));
        let env = decode(&bytes).expect("decodes");
        assert_eq!(env.node, "node-1");
        assert_eq!(env.event, "new_comment");
        assert_eq!(&env.frame[..], &frame[..]);
    }

    #[test]
    fn other_versions_and_shapes_are_ignored() {
        for bad in [
            &b"rts2 n e\n[]"[..],
            b"rts3 n\n[]",
            b"rts3 n e x\n[]",
            b"rts3 n e",
            b"",
            b"\xff\xfe\n[]",
        ] {
            assert_eq!(decode(&Bytes::copy_from_slice(bad)), None, "{bad:?}");
        }
    }

    #[test]
    fn channels_name_their_topic() {
        assert_eq!(channel("video:v1"), "rts:topic:video:v1");
        assert_eq!(topic("rts:topic:video:v1"), Some("video:v1"));
        assert_eq!(topic("other"), None);
    }
}
