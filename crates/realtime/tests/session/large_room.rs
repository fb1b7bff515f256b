//! The session: `room_stats` everywhere, and a large room (a low threshold here): counts
//! instead of members, reactions counted per window, comments within a budget.

use super::*;

/// Threshold 4: a room of 4 is large, and small again at 3 (below 80%: 3.2).
fn large_at_4() -> RealtimeConfig {
    RealtimeConfig {
        large_room_members: 4,
        room_tick: Duration::from_millis(250),
        room_comments_per_second: 2.0,
        ..config()
    }
}

/// Lets a window or more go by (paused time: instant).
async fn windows(n: u32) {
    tokio::time::sleep(Duration::from_millis(260) * n).await;
}

fn events<'a>(frames: &'a [Value], event: &str) -> Vec<&'a Value> {
    frames.iter().filter(|f| f[3] == event).collect()
}

/// The newest `room_stats` payload among `frames`.
fn last_stats(frames: &[Value]) -> Value {
    events(frames, "room_stats")
        .last()
        .map(|f| f[4].clone())
        .unwrap_or_else(|| panic!("no room_stats in {frames:?}"))
}

async fn crowd(h: &Harness, n: usize) -> Vec<Client> {
    let mut clients = Vec::new();
    for i in 0..n {
        clients.push(h.joined(&format!("viewer{i}")).await);
    }
    windows(2).await;
    clients
}

#[tokio::test(start_paused = true)]
async fn a_joiner_gets_room_stats_of_a_small_room_with_itself_counted() {
    let h = Harness::new(config());
    let _ann = h.joined("ann").await;
    let mut bob = h.open(&h.user("bob"));
    let out = bob.send_all(json!(["1", "1", TOPIC, "phx_join", {}])).await;
    let names: Vec<&Value> = out.iter().map(|f| &f[3]).collect();
    assert_eq!(names, ["phx_reply", "room_stats", "presence_state"]);
    assert_eq!(out[1][0], "1", "pushed to the joined channel");
    assert_eq!(
        out[1][4],
        json!({"viewers": 2, "connections": 2, "mode": "small",
               "posted_per_second": 0.0, "shown_per_second": 0.0})
    );
}

#[tokio::test(start_paused = true)]
async fn a_room_turns_large_at_the_threshold_and_small_again_below_80_percent() {
    let h = Harness::new(large_at_4());
    let mut clients = crowd(&h, 3).await;
    let before = clients[0].drain_all();
    assert_eq!(last_stats(&before)["mode"], "small");
    assert_eq!(last_stats(&before)["viewers"], 3);

    // The joiner that brings the room to the threshold is told "large" in its own join.
    let mut fourth = h.open(&h.user("viewer3"));
    let out = fourth
        .send_all(json!(["1", "1", TOPIC, "phx_join", {}]))
        .await;
    assert_eq!(out[1][4]["mode"], "large", "{out:?}");
    assert_eq!(keys(&out[2][4]), BTreeSet::from([fourth.key()]));
    windows(2).await;
    for c in &mut clients {
        let got = c.drain_all();
        let stats = last_stats(&got);
        assert_eq!(stats["mode"], "large", "{got:?}");
        assert_eq!(stats["viewers"], 4);
        // phoenix.js's Presence is left with the user alone.
        let states = events(&got, "presence_state");
        let own = states.last().map(|f| keys(&f[4])).unwrap_or_default();
        assert_eq!(own, BTreeSet::from([c.key()]), "{got:?}");
    }
    clients.push(fourth);
    // A joiner of a large room gets itself only.
    let mut late = h.open(&h.user("late"));
    let out = late
        .send_all(json!(["1", "1", TOPIC, "phx_join", {}]))
        .await;
    assert_eq!(out[1][4]["mode"], "large");
    assert_eq!(keys(&out[2][4]), BTreeSet::from([late.key()]));
    windows(2).await;
    for c in &mut clients {
        assert!(
            events(&c.drain_all(), "presence_diff").is_empty(),
            "no diffs"
        );
    }

    // 5 -> 3: below 80% of 4, small again, and presence whole again.
    drop(late);
    drop(clients.pop());
    windows(2).await;
    for c in &mut clients {
        let got = c.drain_all();
        assert_eq!(last_stats(&got)["mode"], "small", "{got:?}");
        assert_eq!(last_stats(&got)["viewers"], 3);
        let states = events(&got, "presence_state");
        let all = states.last().map(|f| keys(&f[4])).unwrap_or_default();
        assert_eq!(all.len(), 3, "{got:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_large_room_counts_reactions_once_a_window_and_relays_none() {
    let h = Harness::new(large_at_4());
    let mut clients = crowd(&h, 4).await;
    for c in &mut clients {
        c.drain_all();
    }
    for (i, c) in clients.iter_mut().enumerate() {
        for n in 0..5 {
            let emoji = if n % 2 == 0 { "🔥" } else { "👍" };
            let out = c
                .send(json!(["1", format!("r{i}{n}"), TOPIC, "reaction", { "emoji": emoji }]))
                .await;
            assert_eq!(out[0][4]["status"], "ok", "{out:?}");
        }
    }
    windows(1).await;
    for c in &mut clients {
        let got = c.drain_all();
        assert!(events(&got, "reaction").is_empty(), "none relayed: {got:?}");
        let windows = events(&got, "reactions");
        assert_eq!(windows.len(), 1, "one frame a window: {got:?}");
        assert_eq!(
            windows[0][4],
            json!({"counts": {"🔥": 12, "👍": 8}, "window_ms": 250})
        );
    }
    windows(2).await;
    assert!(
        events(&clients[0].drain_all(), "reactions").is_empty(),
        "none without reactions"
    );
}

#[tokio::test(start_paused = true)]
async fn comments_past_a_large_rooms_budget_reach_only_their_author_and_moderators() {
    let h = Harness::new(large_at_4());
    let mut clients = crowd(&h, 3).await;
    let mut moderator = h.open(&h.user_with(
        "mod",
        UserId::generate(),
        DeviceRowId::generate(),
        Role::Moderator,
    ));
    moderator.join(TOPIC, "1").await;
    windows(2).await;
    assert_eq!(last_stats(&moderator.drain_all())["mode"], "large");
    for c in &mut clients {
        c.drain_all();
    }
    let mut author = clients.remove(0);
    for i in 0..10 {
        let out = post(&mut author, &format!("p{i}"), &format!("comment {i}")).await;
        assert_eq!(
            out[0][4]["status"], "ok",
            "every comment is answered: {out:?}"
        );
    }
    windows(1).await;
    assert_eq!(h.store.count("v1"), 10, "every comment is stored");
    let viewer_saw = clients[0].drain_all();
    let shown = events(&viewer_saw, "new_comment").len();
    assert!(
        (1..=3).contains(&shown),
        "a viewer sees the budget's worth: {shown}"
    );
    let mod_saw = moderator.drain_all();
    assert_eq!(
        events(&mod_saw, "new_comment").len(),
        10,
        "the moderator sees all"
    );
    let held: Vec<_> = events(&mod_saw, "new_comment")
        .into_iter()
        .filter(|f| f[4]["held"] == true)
        .collect();
    assert_eq!(held.len(), 10 - shown);
    let own = author.drain_all();
    assert_eq!(
        events(&own, "new_comment").len(),
        10,
        "the author sees its own"
    );

    // room_stats says how many were posted and shown, a second.
    windows(3).await;
    let other = clients[1].drain_all();
    assert_eq!(events(&other, "new_comment").len(), shown);
    let stats = last_stats(&other);
    assert_eq!(stats["posted_per_second"], 10.0, "{stats}");
    assert_eq!(stats["shown_per_second"], shown as f64, "{stats}");

    // A moderator's comment always goes out.
    for i in 0..5 {
        post(&mut moderator, &format!("m{i}"), "from the moderator").await;
    }
    windows(1).await;
    assert_eq!(events(&clients[1].drain_all(), "new_comment").len(), 5);
}

#[tokio::test(start_paused = true)]
async fn a_join_with_since_into_a_large_room_gets_the_latest_and_says_sampled() {
    let h = Harness::new(RealtimeConfig {
        join_history: 2,
        ..large_at_4()
    });
    let author = UserId::generate();
    let first = h.store.seed("v1", author, "c0");
    for i in 1..6 {
        h.store.seed("v1", author, &format!("c{i}"));
    }
    let _clients = crowd(&h, 4).await;
    let mut c = h.open(&h.user("rejoiner"));
    let out = c
        .join_with(TOPIC, "1", json!({ "since": first.id.to_string() }))
        .await;
    let response = &out[0][4]["response"];
    assert_eq!(response["sampled"], true, "{out:?}");
    assert_eq!(response["comments"].as_array().map(Vec::len), Some(2));
    assert_eq!(response["position"], 6);
}

/// A node whose writes to a large room would pass `room_writes_per_second` writes its
/// sockets there every other tick (4 sockets, 8 writes a second, 250 ms ticks: 500 ms
/// windows), each time with everything since the last: no reaction is lost or counted
/// twice, and `window_ms` says how long the window was.
#[tokio::test(start_paused = true)]
async fn a_node_past_its_writes_a_second_stretches_its_windows() {
    let h = Harness::new(RealtimeConfig {
        room_writes_per_second: 8,
        ..large_at_4()
    });
    let mut clients = crowd(&h, 4).await;
    windows(2).await;
    for c in &mut clients {
        c.drain_all();
    }
    let (mut written, mut counted) = (0, 0);
    let steps = 8;
    for step in 0..steps {
        let out = clients[0]
            .send(json!(["1", format!("r{step}"), TOPIC, "reaction", { "emoji": "🔥" }]))
            .await;
        assert_eq!(out[0][4]["status"], "ok", "{out:?}");
        windows(1).await;
        let got = clients[1].drain_all();
        if !got.is_empty() {
            written += 1;
        }
        for frame in events(&got, "reactions") {
            assert_eq!(frame[4]["window_ms"], 500, "{got:?}");
            counted += frame[4]["counts"]["🔥"].as_u64().unwrap_or(0);
        }
    }
    // 8 steps of 260 ms hold 8 or 9 ticks: every other one writes.
    assert!(
        (4..=5).contains(&written),
        "written in {written} of {steps} steps"
    );
    windows(2).await;
    for frame in events(&clients[1].drain_all(), "reactions") {
        counted += frame[4]["counts"]["🔥"].as_u64().unwrap_or(0);
    }
    assert_eq!(counted, steps, "every reaction counted once");
}
