// A server restart: the page says "reconnecting", comes back by itself, and shows the comments
// posted while it was away (the rejoin's `after`), each once.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  byTestId, commentItem, commentTexts, openPage, openRoom, postComment, register,
  serverAndBrowser, signedInPages, signIn, uniqueVideo, waitForState,
} from "./support.mjs";

let server;
let browser;
serverAndBrowser((s, b) => {
  server = s;
  browser = b;
});

test("after a server restart the page reconnects and shows the comments posted meanwhile, once", async () => {
  const video = uniqueVideo("restart");
  const ann = await register(server, "ann");
  const ben = await register(server, "ben");
  const [a, b] = await signedInPages(browser, server, ann, ben);
  await openRoom(a.page, video);
  await openRoom(b.page, video);
  await postComment(server, ann, video, "before the restart");
  await commentItem(a.page, "before the restart").waitFor();
  await commentItem(b.page, "before the restart").waitFor();

  await server.stop();
  await waitForState(a.page, "reconnecting");
  await waitForState(b.page, "reconnecting");
  assert.equal(await byTestId(a.page, "connection-status").textContent(), "Reconnecting…");

  // Ann's browser goes offline too, so her page stays away while Ben posts: the comments can
  // only reach her through the rejoin's `after`, not as live broadcasts.
  await a.context.setOffline(true);
  await server.start();
  await waitForState(b.page, "live", 20000);
  await postComment(server, ben, video, "posted over REST while Ann was away");
  await b.page.getByLabel("Your comment").fill("posted in the page while Ann was away");
  await b.page.getByRole("button", { name: "Post" }).click();
  await commentItem(b.page, "posted in the page while Ann was away").waitFor();
  await commentItem(b.page, "posted over REST while Ann was away").waitFor();
  assert.equal(await byTestId(a.page, "connection-status").getAttribute("data-state"), "reconnecting");
  assert.deepEqual(await commentTexts(a.page), ["before the restart"]);

  await a.context.setOffline(false);
  await waitForState(a.page, "live", 20000);
  await commentItem(a.page, "posted in the page while Ann was away").waitFor();
  const expected = [
    "before the restart",
    "posted over REST while Ann was away",
    "posted in the page while Ann was away",
  ];
  assert.deepEqual(await commentTexts(a.page), expected);

  // Live again: a new comment arrives once, and presence is whole.
  await postComment(server, ben, video, "after Ann is back");
  await commentItem(a.page, "after Ann is back").waitFor();
  assert.deepEqual(await commentTexts(a.page), [...expected, "after Ann is back"]);
  await a.page.waitForFunction(() => document.querySelectorAll('[data-testid="presence-user"]').length === 2);

  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context.close();
  await b.context.close();
});

test("after a restart with nothing missed, the page is live again and can post", async () => {
  const video = uniqueVideo("late");
  const cy = await register(server, "cy");
  const { context, page, problems } = await openPage(browser, server);
  await signIn(page, cy);
  await openRoom(page, video);
  await server.stop();
  await waitForState(page, "reconnecting");
  await server.start();
  await waitForState(page, "live", 20000);
  await page.getByLabel("Your comment").fill("still here");
  await page.getByRole("button", { name: "Post" }).click();
  await commentItem(page, "still here").waitFor();
  assert.deepEqual(problems, []);
  await context.close();
});

test("more missed comments than one rejoin answers: the page joins again until it has them all", async () => {
  const video = uniqueVideo("many");
  const dot = await register(server, "dot");
  const eve = await register(server, "eve");
  const { context, page, problems } = await openPage(browser, server);
  await signIn(page, dot);
  await openRoom(page, video);
  await postComment(server, dot, video, "seen before");
  await commentItem(page, "seen before").waitFor();

  await server.stop();
  await waitForState(page, "reconnecting");
  await context.setOffline(true);
  await server.start();
  // A rejoin answers at most 500 comments (docs/realtime.md), with "complete": false.
  const missed = 540;
  for (let i = 0; i < missed; i += 20) {
    await Promise.all(Array.from({ length: Math.min(20, missed - i) }, (_, j) =>
      postComment(server, eve, video, `missed ${String(i + j).padStart(3, "0")}`)));
  }
  const joins = []; // the `after` (a position) of each join sent from now on
  page.on("websocket", (ws) => ws.on("framesent", ({ payload }) => {
    const [, , topic, event, params] = JSON.parse(payload);
    if (topic === `video:${video}` && event === "phx_join") joins.push(params.after);
  }));
  await context.setOffline(false);
  await waitForState(page, "live", 20000);
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid="comment"]').length === n, missed + 1, { timeout: 20000 });
  assert.ok(joins.length >= 2, `a rejoin, then a join from the last comment it gave: ${JSON.stringify(joins)}`);
  assert.equal(joins[0], 1, "the rejoin asks for what came after the one comment it had");
  assert.equal(joins.at(-1), 501, "then from the last comment the first answer gave");
  const texts = await commentTexts(page);
  assert.equal(texts[0], "seen before");
  assert.equal(new Set(texts).size, texts.length, "no comment twice");
  assert.deepEqual(texts.slice(1).sort(), Array.from({ length: missed }, (_, i) => `missed ${String(i).padStart(3, "0")}`));
  assert.deepEqual(problems, []);
  await context.close();
});
