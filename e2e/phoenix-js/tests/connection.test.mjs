// Connecting: authToken, refusals, and coming back after the server restarts.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { Socket } from "phoenix";
import WebSocket from "ws";
import { startServer, register, connect, join, push, postComment, eventually, uniqueVideo } from "./support.mjs";

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.stop(); });

test("authToken (the subprotocol) authenticates the socket", async () => {
  const ann = await register(server, "ann");
  const socket = connect(server, ann, { useAuthToken: true });
  try {
    const reply = await join(socket.channel(`video:${uniqueVideo()}`));
    assert.deepEqual(reply.comments, []);
  } finally {
    socket.disconnect();
  }
});

test("a bad token never gets a socket", async () => {
  const errors = [];
  const socket = new Socket(`ws://127.0.0.1:${server.port}/socket`, {
    transport: WebSocket,
    params: { token: "not-a-token" },
    reconnectAfterMs: () => 60000,
  });
  socket.onError((e) => errors.push(e));
  socket.connect();
  try {
    await eventually(() => errors.length > 0, 5000, "the refusal");
    assert.equal(socket.isConnected(), false);
  } finally {
    socket.disconnect();
  }
});

test("after a server restart the client reconnects, rejoins and gets what it missed", async () => {
  const ann = await register(server, "ann");
  const video = uniqueVideo();
  let lastSeen = null;
  const socket = connect(server, ann, { reconnectAfterMs: () => 1500, rejoinAfterMs: () => 200 });
  const joins = [];
  try {
    // The join params are a function, re-read on every rejoin.
    const channel = socket.channel(`video:${video}`, () => (lastSeen ? { since: lastSeen } : {}));
    channel.on("new_comment", (p) => { lastSeen = p.comment.id; });
    channel.onMessage = (event, payload) => {
      if (event === "phx_reply" && payload?.response?.comments) joins.push(payload.response);
      return payload;
    };
    await join(channel);
    const first = await push(channel, "new_comment", { content: "before the restart" });
    assert.equal(first.status, "ok");
    await eventually(() => lastSeen === first.response.comment.id, 5000, "the broadcast");

    await server.stop();
    await eventually(() => !socket.isConnected(), 5000, "the disconnect");
    await server.restart();
    await postComment(server, ann, video, "while the client was away");
    await eventually(() => joins.length >= 2 && channel.state === "joined", 15000, "the rejoin");
    const rejoin = joins.at(-1);
    assert.deepEqual(rejoin.comments.map((c) => c.content), ["while the client was away"]);
    assert.equal(rejoin.complete, true);
    assert.equal((await push(channel, "new_comment", { content: "after" })).status, "ok");
  } finally {
    socket.disconnect();
  }
});
