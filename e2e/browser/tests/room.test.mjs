// Two people in one room, each in their own browser context: presence (tabs and devices),
// comments, edits, deletions (asked first) and reactions reach the other page live, and
// leaving the room reaches the others too; how many watch comes from room_stats.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync } from "node:fs";
import {
  SCREENSHOTS, byTestId, commentItem, commentTexts, deleteComment, demoUser, ensureScreenshotDir,
  eventually, login, openPage, openRoom, openTab, postComment, register, rest, serverAndBrowser,
  signedInPages, signIn, uniqueVideo, waitForState,
} from "./support.mjs";

let server;
let browser;
serverAndBrowser((s, b) => {
  server = s;
  browser = b;
});

const presenceNames = (page) =>
  byTestId(page, "presence").locator('[data-testid="presence-user"]').evaluateAll((items) =>
    items.map((li) => `${li.dataset.username}:${li.dataset.count}`).sort());

test("two people in one room see each other, comments, edits, deletions and reactions", async () => {
  const video = uniqueVideo("room");
  // Two demo users (plain users), so the screenshot shows readable names.
  const carol = await login(server, demoUser("carol"));
  const dave = await login(server, demoUser("dave"));
  const [a, b] = await signedInPages(browser, server, carol, dave);
  await openRoom(a.page, video);
  await openRoom(b.page, video);
  await assert.doesNotReject(byTestId(b.page, "comments-empty").waitFor());

  // Presence: each sees both, once.
  const both = [`${carol.name}:1`, `${dave.name}:1`].sort();
  for (const { page } of [a, b]) {
    await page.waitForFunction((n) => document.querySelectorAll('[data-testid="presence-user"]').length === n, 2);
    assert.deepEqual(await presenceNames(page), both);
  }

  // A comment posted in one page appears in the other.
  await a.page.getByLabel("Your comment").fill("Hello from Carol");
  await a.page.getByRole("button", { name: "Post" }).click();
  await commentItem(b.page, "Hello from Carol").waitFor();
  assert.equal(await commentItem(b.page, "Hello from Carol").locator('[data-testid="comment-author"]').textContent(), carol.name);
  assert.equal(await a.page.getByLabel("Your comment").inputValue(), "", "the form is cleared");
  // Dave may not edit or delete Carol's comment: no buttons.
  assert.equal(await commentItem(b.page, "Hello from Carol").locator("button").count(), 0);
  // Ctrl+Enter posts, from the keyboard alone.
  await b.page.getByLabel("Your comment").fill("Hi Carol, Dave here");
  await b.page.getByLabel("Your comment").press("Control+Enter");
  await commentItem(a.page, "Hi Carol, Dave here").waitFor();
  // Screen readers hear it through the live region.
  await a.page.waitForFunction((text) => document.querySelector('[data-testid="announcer"]').textContent === text,
    `New comment from ${dave.name}: Hi Carol, Dave here`);

  // An edit propagates.
  const mine = commentItem(a.page, "Hello from Carol");
  await mine.getByRole("button", { name: "Edit" }).click();
  const editor = a.page.getByLabel("Edit your comment");
  assert.equal(await editor.inputValue(), "Hello from Carol");
  await editor.fill("Hello from Carol (edited)");
  await a.page.getByRole("button", { name: "Save" }).click();
  const edited = commentItem(b.page, "Hello from Carol (edited)");
  await edited.waitFor();
  await edited.locator('[data-testid="comment-edited"]').waitFor();
  assert.deepEqual(await commentTexts(b.page), ["Hello from Carol (edited)", "Hi Carol, Dave here"]);

  // A reaction appears for the other, named.
  await a.page.getByRole("button", { name: "Heart" }).click();
  const reaction = byTestId(b.page, "reaction").first();
  await reaction.waitFor();
  assert.equal((await reaction.textContent()).trim(), `❤️ ${carol.name}`);

  // And back.
  await b.page.getByRole("button", { name: "Thumbs up" }).click();
  await byTestId(a.page, "reaction").filter({ hasText: dave.name }).waitFor();

  // A comment posted over REST arrives too, once.
  await postComment(server, dave, video, "Posted over REST");
  await commentItem(a.page, "Posted over REST").waitFor();

  // Screenshot of the room, for people and for the README (once the count, sent at most once
  // a second, has caught up with Dave).
  await a.page.waitForFunction(() => document.querySelector('[data-testid="room-count"]').textContent === "2 watching");
  ensureScreenshotDir();
  const shot = new URL("room.png", SCREENSHOTS);
  await a.page.screenshot({ path: shot.pathname, animations: "disabled" });
  // The README's copy is refreshed on request only, so a test run leaves the tree clean.
  if (process.env.RTS_E2E_UPDATE_DOCS_SCREENSHOT) {
    copyFileSync(shot, new URL("../../../docs/screenshot-room.png", import.meta.url));
  }

  // A deletion (asked first) propagates.
  await deleteComment(commentItem(a.page, "Hello from Carol (edited)"));
  await commentItem(b.page, "Hello from Carol (edited)").waitFor({ state: "detached" });
  await commentItem(a.page, "Hello from Carol (edited)").waitFor({ state: "detached" });
  assert.deepEqual(await commentTexts(b.page), ["Hi Carol, Dave here", "Posted over REST"]);
  assert.deepEqual(await commentTexts(a.page), ["Hi Carol, Dave here", "Posted over REST"]);

  // Dave leaves: Carol sees herself alone.
  await b.context.close();
  await a.page.waitForFunction(() => document.querySelectorAll('[data-testid="presence-user"]').length === 1);
  assert.deepEqual(await presenceNames(a.page), [`${carol.name}:1`]);

  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context.close();
});

/** The presence badge of the one person shown: its text, title, and what a screen reader hears. */
const badgeOf = (page) => byTestId(page, "presence-user").evaluate((li) => {
  const badge = li.querySelector('[data-testid="presence-badge"]');
  return badge && { text: badge.textContent, title: badge.title, spoken: li.querySelector(".visually-hidden")?.textContent };
});

test("two tabs of one person are one presence entry that says \"2 tabs\"", async () => {
  const video = uniqueVideo("tabs");
  const cat = await register(server, "cat");
  const first = await openPage(browser, server);
  await signIn(first.page, cat);
  await openRoom(first.page, video);
  // Tokens are per tab (sessionStorage): the second tab signs in too, on the same device.
  const second = await openTab(first.context, server);
  await signIn(second.page, cat);
  await openRoom(second.page, video);
  for (const page of [first.page, second.page]) {
    await page.waitForFunction(() => document.querySelector('[data-testid="presence-user"]')?.dataset.count === "2");
    assert.equal(await byTestId(page, "presence-user").count(), 1);
    assert.equal(await byTestId(page, "presence-user").getAttribute("data-devices"), "1");
    assert.deepEqual(await badgeOf(page), {
      text: "2 tabs", title: "Here in 2 tabs on one device", spoken: ", here in 2 tabs on one device",
    });
  }
  await second.page.close();
  await first.page.waitForFunction(() => document.querySelector('[data-testid="presence-user"]')?.dataset.count === "1");
  assert.equal(await badgeOf(first.page), null, "one connection: no badge");
  assert.deepEqual(first.problems, []);
  await first.context.close();
});

test("one person in two browsers (two devices), one with two tabs, says \"2 devices\"", async () => {
  const video = uniqueVideo("devices");
  const cid = await register(server, "cid");
  const laptop = await openPage(browser, server);
  const phone = await openPage(browser, server);
  const laptopTab = await openTab(laptop.context, server);
  for (const page of [laptop.page, laptopTab.page, phone.page]) {
    await signIn(page, cid);
    await openRoom(page, video);
  }
  for (const page of [laptop.page, phone.page]) {
    await page.waitForFunction(() => document.querySelector('[data-testid="presence-user"]')?.dataset.count === "3");
    assert.equal(await byTestId(page, "presence-user").getAttribute("data-devices"), "2");
    assert.deepEqual(await badgeOf(page), {
      text: "2 devices", title: "Here from 2 devices, 3 tabs in all", spoken: ", here from 2 devices, 3 tabs in all",
    });
  }
  await phone.context.close();
  await laptop.page.waitForFunction(() => document.querySelector('[data-testid="presence-user"]')?.dataset.count === "2");
  assert.equal((await badgeOf(laptop.page)).text, "2 tabs");
  assert.deepEqual(laptop.problems, []);
  await laptop.context.close();
});

test("deleting a comment asks first; keeping it changes nothing", async () => {
  const video = uniqueVideo("ask");
  const fox = await login(server, await register(server, "fox"));
  await postComment(server, fox, video, "think twice");
  const { context, page, problems } = await openPage(browser, server);
  await signIn(page, fox);
  await openRoom(page, video);
  const item = commentItem(page, "think twice");
  const question = item.locator('[data-testid="comment-delete-question"]');

  // Delete asks, in place; "Keep it" (focused: the safe answer) keeps the comment.
  await item.getByRole("button", { name: "Delete" }).click();
  await question.waitFor();
  assert.equal(await item.getByRole("group", { name: "Delete this comment?" }).count(), 1);
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Keep it");
  assert.equal(await item.getByRole("button", { name: "Edit" }).count(), 0, "the buttons wait for the answer");
  await page.keyboard.press("Enter");
  await question.waitFor({ state: "detached" });
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Delete", "focus returns to Delete");

  // Escape keeps it too.
  await page.keyboard.press("Enter");
  await question.waitFor();
  await page.keyboard.press("Escape");
  await question.waitFor({ state: "detached" });

  // An edit from elsewhere while the question is open is shown once it is answered.
  await item.getByRole("button", { name: "Delete" }).click();
  const [comment] = await page.evaluate(() => [...document.querySelectorAll('[data-testid="comment"]')].map((li) => li.dataset.commentId));
  const edited = await rest(server, "PATCH", `/api/comments/${comment}`, { token: fox.token, body: { content: "think twice (edited)" } });
  assert.equal(edited.status, 200);
  await page.waitForTimeout(300);
  assert.equal(await question.count(), 1, "the question stays open");
  await item.getByRole("button", { name: "Keep it" }).click();
  await commentItem(page, "think twice (edited)").waitFor();

  // "Yes, delete" deletes it.
  await deleteComment(commentItem(page, "think twice (edited)"));
  await byTestId(page, "comments-empty").waitFor();
  assert.equal(await byTestId(page, "comment").count(), 0);
  assert.deepEqual(problems, []);
  await context.close();
});

test("leaving a room: the channel is left, the view cleared, and the others see it", async () => {
  const video = uniqueVideo("leave");
  const gil = await register(server, "gil");
  const hana = await register(server, "hana");
  const a = await openPage(browser, server);
  const b = await openPage(browser, server);
  // The topics Hana's page sends phx_leave for.
  const leaves = [];
  b.page.on("websocket", (ws) => ws.on("framesent", ({ payload }) => {
    const [, , topic, event] = JSON.parse(payload);
    if (event === "phx_leave") leaves.push(topic);
  }));
  await signIn(a.page, gil);
  await signIn(b.page, hana);
  await openRoom(a.page, video);
  await postComment(server, await login(server, hana), video, "before leaving");
  await openRoom(b.page, video);
  await commentItem(b.page, "before leaving").waitFor();
  await a.page.waitForFunction(() => document.querySelectorAll('[data-testid="presence-user"]').length === 2);

  await b.page.getByRole("button", { name: "Leave room" }).click();
  await byTestId(b.page, "room").waitFor({ state: "hidden" });
  assert.equal(await byTestId(b.page, "comment").count(), 0, "the room's view is cleared");
  assert.equal(await byTestId(b.page, "presence-user").count(), 0);
  assert.equal(new URL(b.page.url()).hash, "", "the address no longer names the room");
  assert.equal(await b.page.evaluate(() => document.activeElement.id), "room-video");
  await waitForState(b.page, "live"); // the socket stays; only the room was left
  await eventually(() => leaves.length > 0, 5000, "phx_leave");
  assert.deepEqual(leaves, [`video:${video}`], "the channel was left");

  // The other sees Hana go.
  await a.page.waitForFunction(() => document.querySelectorAll('[data-testid="presence-user"]').length === 1);
  assert.equal(await byTestId(a.page, "presence-user").getAttribute("data-username"), gil.name);

  // A comment posted now does not reach the page that left; opening the room again shows it.
  await a.page.getByLabel("Your comment").fill("after Hana left");
  await a.page.getByRole("button", { name: "Post" }).click();
  await commentItem(a.page, "after Hana left").waitFor();
  await b.page.waitForTimeout(500);
  assert.equal(await byTestId(b.page, "comment").count(), 0);
  await openRoom(b.page, video);
  await commentItem(b.page, "after Hana left").waitFor();
  assert.deepEqual(await commentTexts(b.page), ["before leaving", "after Hana left"]);
  await a.page.waitForFunction(() => document.querySelectorAll('[data-testid="presence-user"]').length === 2);

  assert.deepEqual(a.problems, []);
  assert.deepEqual(b.problems, []);
  await a.context.close();
  await b.context.close();
});

test("a moderator may delete anyone's comment but edit only their own", async () => {
  const video = uniqueVideo("mod");
  const dan = await register(server, "dan");
  await postComment(server, dan, video, "A comment by an ordinary user");
  const { context, page, problems } = await openPage(browser, server);
  await signIn(page, demoUser("bob")); // bob is the demo moderator
  assert.equal(await byTestId(page, "account-role").textContent(), "(moderator)");
  await openRoom(page, video);
  const item = commentItem(page, "A comment by an ordinary user");
  await item.waitFor();
  assert.equal(await item.getByRole("button", { name: "Edit" }).count(), 0);
  await deleteComment(item);
  await item.waitFor({ state: "detached" });
  await byTestId(page, "comments-empty").waitFor();
  assert.deepEqual(problems, []);
  await context.close();
});

test("a room opened from the address (#video=...) after signing in; another room replaces it", async () => {
  const video = uniqueVideo("hash");
  const eve = await register(server, "eve");
  await postComment(server, eve, video, "waiting here");
  const { context, page, problems } = await openPage(browser, server);
  await page.goto(`${server.base}/#video=${video}`);
  await signIn(page, eve);
  await commentItem(page, "waiting here").waitFor();
  assert.equal(await byTestId(page, "room-title").textContent(), `Room ${video}`);
  // A reload keeps the sign-in (sessionStorage) and the room (the address).
  await page.reload();
  await commentItem(page, "waiting here").waitFor();
  // A demo video: its seeded comments, and none of the other room's. (Typed: the demo buttons
  // are demo.test.mjs's.)
  await page.getByLabel("Video id").fill("demo-video-2");
  await page.getByLabel("Video id").press("Enter");
  await page.waitForFunction(() => document.querySelector('[data-testid="room-title"]').textContent === "Room demo-video-2");
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="comment"]').length >= 12);
  assert.ok(!(await commentTexts(page)).includes("waiting here"));
  assert.equal(new URL(page.url()).hash, "#video=demo-video-2");
  assert.deepEqual(problems, []);
  await context.close();
});

test("how many watch comes from room_stats: viewers, and connections when they differ", async () => {
  const video = uniqueVideo("stats");
  const jo = await register(server, "jo");
  const kim = await register(server, "kim");
  const count = (page) => byTestId(page, "room-count");
  const waitForCount = (page, text) =>
    page.waitForFunction((t) => document.querySelector('[data-testid="room-count"]').textContent === t, text);
  const first = await openPage(browser, server);
  await signIn(first.page, jo);
  await openRoom(first.page, video);
  await waitForCount(first.page, "1 watching");
  // A small room (under RTS_ROOM_LARGE_MEMBERS): the list stays, and no note.
  assert.equal(await byTestId(first.page, "room").getAttribute("data-mode"), "small");
  assert.equal(await byTestId(first.page, "room-mode-note").isHidden(), true);
  assert.equal(await byTestId(first.page, "presence").isVisible(), true);

  // A second tab is one more connection, not one more viewer.
  const second = await openTab(first.context, server);
  await signIn(second.page, jo);
  await openRoom(second.page, video);
  for (const page of [first.page, second.page]) await waitForCount(page, "1 watching · 2 connections");
  const other = await openPage(browser, server);
  await signIn(other.page, kim);
  await openRoom(other.page, video);
  for (const page of [first.page, other.page]) await waitForCount(page, "2 watching · 3 connections");
  assert.deepEqual(await count(first.page).evaluate((p) => ({ ...p.dataset })), { testid: "room-count", viewers: "2", connections: "3" });
  assert.deepEqual(await presenceNames(first.page), [`${jo.name}:2`, `${kim.name}:1`]);

  // Leaving lowers it; a single reaction is still relayed one by one.
  await second.page.close();
  await waitForCount(first.page, "2 watching");
  await other.page.getByRole("button", { name: "Applause" }).click();
  await byTestId(first.page, "reaction").filter({ hasText: kim.name }).waitFor();
  assert.equal(await byTestId(first.page, "reaction-burst").count(), 0);
  // Leaving the room empties the count with the rest of the room's view.
  await first.page.getByRole("button", { name: "Leave room" }).click();
  assert.equal(await count(first.page).isHidden(), true);

  assert.deepEqual(first.problems, []);
  assert.deepEqual(other.problems, []);
  await first.context.close();
  await other.context.close();
});
