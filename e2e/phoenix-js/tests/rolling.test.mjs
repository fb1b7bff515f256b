// Two nodes behind nginx (deploy/nginx/realtime-server.conf), restarted one after the
// other while comments keep coming: a phoenix.js client reconnects through the balancer,
// rejoins with `since`, and misses nothing.
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { startServer, startBalancer, register, connect, eventually, uniqueVideo } from "./support.mjs";

test("a rolling restart through nginx loses no comment for a client that rejoins with since", async () => {
  const redis = process.env.RTS_E2E_REDIS_URL;
  if (!redis) throw new Error("run through `cargo xtask test` (RTS_E2E_REDIS_URL is not set)");
  const settings = (id) => ({ RTS_REDIS_URL: redis, RTS_NODE_ID: id, RTS_TRUSTED_PROXIES: "127.0.0.1" });
  const nodes = [];
  let lb;
  let socket;
  let poster;
  let posting = true;
  try {
    nodes.push(await startServer(settings("e2e-1")));
    nodes.push(await startServer(settings("e2e-2")));
    lb = await startBalancer(nodes);
    const reader = await register(lb, "reader");
    const writer = await register(lb, "writer");
    const video = uniqueVideo("rolling");
    const seen = new Set();
    let last = null;
    const note = (comment) => {
      seen.add(comment.id);
      last = comment.id;
    };
    socket = connect(lb, reader, { reconnectAfterMs: () => 200, rejoinAfterMs: () => 200 });
    // The join params are a function: every rejoin asks for what came after the last seen.
    const channel = socket.channel(`video:${video}`, () => (last ? { since: last } : {}));
    channel.on("new_comment", ({ comment }) => note(comment));
    let joins = 0;
    // phoenix.js rejoins with the same push, so every (re)join's reply lands here.
    channel.join().receive("ok", ({ comments }) => {
      joins += 1;
      comments.forEach(note);
    });
    const acknowledged = [];
    poster = (async () => {
      for (let i = 0; posting; i += 1) {
        const body = JSON.stringify({ content: `comment ${i}`, client_id: `rolling-${i}` });
        for (;;) {
          try {
            const res = await fetch(`${lb.base}/api/videos/${video}/comments`, {
              method: "POST",
              headers: { "content-type": "application/json", authorization: `Bearer ${writer.token}` },
              body,
            });
            if (res.status === 201 || res.status === 200) {
              acknowledged.push((await res.json()).id);
              break;
            }
          } catch {
            // The balancer or a node is between states: the same client_id again.
          }
          if (!posting) return;
          await sleep(50);
        }
        await sleep(40);
      }
    })();
    await eventually(() => joins > 0, 10000, "the first join");
    await sleep(500);
    for (const n of nodes) {
      await n.restart(); // SIGTERM: sockets closed with 1012, then the node starts again
      await sleep(1500);
    }
    await sleep(500);
    posting = false;
    await poster;
    await eventually(() => joins >= 2, 10000, "a rejoin after the client's node went down");
    await eventually(
      () => acknowledged.length > 20 && acknowledged.every((id) => seen.has(id)),
      15000,
      `all ${acknowledged.length} acknowledged comments (missing ${acknowledged.filter((id) => !seen.has(id)).length})`,
    );
  } finally {
    posting = false;
    socket?.disconnect();
    await poster?.catch(() => {});
    await lb?.stop();
    for (const n of nodes) await n.stop();
  }
});
