// Sessions in the page: devices (what tells them apart) and revoking one, signing out and what
// the connection pill says, refreshing tokens before they expire (the socket reconnecting
// with the new one), and errors shown as the API states them, rate limits included.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  byTestId, commentItem, openPage, openRoom, postComment, register, rest, serverAndBrowser,
  signIn, uniqueVideo, waitForState,
} from "./support.mjs";

const TOKEN_TTL_SECS = 30; // the shortest the server allows
const COMMENTS_PER_MINUTE = 3;
// One push (a reaction) at once, then one every 5 s: the second reaction is refused.
const PUSHES_PER_SECOND = 0.2;

let server;
let browser;
serverAndBrowser((s, b) => {
  server = s;
  browser = b;
}, {
  RTS_ACCESS_TOKEN_TTL_SECS: String(TOKEN_TTL_SECS),
  RTS_RATE_COMMENTS_PER_USER: String(COMMENTS_PER_MINUTE),
  RTS_WS_PUSHES_PER_SECOND: String(PUSHES_PER_SECOND),
  RTS_WS_PUSH_BURST: "1",
});

const deviceIdOf = (page) => page.evaluate(() => localStorage.getItem("rts.device_id"));

test("a device revoked from another browser is signed out at once", async () => {
  const video = uniqueVideo("revoke");
  const ann = await register(server, "ann");
  const laptop = await openPage(browser, server);
  const phone = await openPage(browser, server);
  await signIn(laptop.page, ann);
  await openRoom(laptop.page, video);
  await signIn(phone.page, ann);

  // The phone lists Ann's devices: the laptop, itself (current) and the test's REST sign-up.
  const laptopDevice = await deviceIdOf(laptop.page);
  const phoneDevice = await deviceIdOf(phone.page);
  assert.notEqual(laptopDevice, phoneDevice, "two browsers are two devices");
  await phone.page.getByRole("button", { name: "Devices" }).click();
  assert.equal(await phone.page.getByRole("button", { name: "Devices" }).getAttribute("aria-expanded"), "true");
  const row = (page, id) => page.locator(`[data-testid="device"][data-device-id="${id}"]`);
  await row(phone.page, laptopDevice).waitFor();
  assert.equal(await row(phone.page, phoneDevice).getAttribute("data-current"), "true");
  assert.equal(await row(phone.page, laptopDevice).getAttribute("data-current"), "false");
  assert.equal(await byTestId(phone.page, "device").count(), 3);

  // What tells them apart: a name from the browser (the page sends it at sign-in), when each
  // was last seen, and which is this one.
  const shown = (page, id) => row(page, id).evaluate((li) => ({
    name: li.querySelector('[data-testid="device-name"]').textContent,
    self: li.querySelector('[data-testid="device-this"]')?.textContent ?? null,
    seen: li.querySelector('[data-testid="device-seen"]').textContent,
    seenAt: li.querySelector('[data-testid="device-seen"] time').dateTime,
    revoke: li.querySelector('[data-testid="device-revoke"]').getAttribute("aria-label"),
  }));
  const phoneRow = await shown(phone.page, phoneDevice);
  const laptopRow = await shown(phone.page, laptopDevice);
  assert.equal(phoneRow.name, "Chrome on Linux"); // headless Chromium on Linux
  assert.equal(phoneRow.self, "this device");
  assert.equal(phoneRow.revoke, "Revoke Chrome on Linux (this device)");
  assert.equal(laptopRow.name, "Chrome on Linux");
  assert.equal(laptopRow.self, null);
  assert.equal(laptopRow.revoke, "Revoke Chrome on Linux");
  for (const { seen, seenAt } of [phoneRow, laptopRow]) {
    assert.match(seen, /^last seen (just now|\d+ seconds? ago|1 minute ago) · signed in /);
    assert.ok(Math.abs(Date.parse(seenAt) - Date.now()) < 120_000, seenAt);
  }
  const { devices } = (await rest(server, "GET", "/api/devices", { token: ann.token })).body;
  assert.deepEqual(devices.find((d) => d.device_id === phoneDevice).device_info,
    { client: "web", name: "Chrome on Linux", user_agent: await phone.page.evaluate(() => navigator.userAgent) });
  // A device that sent no device_info is named by its id.
  assert.equal(await row(phone.page, "e2e-rest").locator('[data-testid="device-name"]').textContent(), "e2e-rest");

  await row(phone.page, laptopDevice).getByRole("button", { name: /^Revoke/ }).click();
  await row(phone.page, laptopDevice).waitFor({ state: "detached" });

  // The server closes the laptop's socket (1001) and its refresh token is refused: the page
  // goes back to the sign-in form and says why.
  await byTestId(laptop.page, "login-form").waitFor({ state: "visible", timeout: 10000 });
  await waitForState(laptop.page, "signed-out");
  assert.match(await byTestId(laptop.page, "notice").textContent(), /signed out/);
  assert.equal(await byTestId(laptop.page, "room").isVisible(), false);
  assert.equal(await laptop.page.evaluate(() => sessionStorage.getItem("rts.session")), null);

  // Revoking the current device signs this browser out.
  await row(phone.page, phoneDevice).getByRole("button", { name: /^Revoke/ }).click();
  await byTestId(phone.page, "login-form").waitFor({ state: "visible" });
  assert.match(await byTestId(phone.page, "notice").textContent(), /revoked this browser/);

  assert.deepEqual(laptop.problems, []);
  assert.deepEqual(phone.problems, []);
  await laptop.context.close();
  await phone.context.close();
});

test("the pill says what the connection is: signed out, connecting, live", async () => {
  const gia = await register(server, "gia");
  const { context, page, problems } = await openPage(browser, server);
  const pill = byTestId(page, "connection-status");
  await waitForState(page, "signed-out");
  assert.equal(await pill.textContent(), "Signed out", "not an error: there is no session yet");
  // Every text the pill shows from here on.
  await page.evaluate(() => {
    const node = document.querySelector('[data-testid="connection-status"]');
    window.pillTexts = [];
    new MutationObserver(() => window.pillTexts.push(node.textContent)).observe(node, { childList: true, characterData: true, subtree: true });
  });
  await signIn(page, gia);
  await waitForState(page, "live");
  await page.getByRole("button", { name: "Sign out" }).click();
  await waitForState(page, "signed-out");
  assert.deepEqual(await page.evaluate(() => window.pillTexts), ["Connecting…", "Live", "Signed out"]);
  assert.deepEqual(problems, []);
  await context.close();
});

test("signing out ends the device's session on the server", async () => {
  const bea = await register(server, "bea");
  const { context, page, problems } = await openPage(browser, server);
  await signIn(page, bea);
  const refresh = await page.evaluate(() => JSON.parse(sessionStorage.getItem("rts.session")).refresh);
  await page.getByRole("button", { name: "Sign out" }).click();
  await byTestId(page, "login-form").waitFor({ state: "visible" });
  await waitForState(page, "signed-out");
  assert.equal(await page.evaluate(() => sessionStorage.getItem("rts.session")), null);
  const res = await rest(server, "POST", "/api/auth/refresh", { body: { refresh_token: refresh } });
  assert.equal(res.status, 401, "the logout revoked the refresh token");
  assert.deepEqual(problems, []);
  await context.close();
});

test("tokens are refreshed before they expire and the socket reconnects with the new one", async () => {
  const video = uniqueVideo("refresh");
  const cal = await register(server, "cal");
  const dee = await register(server, "dee");
  const { context, page, problems } = await openPage(browser, server);
  const sockets = [];
  page.on("websocket", (ws) => sockets.push(ws));
  await signIn(page, cal);
  await openRoom(page, video);
  const first = await page.evaluate(() => JSON.parse(sessionStorage.getItem("rts.session")));

  // Half the lifetime in, the page refreshes; once the first token expires the server closes
  // that socket (4001) and phoenix.js reconnects with the token its authToken function gives.
  await page.waitForFunction((old) => JSON.parse(sessionStorage.getItem("rts.session") ?? "{}").access !== old,
    first.access, { timeout: TOKEN_TTL_SECS * 1000 });
  const deadline = first.expiresAt + 3000;
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, deadline - Date.now())));
  await waitForState(page, "live", 10000);
  assert.ok(sockets.length >= 2, `the socket reconnected (${sockets.length} sockets)`);
  assert.ok(sockets[0].isClosed(), "the first socket was closed");

  // Still live both ways, with the new tokens.
  await postComment(server, dee, video, "after the first token expired");
  await commentItem(page, "after the first token expired").waitFor();
  await page.getByLabel("Your comment").fill("posted with a refreshed token");
  await page.getByRole("button", { name: "Post" }).click();
  await commentItem(page, "posted with a refreshed token").waitFor();
  assert.equal(await byTestId(page, "comment-error").isVisible(), false);
  assert.deepEqual(problems, []);
  await context.close();
});

test("errors are shown as the API states them", async () => {
  const video = uniqueVideo("errors");
  const eli = await register(server, "eli");
  const { context, page, problems } = await openPage(browser, server);

  // Wrong password: the API's message.
  await page.locator("#login-email").fill(eli.email);
  await page.locator("#login-password").fill("not-the-password");
  await byTestId(page, "login-submit").click();
  const loginError = byTestId(page, "login-error");
  await loginError.waitFor({ state: "visible" });
  const wrong = await rest(server, "POST", "/api/auth/login", { body: { email: eli.email, password: "not-the-password" } });
  assert.equal(await loginError.textContent(), wrong.body.error.message);

  // A taken username: conflict, with the API's message.
  await page.locator("#register-email").fill(`new-${eli.email}`);
  await page.locator("#register-username").fill(eli.name);
  await page.locator("#register-password").fill("long-enough-password");
  await byTestId(page, "register-submit").click();
  await byTestId(page, "register-error").waitFor({ state: "visible" });
  assert.match(await byTestId(page, "register-error").textContent(), /taken|exists|already/i);

  await signIn(page, eli);
  await openRoom(page, video);
  const error = byTestId(page, "comment-error");

  // Validation: only invisible characters; the field and its rule.
  await page.getByLabel("Your comment").fill("\u200b\u200b");
  await page.getByRole("button", { name: "Post" }).click();
  await error.waitFor({ state: "visible" });
  assert.match(await error.textContent(), /^content: /);

  // The rate limit: the server's message, as it is ("You're posting too fast; try again in 2 s").
  for (let i = 1; i <= COMMENTS_PER_MINUTE; i++) {
    await page.getByLabel("Your comment").fill(`comment ${i}`);
    await page.getByRole("button", { name: "Post" }).click();
    await commentItem(page, `comment ${i}`).waitFor();
  }
  const refused = page.waitForResponse((r) => r.request().method() === "POST" && r.status() === 429);
  await page.getByLabel("Your comment").fill("one too many");
  await page.getByRole("button", { name: "Post" }).click();
  const { error: envelope } = await (await refused).json();
  await page.waitForFunction(() => /try again in \d+ s/.test(document.querySelector('[data-testid="comment-error"]').textContent));
  assert.equal(await error.textContent(), envelope.message);
  assert.equal(await page.getByLabel("Your comment").inputValue(), "one too many", "the text is kept for a retry");
  assert.equal(await commentItem(page, "one too many").count(), 0);

  // An answer without the server's words (a proxy's 429, say): the page words it from Retry-After.
  await page.route("**/api/videos/*/comments", (route) =>
    route.fulfill({ status: 429, headers: { "retry-after": "7" }, contentType: "text/html", body: "<h1>429</h1>" }));
  await page.getByRole("button", { name: "Post" }).click();
  await page.waitForFunction(() => document.querySelector('[data-testid="comment-error"]').textContent
    === "You're posting too fast; try again in 7 s");
  await page.unroute("**/api/videos/*/comments");

  // Over the socket (a reaction is a push): the reply's message, as it is.
  const reactionError = byTestId(page, "reaction-error");
  await page.getByRole("button", { name: "Thumbs up" }).click();
  await byTestId(page, "reaction").first().waitFor();
  await page.getByRole("button", { name: "Heart" }).click();
  await reactionError.waitFor({ state: "visible" });
  assert.match(await reactionError.textContent(), /^You're posting too fast; try again in \d+ s$/);
  assert.equal(await byTestId(page, "reaction").count(), 1, "the refused reaction is not shown");

  assert.deepEqual(problems, []);
  await context.close();
});
