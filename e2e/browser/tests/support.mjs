// Shared helpers: a real realtime-server process per test file (serving the page), headless
// system Chromium through playwright-core, REST sign-up, and page steps (sign in, open a room).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { after, before } from "node:test";
import { chromium } from "playwright-core";
import { eventually as poll, freePort, serverProcess, testServerEnv } from "../../shared/server.mjs";

const BIN = process.env.RTS_E2E_SERVER_BIN;
const DATABASE_URL = process.env.RTS_E2E_DATABASE_URL;
if (!BIN || !DATABASE_URL) {
  throw new Error("run through `cargo xtask test` (RTS_E2E_SERVER_BIN and RTS_E2E_DATABASE_URL are not set)");
}
const CHROMIUM = process.env.RTS_E2E_CHROMIUM || "/usr/bin/chromium";
export const SCREENSHOTS = new URL("../screenshots/", import.meta.url);
export const WEB = new URL("../../../web/", import.meta.url);

/** Polls `check` until it returns a truthy value (or throws after `ms`). */
export const eventually = (check, ms = 5000, what = "condition") => poll(check, ms, what, 50);

function serverEnv(databaseUrl, settings) {
  return {
    ...testServerEnv(databaseUrl, "browser-e2e-secret-0123456789abcdef"),
    // Stopping waits this long for idle keep-alive connections (the tests' own fetches).
    RTS_HTTP_SHUTDOWN_TIMEOUT_SECS: "1",
    // The page is read from disk only when asked (for editing without a rebuild); by default
    // the tests check the files embedded in the binary.
    ...(process.env.RTS_E2E_WEB_DIR ? { RTS_WEB_DIR: process.env.RTS_E2E_WEB_DIR } : {}),
    ...settings,
  };
}

let prepared = false;

/** Applies pending migrations and adds the demo users and videos (both idempotent). */
function prepareDatabase() {
  if (prepared) return DATABASE_URL;
  const env = { PATH: process.env.PATH, RTS_DATABASE_URL: DATABASE_URL, RTS_LOG_LEVEL: "warn" };
  execFileSync(BIN, ["migrate"], { env, stdio: ["ignore", "ignore", "inherit"] });
  execFileSync(BIN, ["seed"], { env, stdio: ["ignore", "ignore", "inherit"] });
  prepared = true;
  return DATABASE_URL;
}

/** A database beside the test database (its name + "_unseeded"), emptied and migrated but
 * never seeded: a deployment without the demo data. */
function unseededDatabase() {
  const url = new URL(DATABASE_URL);
  url.pathname += "_unseeded";
  const env = { PATH: process.env.PATH, RTS_DATABASE_URL: url.toString(), RTS_LOG_LEVEL: "warn" };
  execFileSync(BIN, ["migrate", "fresh", "--yes"], { env, stdio: ["ignore", "ignore", "inherit"] });
  return url.toString();
}

/** Starts the server on a free port, with `settings` added to its environment, on the
 * seeded test database (`{seeded: false}`: on an empty one); `stop()` and `start()` take it
 * down and bring it back on the same port. */
export async function startServer(settings = {}, { seeded = true } = {}) {
  const databaseUrl = seeded ? prepareDatabase() : unseededDatabase();
  const port = await freePort();
  return serverProcess(BIN, port, serverEnv(databaseUrl, settings));
}

/** Headless system Chromium (no browser download is possible or wanted). */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
}

/** A server (with `settings`, and `options` as startServer takes them) and a browser for a
 * whole test file: started before its tests, handed to `use`, and stopped after them. */
export function serverAndBrowser(use, settings = {}, options = {}) {
  let server;
  let browser;
  before(async () => {
    server = await startServer(settings, options);
    browser = await launchBrowser();
    use(server, browser);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });
}

/** Calls the REST API from the test (not the page). */
export async function rest(server, method, path, { token, body } = {}) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${server.base}${path}`, { method, headers, body: body && JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

/** Registers a user with a unique name over REST; returns {email, password, name, token, user}. */
export async function register(server, name) {
  const unique = `${name}${randomBytes(4).toString("hex")}`;
  const account = { email: `${unique}@example.com`, password: "browser-password", name: unique };
  const res = await rest(server, "POST", "/api/auth/register", {
    body: { email: account.email, username: unique, password: account.password, device_id: "e2e-rest" },
  });
  if (res.status !== 201) throw new Error(`register answered ${res.status}: ${JSON.stringify(res.body)}`);
  return { ...account, token: res.body.access_token, user: res.body.user };
}

/** A demo user from `realtime-server seed` (alice admin, bob moderator, carol, dave). */
export function demoUser(name) {
  return { email: `${name}@example.com`, password: "demo-password", name };
}

/** Signs `account` in over REST (device "e2e-rest"); returns it with a token and user. */
export async function login(server, account) {
  const res = await rest(server, "POST", "/api/auth/login", {
    body: { email: account.email, password: account.password, device_id: "e2e-rest" },
  });
  if (res.status !== 200) throw new Error(`login answered ${res.status}: ${JSON.stringify(res.body)}`);
  return { ...account, token: res.body.access_token, user: res.body.user };
}

/** Posts a comment over REST as `account` (which has a token). */
export async function postComment(server, account, video, content) {
  const res = await rest(server, "POST", `/api/videos/${video}/comments`, { token: account.token, body: { content } });
  if (res.status !== 201) throw new Error(`post answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

export function uniqueVideo(prefix = "v") {
  return `${prefix}-${randomBytes(6).toString("hex")}`;
}

/**
 * A new browser context (its own storage: another browser, as far as the server knows) with
 * one page on the server's page. `problems` collects console errors, page errors and
 * Content-Security-Policy violations; tests assert it stays empty.
 */
export async function openPage(browser, server, { viewport = { width: 1100, height: 800 } } = {}) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  return { context, ...(await watch(page, server)) };
}

/** Another tab in the same context (same browser: same device). */
export async function openTab(context, server) {
  return watch(await context.newPage(), server);
}

async function watch(page, server) {
  page.setDefaultTimeout(15000);
  const problems = [];
  // Runs before the page's own scripts, outside the page's CSP.
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI}`);
    });
  });
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const text = msg.text();
    // A WebSocket that cannot connect while the server is down, or is refused after sign-out,
    // is logged by Chromium itself; that is the network, not the page.
    if (/WebSocket connection to .* failed/.test(text)) return;
    if (/Failed to load resource: net::ERR_(CONNECTION_REFUSED|INTERNET_DISCONNECTED)/.test(text)) return;
    // The API's own error answers (401 after a revoked device) are logged as failed loads too.
    if (/Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return;
    problems.push(text);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
  // The page's own files must all load (API errors are the tests' business).
  page.on("response", (res) => {
    const path = new URL(res.url()).pathname;
    if (res.status() >= 400 && !path.startsWith("/api/")) problems.push(`${res.status()} for ${path}`);
  });
  await page.goto(server.base + "/");
  return { page, problems };
}

export const byTestId = (page, id) => page.locator(`[data-testid="${id}"]`);

/** Signs in through the form and waits for the room picker. */
export async function signIn(page, account) {
  await page.locator("#login-email").fill(account.email);
  await page.locator("#login-password").fill(account.password);
  await byTestId(page, "login-submit").click();
  await byTestId(page, "room-picker").waitFor({ state: "visible" });
}

/** A page of its own (a browser context each: a device each) for every account, signed in. */
export async function signedInPages(browser, server, ...accounts) {
  const pages = [];
  for (const account of accounts) {
    const opened = await openPage(browser, server);
    await signIn(opened.page, account);
    pages.push(opened);
  }
  return pages;
}

/** Opens a room by id and waits until it is live. */
export async function openRoom(page, video) {
  await page.getByLabel("Video id").fill(video);
  await page.getByLabel("Video id").press("Enter");
  await waitForState(page, "live");
}

/** Waits for the connection pill's state: signed-out, connecting, live or reconnecting. */
export async function waitForState(page, state, timeout = 15000) {
  await page.waitForSelector(`[data-testid="connection-status"][data-state="${state}"]`, { timeout });
}

/** The comments shown, as their contents, in order. */
export function commentTexts(page) {
  return byTestId(page, "comments").locator('[data-testid="comment-content"]').allTextContents();
}

/** A comment's <li>, found by its content. */
export function commentItem(page, content) {
  return byTestId(page, "comment").filter({ has: page.locator('[data-testid="comment-content"]', { hasText: content }) });
}

/** Deletes a comment through the page: Delete, then the question's "Yes, delete". */
export async function deleteComment(item) {
  await item.getByRole("button", { name: "Delete" }).click();
  await item.getByRole("button", { name: "Yes, delete" }).click();
}

export function ensureScreenshotDir() {
  mkdirSync(SCREENSHOTS, { recursive: true });
}
