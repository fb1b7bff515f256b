// The REST API (docs/api.md): one fetch wrapper that turns the error envelope into an
// ApiError, and the session: tokens, their storage, and refreshing them before they expire.

/** An error answer of the API: `code` is for programs, `message` for people (docs/api.md). */
export class ApiError extends Error {
  constructor(status, { code, message, details }, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details ?? [];
    // Seconds to wait, from the Retry-After header of a 429 rate_limited answer.
    this.retryAfter = retryAfter;
  }
}

/** The network failed (server down, offline): no answer at all. */
export class NetworkError extends Error {}

async function call(method, path, { body, token } = {}) {
  const headers = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (token) headers.authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    throw new NetworkError(`the server did not answer (${e.message})`);
  }
  if (res.status === 204) return null;
  const json = await res.json().catch(() => null);
  if (res.ok) return json;
  // No envelope (a proxy's page, say): a 429 is still a rate limit, worded by the page.
  const envelope = json?.error ?? (res.status === 429
    ? { code: "rate_limited", message: "" }
    : { code: "http_" + res.status, message: res.statusText || "request failed" });
  const retryAfter = Number(res.headers.get("retry-after")) || undefined;
  throw new ApiError(res.status, envelope, retryAfter);
}

// Tokens live in sessionStorage: they survive a reload but not the tab, and no other tab reads
// them. That matters because a refresh token is spent when used: two tabs sharing one (as they
// would through localStorage) would both refresh with it, and the server takes the second use
// as theft (401 refresh_token_reused) and signs the device out. Each tab signs in on its own.
// (Any script on the page can read either storage; the CSP allows only our own scripts.)
const STORE = "rts.session";
// The device id is not a secret and names this browser, so it lives in localStorage: every tab
// of this browser is one device in the device list, and signing out signs them all out.
const DEVICE = "rts.device_id";

/** A random id such as "web-3f9c...": getRandomValues works on plain http too (randomUUID does not). */
export function randomId(prefix) {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return prefix + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function deviceId() {
  let id = localStorage.getItem(DEVICE);
  if (!id) {
    id = randomId("web-");
    localStorage.setItem(DEVICE, id);
  }
  return id;
}

/** "Chrome on Linux", from a User-Agent string; null when it names neither. */
export function browserName(agent) {
  if (typeof agent !== "string") return null;
  const browser = [
    [/\bEdg(e|A|iOS)?\//, "Edge"], [/\bOPR\//, "Opera"], [/\b(Firefox|FxiOS)\//, "Firefox"],
    [/\b(HeadlessChrome|Chrome|Chromium|CriOS)\//, "Chrome"], [/\bVersion\/[\d.]+.*Safari\//, "Safari"],
  ].find(([re]) => re.test(agent))?.[1];
  const system = [
    [/\b(iPhone|iPad|iPod)\b/, "iOS"], [/\bAndroid\b/, "Android"], [/\bCrOS\b/, "ChromeOS"],
    [/\bWindows\b/, "Windows"], [/\bMac OS X\b|\bMacintosh\b/, "macOS"], [/\bLinux\b/, "Linux"],
  ].find(([re]) => re.test(agent))?.[1];
  if (browser && system) return `${browser} on ${system}`;
  return browser ?? system ?? null;
}

// What the device list shows for this browser (docs/api.md: device_info is the client's own).
function deviceInfo() {
  const agent = navigator.userAgent.slice(0, 256);
  return { client: "web", name: browserName(agent) ?? "Web browser", user_agent: agent };
}

/** The page's own words for a rate limit, when the server gave none: as the server words
 * them ("try again in 2 s", "5 min", "2 h"), rounded up. */
export function tooFast(seconds) {
  const s = Math.ceil(Number(seconds));
  if (!(s > 0)) return "You're posting too fast; try again shortly";
  const wait = s < 100 ? `${s} s` : s < 6000 ? `${Math.ceil(s / 60)} min` : `${Math.ceil(s / 3600)} h`;
  return `You're posting too fast; try again in ${wait}`;
}

/**
 * Whether the server holds the demo data, and which (GET /api/demo, no sign-in):
 * {users: [{email, role}], password, videos: [id]}, or null when it does not, or cannot say
 * (an older server answers 404; any failure counts as "no demo").
 */
export async function demoData() {
  try {
    const answer = await call("GET", "/api/demo");
    if (answer?.seeded !== true) return null;
    const users = Array.isArray(answer.users)
      ? answer.users.filter((u) => typeof u?.email === "string" && typeof u?.role === "string") : [];
    const videos = Array.isArray(answer.videos) ? answer.videos.filter((v) => typeof v === "string") : [];
    const password = typeof answer.password === "string" ? answer.password : null;
    return { users, videos, password };
  } catch {
    return null;
  }
}

/**
 * The signed-in user and their tokens. `onChange(session)` fires on sign-in and refresh,
 * `onEnd(reason)` when the session is over (signed out here, or refused by the server).
 */
export class Session {
  #tokens = null; // {access, refresh, expiresAt (ms), user}
  #refreshing = null;
  #timer = null;

  constructor({ onChange = () => {}, onEnd = () => {} } = {}) {
    this.onChange = onChange;
    this.onEnd = onEnd;
  }

  get user() {
    return this.#tokens?.user ?? null;
  }

  /** The current access token (phoenix.js calls this on every connect). */
  get accessToken() {
    return this.#tokens?.access ?? null;
  }

  /** Picks up the tokens this tab kept across a reload; false if there are none. */
  restore() {
    const saved = sessionStorage.getItem(STORE);
    if (!saved) return false;
    try {
      this.#set(JSON.parse(saved));
    } catch {
      sessionStorage.removeItem(STORE);
      return false;
    }
    // A token that expired while the page was closed is refreshed at once.
    if (this.#tokens.expiresAt - Date.now() < 5000) this.refresh().catch(() => {});
    return true;
  }

  async login(email, password) {
    this.#accept(await call("POST", "/api/auth/login", {
      body: { email, password, device_id: deviceId(), device_info: deviceInfo() },
    }));
  }

  async register(email, username, password) {
    this.#accept(await call("POST", "/api/auth/register", {
      body: { email, username, password, device_id: deviceId(), device_info: deviceInfo() },
    }));
  }

  /** Signs out here at once, then on the server (best effort): the whole device, so every
   * tab of this browser is signed out too. */
  async logout() {
    const token = this.accessToken;
    this.end("You signed out.");
    if (token) await call("POST", "/api/auth/logout", { token }).catch(() => {});
  }

  /**
   * Exchanges the refresh token for a new pair. Refreshes are serialized: a refresh token may
   * be sent once only (docs/api.md, "Refresh token reuse"), so concurrent callers share one.
   */
  refresh() {
    this.#refreshing ??= (async () => {
      const refresh = this.#tokens?.refresh;
      if (!refresh) throw new ApiError(401, { code: "unauthorized", message: "not signed in" });
      try {
        const answer = await call("POST", "/api/auth/refresh", { body: { refresh_token: refresh } });
        if (this.#tokens?.refresh === refresh) this.#accept(answer); // unless signed out meanwhile
      } catch (e) {
        // Refused (revoked device, reused or expired token, deactivated account): signed out.
        // A network failure is not a refusal: keep the tokens and try again later.
        if (this.#tokens?.refresh !== refresh) throw e;
        if (e instanceof ApiError && (e.status === 401 || e.status === 403)) {
          this.end(e.code === "account_deactivated" ? e.message : "This device was signed out. Sign in again.");
        } else {
          this.#schedule(10);
        }
        throw e;
      }
    })().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  /**
   * An authenticated request. An expired or refused access token is refreshed once and the
   * request retried; if the refresh is refused the session ends.
   */
  async request(method, path, body) {
    if (this.#refreshing) await this.#refreshing.catch(() => {});
    const token = this.accessToken;
    try {
      return await call(method, path, { body, token });
    } catch (e) {
      const stale = e instanceof ApiError && (e.code === "token_expired" || e.code === "invalid_token");
      if (!stale || !this.#tokens) throw e;
      // Another request may have refreshed meanwhile: then just retry with its token.
      if (this.accessToken === token) await this.refresh();
      return call(method, path, { body, token: this.accessToken });
    }
  }

  /** Asks the server whether this session still stands (after the socket was refused). */
  async verify() {
    if (!this.#tokens) return;
    await this.request("GET", "/api/me").catch(() => {});
  }

  /** Forgets the tokens and tells the page; `reason` is shown to the person. */
  end(reason) {
    if (!this.#tokens) return;
    this.#tokens = null;
    clearTimeout(this.#timer);
    sessionStorage.removeItem(STORE);
    this.onEnd(reason);
  }

  #accept({ user, access_token, refresh_token, expires_in }) {
    this.#set({ user, access: access_token, refresh: refresh_token, expiresAt: Date.now() + expires_in * 1000 });
    sessionStorage.setItem(STORE, JSON.stringify(this.#tokens));
    this.onChange(this);
  }

  #set(tokens) {
    this.#tokens = tokens;
    const left = (tokens.expiresAt - Date.now()) / 1000;
    // A minute before expiry (or halfway, for short test lifetimes), as docs/realtime.md says.
    this.#schedule(left > 120 ? left - 60 : left / 2);
  }

  #schedule(seconds) {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.refresh().catch(() => {}), Math.max(seconds, 1) * 1000);
  }
}

/** The comment and device routes, called with the session's token. */
export function endpoints(session) {
  const v = (id) => encodeURIComponent(id);
  return {
    post: (videoId, content, clientId) =>
      session.request("POST", `/api/videos/${v(videoId)}/comments`, { content, client_id: clientId }),
    edit: (id, content) => session.request("PATCH", `/api/comments/${v(id)}`, { content }),
    remove: (id) => session.request("DELETE", `/api/comments/${v(id)}`),
    devices: () => session.request("GET", "/api/devices"),
    revokeDevice: (id) => session.request("DELETE", `/api/devices/${v(id)}`),
  };
}
