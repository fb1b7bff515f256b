// Two nodes sharing Redis are one room for the unmodified phoenix client: what is posted on
// one node reaches a client on the other exactly once, and presence reads the same from both.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Presence } from "phoenix";
import { startServer, register, connect, join, push, postComment, eventually, uniqueVideo } from "./support.mjs";

test("a comment posted on node A reaches a phoenix.js client on node B exactly once; presence is one", async () => {
  const redis = process.env.RTS_E2E_REDIS_URL;
  if (!redis) throw new Error("run through `cargo xtask test` (RTS_E2E_REDIS_URL is not set)");
  // Unique node ids: other runs may share this Redis.
  const run = randomBytes(4).toString("hex");
  const settings = (id) => ({ RTS_REDIS_URL: redis, RTS_NODE_ID: `e2e-${id}-${run}` });
  const nodes = [];
  const sockets = [];
  try {
    nodes.push(await startServer(settings("a")));
    nodes.push(await startServer(settings("b")));
    const [a, b] = nodes;
    const ann = await register(a, "ann");
    const bob = await register(b, "bob");
    const topic = `video:${uniqueVideo("nodes")}`;
    const video = topic.slice("video:".length);

    const onA = connect(a, ann);
    const onB = connect(b, bob);
    sockets.push(onA, onB);
    const watch = (socket) => {
      const channel = socket.channel(topic);
      const presence = new Presence(channel);
      const ids = () => presence.list((id) => id).sort();
      const received = new Map();
      channel.on("new_comment", ({ comment }) => received.set(comment.id, (received.get(comment.id) ?? 0) + 1));
      return { channel, ids, received };
    };
    const wa = watch(onA);
    const wb = watch(onB);
    await join(wa.channel);
    await join(wb.channel);

    const both = [ann.user.id, bob.user.id].sort();
    await eventually(() => JSON.stringify(wa.ids()) === JSON.stringify(both), 5000, "both users in A's presence");
    await eventually(() => JSON.stringify(wb.ids()) === JSON.stringify(both), 5000, "both users in B's presence");

    // Over REST on A, and over A's socket.
    const posted = [];
    for (let i = 0; i < 20; i += 1) {
      posted.push((await postComment(a, ann, video, `over REST ${i}`)).id);
    }
    const reply = await push(wa.channel, "new_comment", { content: "over the socket" });
    assert.equal(reply.status, "ok");
    posted.push(reply.response.comment.id);

    await eventually(() => posted.every((id) => wb.received.has(id)), 5000, "every comment on B");
    // Anything sent twice would have arrived by now.
    await sleep(500);
    for (const id of posted) {
      assert.equal(wb.received.get(id), 1, `comment ${id} on B`);
      assert.equal(wa.received.get(id), 1, `comment ${id} on A`);
    }
    assert.equal(wb.received.size, posted.length);

    // Bob leaves node B: A's presence loses him.
    onB.disconnect();
    await eventually(() => JSON.stringify(wa.ids()) === JSON.stringify([ann.user.id]), 5000, "bob gone from A's presence");
  } finally {
    for (const s of sockets) s.disconnect();
    for (const n of nodes) await n.stop();
  }
});
