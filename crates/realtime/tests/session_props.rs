//! Property tests of the session state machine: random sequences of frames (valid,
//! malformed, stale refs, joins and leaves, floods) from several sockets. Whatever comes
//! in: no panic, never two replies to one request, every queue within its bound, and the
//! presence a newcomer sees matches the sockets that remain joined.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "session/fakes.rs"]
#[allow(dead_code)]
mod fakes;
#[path = "session/harness.rs"]
#[allow(dead_code)]
mod harness;

use std::collections::BTreeMap;

use domain::{DeviceRowId, Role, UserId};
use harness::{Client, Harness, PresenceView, config, settle};
use proptest::prelude::*;
use realtime::RealtimeConfig;
use serde_json::{Value, json};

const TOPICS: [&str; 3] = ["video:v1", "video:v2", "video:bad id!"];
const SOCKETS: usize = 3;

/// One thing a socket sends, or its connection ending.
#[derive(Clone, Debug)]
enum Op {
    Join {
        topic: usize,
        join_ref: u8,
        since: Option<String>,
    },
    Leave {
        topic: usize,
        join_ref: Option<u8>,
    },
    Comment {
        topic: usize,
        join_ref: u8,
        content: String,
        client_id: Option<u8>,
    },
    Reaction {
        topic: usize,
        join_ref: Option<u8>,
        emoji: String,
    },
    Heartbeat,
    /// Any text at all.
    Text(String),
    /// A well-formed frame with odd parts.
    Odd {
        topic: String,
        event: String,
        payload: Value,
    },
    /// The connection ends (and a new one opens in its place).
    Reconnect,
}

fn json_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::from),
        Just(json!({})),
        Just(json!([1, "x"])),
        Just(json!({"since": 5})),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let topic = 0..TOPICS.len();
    prop_oneof![
        4 => (topic.clone(), 0..4u8, proptest::option::of(prop_oneof![
            Just("not-an-id".to_owned()),
            Just("00000000-0000-7000-8000-000000000000".to_owned()),
        ]))
            .prop_map(|(topic, join_ref, since)| Op::Join { topic, join_ref, since }),
        2 => (topic.clone(), proptest::option::of(0..4u8))
            .prop_map(|(topic, join_ref)| Op::Leave { topic, join_ref }),
        3 => (topic.clone(), 0..4u8, prop_oneof![".{0,40}", Just(String::new()), Just("x".repeat(3000))], proptest::option::of(0..3u8))
            .prop_map(|(topic, join_ref, content, client_id)| Op::Comment { topic, join_ref, content, client_id }),
        2 => (topic.clone(), proptest::option::of(0..4u8), ".{0,40}")
            .prop_map(|(topic, join_ref, emoji)| Op::Reaction { topic, join_ref, emoji }),
        1 => Just(Op::Heartbeat),
        1 => ".{0,60}".prop_map(Op::Text),
        1 => ("[a-z:]{0,12}", "[a-z_]{0,12}", json_value())
            .prop_map(|(topic, event, payload)| Op::Odd { topic, event, payload }),
        1 => Just(Op::Reconnect),
    ]
}

/// What one socket has joined, as the replies it received say.
#[derive(Default)]
struct Seen {
    /// topic -> join_ref of the live channel.
    joined: BTreeMap<String, String>,
}

struct World {
    h: Harness,
    clients: Vec<Option<Client>>,
    seen: Vec<Seen>,
    users: Vec<(String, UserId)>,
    next_ref: u64,
}

impl World {
    fn new() -> Self {
        let h = Harness::new(RealtimeConfig {
            outbox_capacity: 64,
            joins_per_second: 1000.0,
            join_burst: 1000.0,
            ..config()
        });
        // Sockets 0 and 1 are one user on two devices; socket 2 another user.
        let ann = UserId::generate();
        let bob = UserId::generate();
        let users = vec![
            ("ann".to_owned(), ann),
            ("ann".to_owned(), ann),
            ("bob".to_owned(), bob),
        ];
        let mut world = Self {
            h,
            clients: Vec::new(),
            seen: Vec::new(),
            users,
            next_ref: 100,
        };
        for i in 0..SOCKETS {
            let client = world.open(i);
            world.clients.push(Some(client));
            world.seen.push(Seen::default());
        }
        world
    }

    fn open(&self, i: usize) -> Client {
        let (name, id) = &self.users[i];
        self.h.open(
            &self
                .h
                .user_with(name, *id, DeviceRowId::generate(), Role::User),
        )
    }

    fn text(&mut self, op: &Op) -> Option<(String, Value)> {
        self.next_ref += 1;
        let reference = json!(self.next_ref.to_string());
        let jr = |r: Option<u8>| r.map_or(Value::Null, |r| json!(r.to_string()));
        let frame = match op {
            Op::Join {
                topic,
                join_ref,
                since,
            } => {
                let params = since.as_ref().map_or(json!({}), |s| json!({ "since": s }));
                json!([
                    join_ref.to_string(),
                    reference,
                    TOPICS[*topic],
                    "phx_join",
                    params
                ])
            }
            Op::Leave { topic, join_ref } => {
                json!([jr(*join_ref), reference, TOPICS[*topic], "phx_leave", {}])
            }
            Op::Comment {
                topic,
                join_ref,
                content,
                client_id,
            } => {
                let mut payload = json!({ "content": content });
                if let Some(id) = client_id {
                    payload["client_id"] = json!(format!("c{id}"));
                }
                json!([
                    join_ref.to_string(),
                    reference,
                    TOPICS[*topic],
                    "new_comment",
                    payload
                ])
            }
            Op::Reaction {
                topic,
                join_ref,
                emoji,
            } => {
                json!([jr(*join_ref), reference, TOPICS[*topic], "reaction", { "emoji": emoji }])
            }
            Op::Heartbeat => json!([null, reference, "phoenix", "heartbeat", {}]),
            Op::Text(text) => return Some((text.clone(), Value::Null)),
            Op::Odd {
                topic,
                event,
                payload,
            } => json!([null, reference, topic, event, payload]),
            Op::Reconnect => return None,
        };
        Some((frame.to_string(), reference))
    }

    async fn step(&mut self, i: usize, op: &Op) {
        let Some((text, reference)) = self.text(op) else {
            self.clients[i] = None;
            self.seen[i] = Seen::default();
            self.clients[i] = Some(self.open(i));
            return;
        };
        let client = self.clients[i].as_mut().unwrap();
        let out = match client.send_text(&text).await {
            Ok(out) => out,
            Err(fatal) => {
                assert!([1007, 1009].contains(&fatal.code), "{fatal:?} for {text}");
                self.clients[i] = None;
                self.seen[i] = Seen::default();
                self.clients[i] = Some(self.open(i));
                return;
            }
        };
        let replies: Vec<&Value> = out
            .iter()
            .filter(|f| f[3] == "phx_reply" && !reference.is_null() && f[1] == reference)
            .collect();
        assert!(replies.len() <= 1, "two replies to one request: {out:?}");
        // A rejoin's phx_close (for the replaced channel) follows the new join's reply;
        // apply closes first so a rejoin with the same join_ref stays joined.
        let mut ordered: Vec<&Value> = out.iter().filter(|f| f[3] == "phx_close").collect();
        ordered.extend(out.iter().filter(|f| f[3] != "phx_close"));
        for frame in ordered {
            assert!(frame.as_array().is_some_and(|a| a.len() == 5), "{frame}");
            assert!(frame[4].is_object(), "{frame}");
            let topic = frame[2].as_str().unwrap_or_default().to_owned();
            let ok = frame[4]["status"] == "ok";
            let event = frame[3].as_str();
            if event == Some("phx_reply") && ok && matches!(op, Op::Join { .. }) {
                let join_ref = frame[0].as_str().unwrap().to_owned();
                self.seen[i].joined.insert(topic, join_ref);
            } else if (event == Some("phx_reply") && ok && matches!(op, Op::Leave { .. }))
                || event == Some("phx_close")
            {
                // Only the channel instance the frame names is gone.
                if self.seen[i].joined.get(&topic).map(String::as_str) == frame[0].as_str() {
                    self.seen[i].joined.remove(&topic);
                }
            }
        }
        // The queue never holds more than its bound.
        let queued = client.drain().len();
        assert!(queued <= 64, "{queued} frames queued");
    }

    /// What a newcomer to `topic` is shown, against the sockets joined to it.
    async fn check_presence(&mut self) {
        settle().await;
        for topic in &TOPICS[..2] {
            let mut expected: BTreeMap<String, usize> = BTreeMap::new();
            for (i, seen) in self.seen.iter().enumerate() {
                if self.clients[i].is_some() && seen.joined.contains_key(*topic) {
                    *expected.entry(self.users[i].1.to_string()).or_default() += 1;
                }
            }
            let mut observer = self.h.open(&self.h.user("zed"));
            let out = observer.join(topic, "1").await;
            let mut view = PresenceView::default();
            view.apply_all(&out);
            let shown: BTreeMap<String, usize> = view
                .state
                .iter()
                .filter(|(key, _)| **key != observer.key())
                .map(|(key, metas)| (key.clone(), metas.len()))
                .collect();
            assert_eq!(shown, expected, "presence of {topic}");
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 200,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_frames_from_any_sockets_keep_the_protocol_and_presence_consistent(
        ops in proptest::collection::vec((0..SOCKETS, op()), 1..60)
    ) {
        runtime().block_on(async {
            let mut world = World::new();
            for (i, op) in &ops {
                world.step(*i, op).await;
            }
            world.check_presence().await;
            // Every socket gone: nobody is left in any room.
            for client in &mut world.clients {
                *client = None;
            }
            world.seen = (0..SOCKETS).map(|_| Seen::default()).collect();
            world.check_presence().await;
            assert_eq!(world.h.rt.open_sockets(), 0);
        });
    }
}
