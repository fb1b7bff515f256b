//! The Phoenix V2 JSON frame: `[join_ref, ref, topic, event, payload]`.
//!
//! Refs are opaque JSON values echoed back exactly as they came (phoenix.js compares with
//! `===`, so `"5"` must not come back as `5`). Server-to-client payloads are always objects.

use bytestring::ByteString;
use serde_json::{Map, Value};

/// A frame from a client.
#[derive(Clone, Debug, PartialEq)]
pub struct Inbound {
    pub join_ref: Value,
    pub reference: Value,
    pub topic: String,
    pub event: String,
    pub payload: Value,
}

/// Why a text frame is not a Phoenix V2 frame.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("a frame is a JSON array [join_ref, ref, topic, event, payload]")]
    NotAFrame,
    #[error("topic and event must be strings")]
    BadTopicOrEvent,
}

impl Inbound {
    /// Parses one text frame. Elements past the fifth are ignored, as Phoenix does.
    pub fn decode(text: &str) -> Result<Self, DecodeError> {
        let value: Value =
            serde_json::from_str(text).map_err(|e| DecodeError::NotJson(e.to_string()))?;
        let Value::Array(mut items) = value else {
            return Err(DecodeError::NotAFrame);
        };
        if items.len() < 5 {
            return Err(DecodeError::NotAFrame);
        }
        items.truncate(5);
        let payload = items.pop().unwrap_or(Value::Null);
        let event = items.pop().unwrap_or(Value::Null);
        let topic = items.pop().unwrap_or(Value::Null);
        let reference = items.pop().unwrap_or(Value::Null);
        let join_ref = items.pop().unwrap_or(Value::Null);
        let (Value::String(topic), Value::String(event)) = (topic, event) else {
            return Err(DecodeError::BadTopicOrEvent);
        };
        Ok(Self {
            join_ref,
            reference,
            topic,
            event,
            payload,
        })
    }
}

/// A frame ready to write. Cloning shares the bytes, so one broadcast is serialized once
/// and handed to every socket (and to the WebSocket writer) without copying.
pub type Encoded = ByteString;

/// Serializes `[join_ref, ref, topic, event, payload]`; a non-object payload becomes `{}`.
pub fn encode(
    join_ref: &Value,
    reference: &Value,
    topic: &str,
    event: &str,
    payload: &Value,
) -> Encoded {
    let empty = Value::Object(Map::new());
    let payload = if payload.is_object() { payload } else { &empty };
    let text = serde_json::to_string(&(join_ref, reference, topic, event, payload))
        .unwrap_or_else(|_| "[null,null,\"phoenix\",\"phx_error\",{}]".to_owned());
    ByteString::from(text)
}

/// `phx_reply` to a request: `{"status": status, "response": response}`.
pub fn reply(
    join_ref: &Value,
    reference: &Value,
    topic: &str,
    status: &str,
    response: Value,
) -> Encoded {
    let payload = serde_json::json!({ "status": status, "response": object(response) });
    encode(join_ref, reference, topic, "phx_reply", &payload)
}

/// A push to one channel: `[join_ref, null, topic, event, payload]`.
pub fn push(join_ref: &Value, topic: &str, event: &str, payload: &Value) -> Encoded {
    encode(join_ref, &Value::Null, topic, event, payload)
}

/// A broadcast: `[null, null, topic, event, payload]`.
pub fn broadcast(topic: &str, event: &str, payload: &Value) -> Encoded {
    encode(&Value::Null, &Value::Null, topic, event, payload)
}

/// A frame whose payload is already serialized (`payload_json` must be a JSON object):
/// for large payloads such as presence state, built once from pre-serialized parts.
pub fn encode_raw(join_ref: &Value, topic: &str, event: &str, payload_json: &str) -> Encoded {
    let head = serde_json::to_string(&(join_ref, Value::Null, topic, event))
        .unwrap_or_else(|_| "[null,null,\"phoenix\",\"phx_error\"]".to_owned());
    // `head` is `[...]`: reopen it to append the payload as the fifth element.
    let mut text = String::with_capacity(head.len() + payload_json.len() + 1);
    text.push_str(&head[..head.len() - 1]);
    text.push(',');
    text.push_str(payload_json);
    text.push(']');
    ByteString::from(text)
}

fn object(v: Value) -> Value {
    if v.is_object() {
        v
    } else {
        Value::Object(Map::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_the_captured_join() {
        let f = Inbound::decode(r#"["4","4","video:42","phx_join",{"since":0}]"#).expect("valid");
        assert_eq!(f.join_ref, json!("4"));
        assert_eq!(f.reference, json!("4"));
        assert_eq!(
            (f.topic.as_str(), f.event.as_str()),
            ("video:42", "phx_join")
        );
        assert_eq!(f.payload, json!({"since": 0}));
    }

    #[test]
    fn a_raw_payload_is_spliced_in_as_the_fifth_element() {
        let f = encode_raw(
            &json!("3"),
            "video:1",
            "presence_state",
            r#"{"u":{"metas":[]}}"#,
        );
        let v: Value = serde_json::from_str(&f).expect("json");
        assert_eq!(
            v,
            json!(["3", null, "video:1", "presence_state", {"u": {"metas": []}}])
        );
    }

    #[test]
    fn refs_are_echoed_with_their_json_type() {
        let f = Inbound::decode(r#"[null,16,"phoenix","heartbeat",{}]"#).expect("valid");
        let out = reply(&Value::Null, &f.reference, &f.topic, "ok", json!({}));
        assert_eq!(
            &*out,
            r#"[null,16,"phoenix","phx_reply",{"response":{},"status":"ok"}]"#
        );
        let f = Inbound::decode(r#"[null,"16","phoenix","heartbeat",{}]"#).expect("valid");
        let out = reply(&Value::Null, &f.reference, &f.topic, "ok", json!({}));
        assert!(
            out.starts_with(r#"[null,"16","phoenix","phx_reply""#),
            "{out}"
        );
    }

    #[test]
    fn extra_elements_are_ignored_and_short_frames_rejected() {
        assert!(Inbound::decode(r#"["1","2","t","e",{},"extra"]"#).is_ok());
        assert_eq!(
            Inbound::decode(r#"["1","2","t","e"]"#),
            Err(DecodeError::NotAFrame)
        );
        assert_eq!(
            Inbound::decode(r#"{"topic":"t"}"#),
            Err(DecodeError::NotAFrame)
        );
        assert_eq!(
            Inbound::decode(r#"["1","2",3,"e",{}]"#),
            Err(DecodeError::BadTopicOrEvent)
        );
        assert!(matches!(
            Inbound::decode("[1,2"),
            Err(DecodeError::NotJson(_))
        ));
    }

    #[test]
    fn server_frames_have_the_documented_shapes() {
        assert_eq!(
            &*push(&json!("4"), "video:1", "presence_state", &json!({})),
            r#"["4",null,"video:1","presence_state",{}]"#
        );
        assert_eq!(
            &*broadcast("video:1", "new_comment", &Value::Null),
            r#"[null,null,"video:1","new_comment",{}]"#
        );
        let r = reply(
            &json!("4"),
            &json!("9"),
            "video:1",
            "error",
            json!(["not", "an", "object"]),
        );
        assert_eq!(
            &*r,
            r#"["4","9","video:1","phx_reply",{"response":{},"status":"error"}]"#
        );
    }
}
