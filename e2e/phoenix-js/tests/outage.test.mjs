// Two nodes on a Redis of this test's own, which it stops and starts: comments posted on
// one node while Redis is away reach a phoenix.js client on the other, whose socket stays
// open the whole time. The node sends phx_error when Redis is back, phoenix.js rejoins with
// the documented params (docs/realtime.md, "The recovery rule"), and the replay has them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../../shared/server.mjs";
import { startServer, register, postComment, connect, eventually, uniqueVideo } from "./support.mjs";

/** redis-server on `port`, keeping nothing on disk; `stop()` kills it. */
async function startRedis(port) {
  const child = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdio: "ignore",
  });
  await sleep(300);
  if (child.exitCode !== null) throw new Error("redis-server did not start (is Redis installed?)");
  return {
    stop: () =>
      new Promise((resolve) => {
        child.once("exit", resolve);
        child.kill("SIGKILL");
      }),
  };
}

async function redisCheck(server) {
  const res = await fetch(`${server.base}/readyz`);
  return (await res.json()).checks?.redis ?? "";
}

test("comments posted on another node during a Redis outage reach a socket that stayed open", async () => {
  const port = await freePort();
  let redis = await startRedis(port);
  const settings = (id) => ({
    RTS_REDIS_URL: `redis://127.0.0.1:${port}`,
    RTS_NODE_ID: id,
    RTS_RATE_COMMENTS_PER_USER: "0",
    RTS_RATE_COMMENTS_PER_DEVICE: "0",
  });
  const a = await startServer(settings("outage-a"));
  const b = await startServer(settings("outage-b"));
  let socket;
  try {
    await eventually(async () => (await redisCheck(a)) === "ok" && (await redisCheck(b)) === "ok", 10000, "both nodes on Redis");
    const reader = await register(b, "reader");
    const writer = await register(a, "writer");
    const video = uniqueVideo("outage");

    // The documented client: it stands at `position` and rejoins after it.
    let position = null;
    const early = new Set();
    const stand = (upTo) => {
      position = Math.max(position ?? 0, upTo);
      for (const p of early) if (p <= position) early.delete(p);
      while (early.delete(position + 1)) position += 1;
    };
    const seen = new Set();
    let closes = 0;
    let errors = 0;
    socket = connect(b, reader);
    socket.onClose(() => { closes += 1; });
    const channel = socket.channel(`video:${video}`, () => (position === null ? {} : { after: position }));
    channel.onError(() => { errors += 1; });
    channel.on("new_comment", ({ comment }) => {
      seen.add(comment.id);
      if (position !== null && comment.position > position) { early.add(comment.position); stand(position); }
    });
    channel.join().receive("ok", ({ comments, position: upTo }) => {
      comments.forEach((c) => seen.add(c.id));
      stand(upTo);
    });
    await eventually(() => position !== null, 5000, "joined");

    const posted = [];
    posted.push((await postComment(a, writer, video, "before")).id);
    await eventually(() => seen.has(posted[0]), 5000, "the first comment, live");

    await redis.stop();
    await eventually(async () => (await redisCheck(a)).startsWith("unreachable"), 10000, "node A to lose Redis");
    for (let i = 0; i < 5; i += 1) posted.push((await postComment(a, writer, video, `during ${i}`)).id);
    await sleep(3000);
    redis = await startRedis(port);
    await eventually(async () => (await redisCheck(a)) === "ok" && (await redisCheck(b)) === "ok", 15000, "both nodes back on Redis");
    posted.push((await postComment(a, writer, video, "after")).id);

    await eventually(() => posted.every((id) => seen.has(id)), 15000, "every comment at the reader");
    assert.equal(closes, 0, "the reader's socket stayed open");
    assert.ok(errors >= 1, "its channel was asked to rejoin");
    assert.equal(position, 7, "and it stands at the last position");
  } finally {
    socket?.disconnect();
    await b.stop();
    await a.stop();
    await redis.stop();
  }
});
