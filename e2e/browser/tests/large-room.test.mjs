// A large room (docs/realtime.md, "Room stats and large rooms"), with the threshold lowered to
// two viewers: the page shows the count from room_stats with a note in place of the list of
// who is here, a window's counted reactions as bursts, a comment held back from the room
// marked for its author and for the moderators, and a rejoin that skipped comments says so.
// The room turning small again brings the list back.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  SCREENSHOTS, byTestId, commentItem, demoUser, ensureScreenshotDir, login, openPage, openRoom,
  postComment, register, serverAndBrowser, signedInPages, signIn, uniqueVideo,
} from "./support.mjs";

let server;
let browser;
serverAndBrowser((s, b) => {
  server = s;
  browser = b;
}, {
  // Large from two viewers (small again below 80%: one).
  RTS_ROOM_LARGE_MEMBERS: "2",
  RTS_ROOM_TICK_MS: "100",
  // The budget holds one comment, refilled every 2 s: a user's second comment in a row is
  // held back.
  RTS_ROOM_COMMENTS_PER_SECOND: "0.5",
  // 25 reactions pushed at once from one socket (the default burst is 20).
  RTS_WS_PUSH_BURST: "40",
});

const MODE_NOTE = "Large room: only the count of who is here is shown; reactions are counted and some comments are sampled.";

/** What the room's panel shows: the count, its figures, the mode, the note and the list. */
const panel = (page) => page.evaluate(() => {
  const at = (id) => document.querySelector(`[data-testid="${id}"]`);
  const count = at("room-count");
  return {
    count: count.hidden ? null : count.textContent,
    viewers: count.dataset.viewers,
    connections: count.dataset.connections,
    mode: at("room").dataset.mode,
    note: at("room-mode-note").hidden ? null : at("room-mode-note").textContent,
    list: at("presence").hidden ? null : [...at("presence").children].map((li) => li.dataset.username),
  };
});

const waitForMode = (page, mode) =>
  page.waitForFunction((m) => document.querySelector('[data-testid="room"]').dataset.mode === m, mode);

const waitForCount = (page, text) =>
  page.waitForFunction((t) => document.querySelector('[data-testid="room-count"]').textContent === t, text);

/**
 * From inside `page` (its origin, so the page's CSP allows it), a socket of its own for the
 * user of `token`: it joins the room and pushes `emoji` `times` at once, so they fall in one
 * window or two; resolves once every push is answered. The socket stays open (one more
 * connection) until `closeExtraSocket`.
 */
function pushReactions(page, token, video, emoji, times) {
  return page.evaluate(([token, topic, emoji, times]) => new Promise((resolve, reject) => {
    const url = `${location.origin.replace(/^http/, "ws")}/socket/websocket?vsn=2.0.0&token=${encodeURIComponent(token)}`;
    const ws = new WebSocket(url);
    window.extraSocket = ws;
    let answered = 0;
    ws.onerror = () => reject(new Error("the extra socket failed"));
    ws.onopen = () => ws.send(JSON.stringify(["1", "1", topic, "phx_join", {}]));
    ws.onmessage = ({ data }) => {
      const [, ref, , event, payload] = JSON.parse(data);
      if (event !== "phx_reply") return;
      if (payload.status !== "ok") reject(new Error(`refused: ${JSON.stringify(payload)}`));
      else if (ref === "1") {
        for (let i = 0; i < times; i++) ws.send(JSON.stringify(["1", String(i + 2), topic, "reaction", { emoji }]));
      } else if (++answered === times) resolve();
    };
  }), [token, `video:${video}`, emoji, times]);
}

const closeExtraSocket = (page) => page.evaluate(() => window.extraSocket.close());

/** The bursts shown for `emoji`: each one's count, floating emoji and "+N". */
const burstsOf = (page, emoji) =>
  page.locator(`[data-testid="reaction-burst"][data-emoji="${emoji}"]`).evaluateAll((items) => items.map((li) => ({
    count: Number(li.dataset.count),
    floats: li.querySelectorAll(".float").length,
    more: li.querySelector('[data-testid="reaction-more"]')?.textContent ?? null,
  })));

test("a large room: the count and a note, counted reactions in bursts, held comments marked", async () => {
  const video = uniqueVideo("large");
  const ann = await register(server, "ann");
  const ben = await register(server, "ben");
  const bob = await login(server, demoUser("bob")); // the demo moderator
  const [a, b, m] = await signedInPages(browser, server, ann, ben, bob);

  // Alone, the room is small: the count from room_stats, and the list.
  await openRoom(a.page, video);
  await waitForMode(a.page, "small");
  assert.deepEqual(await panel(a.page), {
    count: "1 watching", viewers: "1", connections: "1", mode: "small", note: null, list: [ann.name],
  });

  // A second viewer makes it large: the count stands for the list, with a note.
  await openRoom(b.page, video);
  for (const page of [a.page, b.page]) {
    await waitForMode(page, "large");
    await waitForCount(page, "2 watching");
    assert.deepEqual(await panel(page), {
      count: "2 watching", viewers: "2", connections: "2", mode: "large", note: MODE_NOTE, list: null,
    });
  }
  await openRoom(m.page, video);
  await waitForCount(a.page, "3 watching");
  await waitForMode(m.page, "large");

  // A reaction from the page is counted: everyone, the sender too, gets the window's burst.
  await a.page.getByRole("button", { name: "Heart" }).click();
  for (const page of [a.page, b.page]) {
    await page.locator('[data-testid="reaction-burst"][data-emoji="❤️"]').waitFor();
    assert.deepEqual(await burstsOf(page, "❤️"), [{ count: 1, floats: 1, more: null }]);
  }
  assert.equal(await byTestId(a.page, "reaction").count(), 0, "no single reaction: the burst says it");

  // 25 at once from another socket of Ben's: at most 10 floating emoji a burst, "+N" for the
  // rest (in one window, or two, one of which has more than 10).
  await pushReactions(b.page, ben.token, video, "🎉", 25);
  await a.page.waitForFunction(() => [...document.querySelectorAll('[data-testid="reaction-burst"][data-emoji="🎉"]')]
    .reduce((sum, li) => sum + Number(li.dataset.count), 0) === 25);
  const bursts = await burstsOf(a.page, "🎉");
  for (const { count, floats, more } of bursts) {
    assert.equal(floats, Math.min(count, 10));
    assert.equal(more, count > 10 ? `+${count - 10}` : null);
  }
  assert.ok(bursts.some(({ more }) => more), JSON.stringify(bursts));
  const label = await a.page.locator('[data-testid="reaction-burst"][data-emoji="🎉"] .visually-hidden').first().textContent();
  assert.match(label, /^\d+ × 🎉$/, "screen readers hear the count, not 10 emoji");
  // Ben's second socket is one more connection, not one more viewer.
  await waitForCount(a.page, "3 watching · 4 connections");
  assert.deepEqual(await panel(a.page).then(({ viewers, connections }) => [viewers, connections]), ["3", "4"]);
  ensureScreenshotDir();
  await a.page.screenshot({ path: new URL("room-large.png", SCREENSHOTS).pathname, animations: "disabled" });
  await closeExtraSocket(b.page);
  await waitForCount(a.page, "3 watching");

  // Ben's first comment goes out; his second, right after, is held back: Ben sees it marked
  // as his own only, the moderator as held back, Ann not at all.
  for (const text of ["Ben's first", "Ben's second"]) {
    await b.page.getByLabel("Your comment").fill(text);
    await b.page.getByRole("button", { name: "Post" }).click();
    await commentItem(b.page, text).waitFor();
  }
  await commentItem(a.page, "Ben's first").waitFor();
  const held = (page, text) => commentItem(page, text).locator('[data-testid="comment-held"]');
  await held(b.page, "Ben's second").waitFor();
  assert.equal(await held(b.page, "Ben's second").textContent(), "Only you and moderators see this (the room is busy)");
  assert.equal(await commentItem(b.page, "Ben's second").getAttribute("data-held"), "true");
  assert.equal(await held(b.page, "Ben's first").count(), 0, "a comment shown to the room is not marked");
  await held(m.page, "Ben's second").waitFor();
  assert.equal(await held(m.page, "Ben's second").textContent(), "Held back from the room");
  // A moderator's comment always goes out; had Ben's second been broadcast, it came first.
  await postComment(server, bob, video, "from the moderator");
  await commentItem(a.page, "from the moderator").waitFor();
  assert.equal(await commentItem(a.page, "Ben's second").count(), 0);

  // More posted than shown: the note says how many a second.
  for (const text of ["Ben's third", "Ben's fourth"]) await postComment(server, ben, video, text);
  await held(b.page, "Ben's fourth").waitFor();
  const rate = byTestId(a.page, "room-rate");
  await rate.waitFor();
  assert.match(await rate.textContent(), /^ Showing \d+(\.\d)? of \d+(\.\d)? comments a second\.$/);

  // Down to one viewer, the room is small again: the list is back, the note gone.
  await b.context.close();
  await m.context.close();
  await waitForMode(a.page, "small");
  await waitForCount(a.page, "1 watching");
  await a.page.waitForFunction(() => document.querySelectorAll('[data-testid="presence-user"]').length === 1);
  assert.deepEqual(await panel(a.page), {
    count: "1 watching", viewers: "1", connections: "1", mode: "small", note: null, list: [ann.name],
  });

  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  assert.deepEqual(m.problems, []);
  await a.context.close();
});

test("a rejoin in a large room answers the latest comments: the page says older ones were skipped", async () => {
  const video = uniqueVideo("sampled");
  const cy = await register(server, "cy");
  const dee = await register(server, "dee");
  const eli = await login(server, await register(server, "eli"));
  const a = await openPage(browser, server);
  // Cy's page talks to the server through a route the test can cut, as a network would.
  const routes = [];
  await a.page.routeWebSocket(/\/socket\/websocket/, (ws) => {
    ws.connectToServer();
    routes.push(ws);
  });
  const joins = []; // the join params and the reply of each join Cy's page sends
  a.page.on("websocket", (ws) => {
    ws.on("framesent", ({ payload }) => {
      const [, ref, topic, event, params] = JSON.parse(payload);
      if (topic === `video:${video}` && event === "phx_join") joins.push({ ref, params });
    });
    ws.on("framereceived", ({ payload }) => {
      const [, ref, , event, body] = JSON.parse(payload);
      const join = joins.find((j) => j.ref === ref);
      if (join && event === "phx_reply") join.reply = body.response;
    });
  });
  const b = await openPage(browser, server);
  const c = await openPage(browser, server);
  await signIn(a.page, cy);
  await signIn(b.page, dee);
  await signIn(c.page, eli);
  for (const { page } of [a, b, c]) await openRoom(page, video);
  await waitForMode(a.page, "large");
  await waitForCount(a.page, "3 watching");
  await postComment(server, eli, video, "seen before");
  await commentItem(a.page, "seen before").waitFor();
  assert.equal(await byTestId(a.page, "comments-sampled").isHidden(), true);

  // Cut Cy's socket: phoenix.js reconnects and rejoins with `after`; the room (two others
  // still there) stays large and answers with its latest comments, "sampled".
  await routes.at(-1).close({ code: 1012, reason: "cut by the test" });
  const note = byTestId(a.page, "comments-sampled");
  await note.waitFor();
  assert.equal((await note.textContent()).replace(/\s+/g, " "), "Older comments skipped: the room is busy.");
  const rejoin = joins.at(-1);
  assert.equal(joins.length, 2);
  assert.equal(typeof rejoin.params.after, "number", JSON.stringify(rejoin));
  assert.equal(rejoin.reply?.sampled, true, JSON.stringify(rejoin));
  assert.equal(await byTestId(a.page, "room").getAttribute("data-mode"), "large");
  // The comment seen before is still there, once.
  assert.equal(await commentItem(a.page, "seen before").count(), 1);

  assert.deepEqual(a.problems, []);
  for (const { context } of [a, b, c]) await context.close();
});
