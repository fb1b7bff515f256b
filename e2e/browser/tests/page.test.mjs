// The page itself: its size budget, one round trip for all its modules, the vendored phoenix
// client, the Content-Security-Policy (no violations), the keyboard, labels, the comments'
// box (nothing cut under the room title) and a narrow screen.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import {
  SCREENSHOTS, WEB, byTestId, commentItem, ensureScreenshotDir, login, openPage, openRoom,
  postComment, register, serverAndBrowser, signIn, uniqueVideo,
} from "./support.mjs";

const BUDGET_BYTES = 100 * 1024; // docs: the page's own files, phoenix.mjs aside

let server;
let browser;
serverAndBrowser((s, b) => {
  server = s;
  browser = b;
});

async function get(path) {
  const res = await fetch(server.base + path);
  assert.equal(res.status, 200, `GET ${path}`);
  return { res, bytes: Buffer.from(await res.arrayBuffer()) };
}

/** The <link>/<script> URLs of the served HTML, by kind. */
function linked(html) {
  const attr = (tag, name) => new RegExp(`\\b${name}="([^"]*)"`).exec(tag)?.[1];
  const tags = html.match(/<(link|script)\b[^>]*>/g) ?? [];
  const of = (rel) => tags.filter((t) => attr(t, "rel") === rel).map((t) => attr(t, "href"));
  return {
    preloads: of("modulepreload"),
    stylesheets: of("stylesheet"),
    icons: of("icon"),
    scripts: tags.filter((t) => t.startsWith("<script")).map((t) => attr(t, "src")),
  };
}

/** The relative imports of an ES module, resolved against its URL path. */
function importsOf(path, source) {
  const found = [...source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s*"([^"]+)"/gm), ...source.matchAll(/^\s*import\s*"([^"]+)"/gm)];
  return found.map((m) => new URL(m[1], `http://x${path}`).pathname);
}

test("the page loads in one round trip: every module is preloaded, and it is under budget", async () => {
  const { res, bytes: htmlBytes } = await get("/");
  assert.match(res.headers.get("content-type"), /^text\/html/);
  const html = htmlBytes.toString();
  const { preloads, stylesheets, icons, scripts } = linked(html);
  assert.deepEqual(scripts, ["/assets/js/main.js"]);
  assert.ok(preloads.includes("/assets/js/main.js"));

  // Walk the module graph from main.js: everything it reaches is preloaded, so the browser
  // fetches all of it at once instead of one import level per round trip.
  const seen = new Map();
  const queue = ["/assets/js/main.js"];
  while (queue.length) {
    const path = queue.shift();
    if (seen.has(path)) continue;
    const { res: r, bytes } = await get(path);
    assert.match(r.headers.get("content-type"), /javascript/, `${path} is served as JavaScript`);
    seen.set(path, bytes.length);
    queue.push(...importsOf(path, bytes.toString()));
  }
  assert.deepEqual([...seen.keys()].sort(), [...preloads].sort(), "the preloads are exactly the module graph");

  let own = htmlBytes.length;
  const sizes = { "/": htmlBytes.length };
  for (const path of [...stylesheets, ...icons]) {
    const { bytes } = await get(path);
    sizes[path] = bytes.length;
    own += bytes.length;
  }
  for (const [path, size] of seen) {
    if (path.startsWith("/assets/vendor/")) continue;
    sizes[path] = size;
    own += size;
  }
  assert.ok(own < BUDGET_BYTES, `the page's own files are ${own} bytes: ${JSON.stringify(sizes)}`);

  // In the browser: each file is fetched once, and nothing but these (and the API).
  const { context, page, problems } = await openPage(browser, server);
  const requested = [];
  page.on("request", (r) => requested.push(new URL(r.url()).pathname));
  await page.reload();
  await byTestId(page, "login-form").waitFor();
  await page.waitForLoadState("networkidle");
  // (The icon is the browser's own business: Chromium may ask for it more than once.)
  const files = requested.filter((p) => !p.startsWith("/api/") && !p.startsWith("/socket") && !icons.includes(p));
  const expected = ["/", ...stylesheets, ...preloads];
  assert.deepEqual([...files].sort(), [...expected].sort());
  assert.deepEqual(problems, []);
  await context.close();
});

test("the vendored phoenix client is the locked npm package's, with its licence", async () => {
  const lock = JSON.parse(readFileSync(new URL("../../phoenix-js/package-lock.json", import.meta.url)));
  const version = lock.packages["node_modules/phoenix"].version;
  const readme = readFileSync(new URL("assets/vendor/README.md", WEB), "utf8");
  assert.ok(readme.includes(`version **${version}**`), `web/assets/vendor/README.md names phoenix ${version}`);
  const vendored = readFileSync(new URL("assets/vendor/phoenix.mjs", WEB));
  const installed = new URL("../../phoenix-js/node_modules/phoenix/", import.meta.url);
  if (existsSync(installed)) {
    const pkg = JSON.parse(readFileSync(new URL("package.json", installed)));
    assert.equal(pkg.version, version);
    assert.ok(vendored.equals(readFileSync(new URL("priv/static/phoenix.mjs", installed))), "phoenix.mjs is the package's, unmodified");
    assert.ok(readFileSync(new URL("assets/vendor/phoenix.LICENSE.md", WEB)).equals(readFileSync(new URL("LICENSE.md", installed))));
  }
  const { bytes } = await get("/assets/vendor/phoenix.mjs");
  assert.ok(bytes.equals(vendored), "the server serves the vendored file");
});

test("the Content-Security-Policy holds and the page breaks none of it", async () => {
  const { res } = await get("/");
  const csp = res.headers.get("content-security-policy") ?? "";
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /script-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  assert.equal(res.headers.get("x-content-type-options"), "nosniff");

  // Nothing inline in the files, so nothing needs 'unsafe-inline'.
  const html = readFileSync(new URL("index.html", WEB), "utf8");
  assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, "no inline <script>");
  assert.doesNotMatch(html, /<style|\sstyle=/, "no <style> or style attributes");
  assert.doesNotMatch(html, /\son[a-z]+=/, "no inline event handlers");
  for (const file of ["api.js", "connection.js", "room.js", "ui.js", "comments.js", "devices.js", "main.js"]) {
    const js = readFileSync(new URL(`assets/js/${file}`, WEB), "utf8");
    assert.doesNotMatch(js, /\beval\(|new Function|innerHTML|insertAdjacentHTML|document\.write/, file);
  }

  // A whole visit (sign in, room, comment, reaction, devices, sign out): no violation or error
  // reaches the console.
  const video = uniqueVideo("csp");
  const fay = await register(server, "fay");
  const { context, page, problems } = await openPage(browser, server);
  await signIn(page, fay);
  await openRoom(page, video);
  await page.getByLabel("Your comment").fill("a comment under the CSP");
  await page.getByRole("button", { name: "Post" }).click();
  await commentItem(page, "a comment under the CSP").waitFor();
  await page.getByRole("button", { name: "Thumbs up" }).click();
  await byTestId(page, "reaction").first().waitFor();
  await page.getByRole("button", { name: "Devices" }).click();
  await byTestId(page, "device").first().waitFor();
  await page.getByRole("button", { name: "Sign out" }).click();
  await byTestId(page, "login-form").waitFor({ state: "visible" });
  assert.deepEqual(problems, []);
  await context.close();
});

test("it works from the keyboard, and every control has a name a screen reader can read", async () => {
  const gus = await register(server, "gus");
  const video = uniqueVideo("keys");
  const { context, page, problems } = await openPage(browser, server);

  const unnamed = () => page.evaluate(() => [...document.querySelectorAll("input, textarea, button")]
    .filter((e) => e.offsetParent !== null) // visible
    .filter((e) => e.tagName === "BUTTON"
      ? !(e.textContent.trim() || e.getAttribute("aria-label"))
      : e.labels.length === 0)
    .map((e) => e.outerHTML));
  assert.deepEqual(await unnamed(), []);
  assert.equal(await byTestId(page, "connection-status").getAttribute("role"), "status");

  // Sign in and open a room with the keyboard alone.
  await page.locator("#login-email").focus();
  await page.keyboard.type(gus.email);
  await page.keyboard.press("Tab");
  await page.keyboard.type(gus.password);
  await page.keyboard.press("Enter");
  await byTestId(page, "room-picker").waitFor({ state: "visible" });
  assert.equal(await page.evaluate(() => document.activeElement.id), "room-video", "focus moves to the room field");
  await page.keyboard.type(video);
  await page.keyboard.press("Enter");
  await page.waitForSelector('[data-testid="connection-status"][data-state="live"]');
  assert.deepEqual(await unnamed(), []);

  // Tab reaches the comment field; Ctrl+Enter posts.
  for (let i = 0; i < 15 && (await page.evaluate(() => document.activeElement.id)) !== "comment-content"; i++) {
    await page.keyboard.press("Tab");
  }
  assert.equal(await page.evaluate(() => document.activeElement.id), "comment-content");
  await page.keyboard.type("typed, not clicked");
  await page.keyboard.press("Control+Enter");
  const item = commentItem(page, "typed, not clicked");
  await item.waitFor();
  assert.deepEqual(await unnamed(), []);

  // Edit from the keyboard; Escape cancels, Enter on Save saves.
  await item.getByRole("button", { name: "Edit" }).focus();
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement.getAttribute("data-testid")), "comment-edit-content");
  await page.keyboard.press("Escape");
  assert.equal(await item.getByLabel("Edit your comment").count(), 0);
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Edit", "focus returns to Edit");
  await page.keyboard.press("Enter");
  await page.keyboard.press("End");
  await page.keyboard.type(" (and edited)");
  await page.keyboard.press("Tab");
  await page.keyboard.press("Enter");
  await commentItem(page, "typed, not clicked (and edited)").waitFor();
  assert.deepEqual(problems, []);
  await context.close();
});

/**
 * Where the first comment is, and whether all of it shows: inside the list's visible box,
 * below the room title, and on top at its corners (nothing drawn over it).
 */
function firstComment(page) {
  return page.evaluate(() => {
    const list = document.querySelector('[data-testid="comments"]');
    const first = list.querySelector('[data-testid="comment"]');
    const box = first.getBoundingClientRect();
    const view = list.getBoundingClientRect();
    const inner = { top: view.top + list.clientTop, bottom: view.top + list.clientTop + list.clientHeight };
    const title = document.querySelector('[data-testid="room-title"]').getBoundingClientRect();
    const corners = [[box.left + 2, box.top + 2], [box.right - 2, box.top + 2], [box.left + 2, box.bottom - 2], [box.right - 2, box.bottom - 2]];
    const style = getComputedStyle(list);
    return {
      whole: box.top >= inner.top && box.bottom <= inner.bottom && box.top >= 0 && box.bottom <= innerHeight,
      belowTitle: box.top >= title.bottom,
      onTop: corners.every(([x, y]) => first.contains(document.elementFromPoint(x, y))),
      listBelowTitle: view.top >= title.bottom,
      edge: parseFloat(style.borderTopWidth) >= 1 && style.borderTopStyle !== "none",
      scrolled: list.scrollTop,
    };
  });
}

test("nothing is cut under the room title: the first comment shows whole, the list has an edge", async () => {
  const ida = await login(server, await register(server, "ida"));
  const few = uniqueVideo("few");
  const many = uniqueVideo("many");
  for (let i = 1; i <= 3; i++) await postComment(server, ida, few, `few ${i}`);
  for (let i = 1; i <= 16; i++) await postComment(server, ida, many, `many ${i}\nwith a second line`);
  for (const viewport of [{ width: 1100, height: 800 }, { width: 400, height: 740 }]) {
    const { context, page, problems } = await openPage(browser, server, { viewport });
    await signIn(page, ida);

    // A few comments: the first is whole, right under the title, with nothing over it.
    await openRoom(page, few);
    await commentItem(page, "few 3").waitFor();
    await byTestId(page, "comments").scrollIntoViewIfNeeded();
    const shown = await firstComment(page);
    assert.deepEqual(shown, { whole: true, belowTitle: true, onTop: true, listBelowTitle: true, edge: true, scrolled: 0 },
      `${viewport.width} px, few comments`);

    // More than fit: the list opens at the newest, scrolled inside a box with its own edge
    // below the title (what is above is cut by that edge, not hidden under the title); and
    // scrolled up, the first comment is whole and uncovered.
    await openRoom(page, many);
    await commentItem(page, "many 16").waitFor();
    const opened = await firstComment(page);
    assert.ok(opened.scrolled > 0, "it opens at the newest comment");
    assert.ok(opened.listBelowTitle && opened.edge, `${viewport.width} px: ${JSON.stringify(opened)}`);
    await byTestId(page, "comments").evaluate((list) => { list.scrollTop = 0; });
    await byTestId(page, "comments").scrollIntoViewIfNeeded();
    const top = await firstComment(page);
    assert.deepEqual({ ...top, scrolled: undefined }, { whole: true, belowTitle: true, onTop: true, listBelowTitle: true, edge: true, scrolled: undefined },
      `${viewport.width} px, scrolled to the top`);
    assert.deepEqual(problems, []);
    await context.close();
  }
});

test("on a narrow screen nothing overflows, and who is here and the reactions come first, short", async () => {
  const hal = await register(server, "hal");
  const video = uniqueVideo("narrow");
  const viewport = { width: 400, height: 740 };
  const { context, page, problems } = await openPage(browser, server, { viewport });
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.equal(await overflow(), 0, "the sign-in page fits");
  await signIn(page, hal);
  await openRoom(page, video);
  await page.getByLabel("Your comment").fill("a-long-word-".repeat(20));
  await page.getByRole("button", { name: "Post" }).click();
  await byTestId(page, "comment").first().waitFor();
  for (const name of ["Thumbs up", "Heart", "Laughing", "Surprised", "Applause"]) {
    await page.getByRole("button", { name }).click();
  }
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="reaction"]').length === 5);
  await page.getByRole("button", { name: "Devices" }).click();
  await byTestId(page, "device").first().waitFor();
  assert.equal(await overflow(), 0, "the room fits");

  const box = async (id) => byTestId(page, id).boundingBox();
  const comments = await box("comments");
  const presence = await box("presence");
  const reactions = await box("reaction-buttons");
  assert.ok(presence.y < comments.y && reactions.y < comments.y, "who is here and the reactions come before the comments");
  // Short: the panel is a few lines, so the comments start within the first screen of the room.
  const side = await page.locator(".room-side").boundingBox();
  assert.ok(side.height < viewport.height / 3, `the panel is ${side.height} px tall`);
  const shownReactions = await byTestId(page, "reaction").evaluateAll((items) => items.filter((li) => li.offsetParent).length);
  assert.equal(shownReactions, 3, "the newest three reactions show");
  // The same order for the keyboard and screen readers as on the screen.
  const order = await page.evaluate(() => {
    const at = (id) => document.querySelector(`[data-testid="${id}"]`);
    return at("presence").compareDocumentPosition(at("comments")) & Node.DOCUMENT_POSITION_FOLLOWING;
  });
  assert.ok(order, "the panel comes first in the document too");
  ensureScreenshotDir();
  await page.screenshot({ path: new URL("room-narrow.png", SCREENSHOTS).pathname, fullPage: true });
  assert.deepEqual(problems, []);
  await context.close();
});

test("on a wide screen the comments and the panel sit side by side", async () => {
  const ike = await register(server, "ike");
  const { context, page, problems } = await openPage(browser, server, { viewport: { width: 1100, height: 800 } });
  await signIn(page, ike);
  await openRoom(page, uniqueVideo("wide"));
  const main = await page.locator(".room-main").boundingBox();
  const side = await page.locator(".room-side").boundingBox();
  const title = await byTestId(page, "room-title").boundingBox();
  assert.ok(side.x > main.x + main.width - 1, "the panel is to the right of the comments");
  assert.ok(Math.abs(side.y - main.y) < 1, "their tops line up");
  assert.ok(title.y + title.height <= main.y, "the title is above both");
  assert.deepEqual(problems, []);
  await context.close();
});
