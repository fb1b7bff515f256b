// A large room for the unmodified phoenix client, over two nodes sharing Redis (the
// threshold lowered to 4 viewers): the count from room_stats on every client, phoenix.js's
// Presence left with the user alone, reactions as one counted frame a window that add up to
// what was sent, comments within the budget with the author's own always back, a rejoin
// that says it is sampled, and the room small again with presence whole.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Presence } from "phoenix";
import { startServer, register, connect, join, push, eventually, uniqueVideo } from "./support.mjs";

test("a large room over two nodes: counts, counted reactions, a comment budget, then small again", async () => {
  const redis = process.env.RTS_E2E_REDIS_URL;
  if (!redis) throw new Error("run through `cargo xtask test` (RTS_E2E_REDIS_URL is not set)");
  const run = randomBytes(4).toString("hex");
  const settings = (id) => ({
    RTS_REDIS_URL: redis,
    RTS_NODE_ID: `e2e-large-${id}-${run}`,
    RTS_ROOM_LARGE_MEMBERS: "4",
    RTS_ROOM_TICK_MS: "100",
    RTS_ROOM_COMMENTS_PER_SECOND: "2",
  });
  const nodes = [];
  const clients = [];
  try {
    nodes.push(await startServer(settings("a")));
    nodes.push(await startServer(settings("b")));
    const topic = `video:${uniqueVideo("large")}`;

    // One client: the count, presence, reactions and comments as an app would keep them.
    const client = async (node, name) => {
      const user = await register(node, name);
      const socket = connect(node, user);
      const channel = socket.channel(topic);
      const presence = new Presence(channel);
      const seen = { stats: null, reactions: {}, comments: [], held: 0, reactionFrames: 0, single: 0 };
      channel.on("room_stats", (stats) => (seen.stats = stats));
      channel.on("reactions", ({ counts }) => {
        seen.reactionFrames += 1;
        for (const [emoji, n] of Object.entries(counts)) seen.reactions[emoji] = (seen.reactions[emoji] ?? 0) + n;
      });
      channel.on("reaction", () => (seen.single += 1));
      channel.on("new_comment", ({ comment, held }) => {
        seen.comments.push(comment.id);
        if (held) seen.held += 1;
      });
      const c = { user, socket, channel, presence, seen, ids: () => presence.list((id) => id).sort() };
      clients.push(c);
      await join(channel);
      return c;
    };
    const [a, b] = nodes;
    const everyone = [await client(a, "ann"), await client(a, "amy"), await client(b, "bob")];
    await eventually(() => everyone.every((c) => c.seen.stats?.mode === "small" && c.seen.stats.viewers === 3), 5000, "a small room of 3");
    everyone.push(await client(b, "ben"));
    await eventually(
      () => everyone.every((c) => c.seen.stats?.mode === "large" && c.seen.stats.viewers === 4),
      5000,
      "every client sees a large room of 4",
    );
    // phoenix.js's Presence lists the user alone in a large room.
    await eventually(() => everyone.every((c) => JSON.stringify(c.ids()) === JSON.stringify([c.user.user.id])), 5000, "presence of oneself");

    // 2 reactions from each of 4 clients: each client's windows add up to 8.
    for (const c of everyone) {
      for (const emoji of ["🔥", "👏"]) assert.equal((await push(c.channel, "reaction", { emoji })).status, "ok");
    }
    await eventually(() => everyone.every((c) => c.seen.reactions["🔥"] === 4 && c.seen.reactions["👏"] === 4), 5000, "reactions counted");
    await sleep(500);
    for (const c of everyone) {
      assert.deepEqual(c.seen.reactions, { "🔥": 4, "👏": 4 }, "none lost, none twice");
      assert.equal(c.seen.single, 0, "no single reaction relayed");
    }

    // 12 comments at once from one author: about the budget's worth reach the others; the
    // author's own all come back, the ones held back marked so.
    const [author, ...others] = everyone;
    const posted = [];
    for (let i = 0; i < 12; i += 1) {
      const reply = await push(author.channel, "new_comment", { content: `burst ${i}` });
      assert.equal(reply.status, "ok", "every comment is answered");
      posted.push(reply.response.comment.id);
    }
    await eventually(() => posted.every((id) => author.seen.comments.includes(id)), 5000, "the author sees its own");
    await sleep(1000);
    assert.ok(author.seen.held > 0, "some were held back");
    for (const c of others) {
      assert.ok(c.seen.comments.length >= 1 && c.seen.comments.length <= 5, `within the budget: ${c.seen.comments.length}`);
      assert.equal(c.seen.held, 0, "a viewer gets no held comment");
    }
    await eventually(() => others[0].seen.stats.posted_per_second >= 1, 3000, "room_stats says comments were posted");

    // A rejoin with `since` says it is sampled rather than replaying what the room never showed.
    const late = await register(a, "late");
    const lateSocket = connect(a, late);
    clients.push({ socket: lateSocket });
    const again = lateSocket.channel(topic, { since: posted[0] });
    const rejoined = await join(again);
    assert.equal(rejoined.sampled, true);

    // Down to 2: small again, and presence whole.
    again.leave();
    for (const c of everyone.splice(2)) c.socket.disconnect();
    await eventually(() => everyone.every((c) => c.seen.stats?.mode === "small" && c.seen.stats.viewers === 2), 5000, "small again");
    const both = [everyone[0].user.user.id, everyone[1].user.user.id].sort();
    await eventually(() => everyone.every((c) => JSON.stringify(c.ids()) === JSON.stringify(both)), 5000, "presence whole again");
  } finally {
    for (const c of clients) c.socket.disconnect();
    for (const n of nodes) await n.stop();
  }
});
