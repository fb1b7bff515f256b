// Joining rooms, live comments and reactions with the unmodified phoenix client.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, register, connect, join, push, postComment, eventually, uniqueVideo } from "./support.mjs";

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

test("join replies with the latest comments, oldest first", async () => {
  const ann = await register(server, "ann");
  const video = uniqueVideo();
  await postComment(server, ann, video, "first");
  await postComment(server, ann, video, "second");
  const socket = connect(server, ann);
  try {
    const reply = await join(socket.channel(`video:${video}`, {}));
    assert.deepEqual(reply.comments.map((c) => c.content), ["first", "second"]);
    assert.equal(reply.comments[0].username, ann.name);
  } finally {
    socket.disconnect();
  }
});

test("a pushed comment is replied to and broadcast to every subscriber, sender included", async () => {
  const [ann, bob] = [await register(server, "ann"), await register(server, "bob")];
  const video = uniqueVideo();
  const [sa, sb] = [connect(server, ann), connect(server, bob)];
  try {
    const [ca, cb] = [sa.channel(`video:${video}`), sb.channel(`video:${video}`)];
    const seen = { a: [], b: [] };
    ca.on("new_comment", (p) => seen.a.push(p.comment.content));
    cb.on("new_comment", (p) => seen.b.push(p.comment.content));
    await join(ca);
    await join(cb);
    const reply = await push(ca, "new_comment", { content: "hello room" });
    assert.equal(reply.status, "ok");
    assert.equal(reply.response.comment.content, "hello room");
    assert.equal(reply.response.comment.user_id, ann.user.id);
    await eventually(() => seen.a.length === 1 && seen.b.length === 1, 5000, "both broadcasts");
    assert.deepEqual(seen, { a: ["hello room"], b: ["hello room"] });

    const invalid = await push(ca, "new_comment", { content: "" });
    assert.equal(invalid.status, "error");
    assert.equal(invalid.response.reason, "validation_failed");
  } finally {
    sa.disconnect();
    sb.disconnect();
  }
});

test("comments posted over REST reach the room", async () => {
  const ann = await register(server, "ann");
  const video = uniqueVideo();
  const socket = connect(server, ann);
  try {
    const channel = socket.channel(`video:${video}`);
    const seen = [];
    channel.on("new_comment", (p) => seen.push(p.comment));
    await join(channel);
    const posted = await postComment(server, ann, video, "from REST");
    await eventually(() => seen.length === 1, 5000, "the broadcast");
    assert.deepEqual(seen[0], posted, "the same object as the REST answer");
  } finally {
    socket.disconnect();
  }
});

test("reactions reach the others only and are never stored", async () => {
  const [ann, bob] = [await register(server, "ann"), await register(server, "bob")];
  const video = uniqueVideo();
  const [sa, sb] = [connect(server, ann), connect(server, bob)];
  try {
    const [ca, cb] = [sa.channel(`video:${video}`), sb.channel(`video:${video}`)];
    const seen = { a: [], b: [] };
    ca.on("reaction", (p) => seen.a.push(p));
    cb.on("reaction", (p) => seen.b.push(p));
    await join(ca);
    await join(cb);
    assert.equal((await push(ca, "reaction", { emoji: "🔥" })).status, "ok");
    await eventually(() => seen.b.length === 1, 5000, "the reaction");
    assert.deepEqual(seen.b[0], { user_id: ann.user.id, emoji: "🔥" });
    assert.equal(seen.a.length, 0);
    const stored = await (await fetch(`${server.base}/api/videos/${video}/comments`)).json();
    assert.equal(stored.comments.length, 0);
  } finally {
    sa.disconnect();
    sb.disconnect();
  }
});

test("an unmatched topic is refused and the client keeps its other channels", async () => {
  const ann = await register(server, "ann");
  const socket = connect(server, ann, { rejoinAfterMs: () => 60000 });
  const refused = socket.channel("nochannel:1");
  try {
    await assert.rejects(join(refused), /unmatched topic/);
    const reply = await join(socket.channel(`video:${uniqueVideo()}`));
    assert.deepEqual(reply.comments, []);
  } finally {
    // A refused channel keeps retrying (as phoenix.js does) until it is left.
    refused.leave();
    socket.disconnect();
  }
});
