// The demo hints (sign-in users and password, demo videos) appear only where the server says
// its database holds the demo data (GET /api/demo); without it, or without an answer, none.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  byTestId, commentTexts, demoUser, eventually, openPage, register, rest, serverAndBrowser,
  signIn, startServer, waitForState,
} from "./support.mjs";

let server;
let browser;
serverAndBrowser((s, b) => {
  server = s;
  browser = b;
});

/** What the page shows of the demo: the hint's text, the datalist and the video buttons. */
function demoShown(page) {
  return page.evaluate(() => {
    const hint = document.querySelector('[data-testid="demo-hint"]');
    const links = document.querySelector('[data-testid="demo-videos"]');
    return {
      hint: hint.hidden ? null : hint.textContent,
      options: [...document.querySelectorAll("#demo-videos option")].map((o) => o.value),
      buttons: links.hidden ? [] : [...links.querySelectorAll("button")].map((b) => b.textContent),
    };
  });
}

const NONE = { hint: null, options: [], buttons: [] };

test("a server whose database holds the demo data shows the demo logins and videos", async () => {
  const answer = await rest(server, "GET", "/api/demo");
  assert.equal(answer.status, 200, "GET /api/demo (a server from before it answers 404)");
  assert.equal(answer.body.seeded, true, "the tests seed their database");

  const { context, page, problems } = await openPage(browser, server);
  await byTestId(page, "demo-hint").waitFor({ state: "visible" });
  const hint = await byTestId(page, "demo-hint").textContent();
  for (const { email, role } of answer.body.users) {
    assert.ok(hint.includes(email), `${email} is in the hint: ${hint}`);
    if (role !== "user") assert.ok(hint.includes(`${email} (${role})`), hint);
  }
  assert.ok(hint.includes(answer.body.password), hint);

  // The hint is right: a demo user signs in with it.
  await signIn(page, demoUser("carol"));
  const shown = await demoShown(page);
  assert.deepEqual(shown.options, answer.body.videos);
  assert.deepEqual(shown.buttons, answer.body.videos);
  await page.getByRole("button", { name: "demo-video-1" }).click();
  await waitForState(page, "live");
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="comment"]').length >= 12);
  assert.equal(await byTestId(page, "room-title").textContent(), "Room demo-video-1");
  assert.ok((await commentTexts(page)).includes("First!"), "the seeded comments");
  assert.deepEqual(problems, []);
  await context.close();
});

test("a server without the demo data shows no demo hints", async () => {
  const bare = await startServer({}, { seeded: false });
  try {
    const answer = await rest(bare, "GET", "/api/demo");
    // A server from before /api/demo answers 404: the page shows nothing either way.
    if (answer.status === 200) assert.deepEqual(answer.body, { seeded: false });
    else assert.equal(answer.status, 404);

    const { context, page, problems } = await openPage(browser, bare);
    const demoAsked = page.waitForResponse((r) => new URL(r.url()).pathname === "/api/demo").catch(() => null);
    await page.reload();
    await byTestId(page, "login-form").waitFor();
    await demoAsked;
    assert.deepEqual(await demoShown(page), NONE);
    assert.equal(await page.getByText("demo-password").count(), 0);
    const ivy = await register(bare, "ivy");
    await signIn(page, ivy);
    assert.deepEqual(await demoShown(page), NONE);
    assert.equal(await page.getByRole("button", { name: /demo-video/ }).count(), 0);
    assert.deepEqual(problems, []);
    await context.close();
  } finally {
    await bare.stop();
  }
});

test("the hints are built from the answer; a 404, an error or no answer shows none", async () => {
  const contract = {
    seeded: true,
    password: "another-password",
    users: [{ email: "zed@example.com", role: "admin" }, { email: "yan@example.com", role: "user" }],
    videos: ["first-video", "second-video"],
  };
  const cases = [
    ["the contract", { status: 200, json: contract }],
    ["not seeded", { status: 200, json: { seeded: false } }],
    ["an older server", { status: 404, json: { error: { code: "not_found", message: "no such resource" } } }],
    ["a server error", { status: 500, json: { error: { code: "internal", message: "oops" } } }],
    ["not JSON", { status: 200, body: "<html>a proxy's page</html>", contentType: "text/html" }],
    ["no answer", null],
  ];
  for (const [name, answer] of cases) {
    const { context, page } = await openPage(browser, server);
    let asked = 0;
    await page.route("**/api/demo", (route) => {
      asked += 1;
      return answer ? route.fulfill(answer) : route.abort("connectionrefused");
    });
    await page.reload();
    await byTestId(page, "login-form").waitFor();
    await eventually(() => asked > 0, 5000, `the page asks /api/demo (${name})`);
    if (answer === cases[0][1]) {
      await byTestId(page, "demo-hint").waitFor({ state: "visible" });
      assert.equal(await byTestId(page, "demo-hint").textContent(),
        "Demo users: zed@example.com (admin), yan@example.com; password another-password.");
      assert.deepEqual((await demoShown(page)).options, contract.videos);
    } else {
      // Give a late answer its chance to (wrongly) show something.
      await page.waitForLoadState("networkidle");
      assert.deepEqual(await demoShown(page), NONE, name);
    }
    await context.close();
  }
});
