// A live-comment room client for realtime-server, made to be copied: it signs in over REST
// (docs/api.md), opens the official phoenix.js Socket, joins `video:<id>` (docs/realtime.md)
// and prints the room's comments, reactions, comings and goings and how many are watching,
// in a small room and in a large one alike.
//   cd docs/examples && npm ci && node room-client.mjs --seconds 30
import { parseArgs } from "node:util";
import { Socket, Presence } from "phoenix";
// Node 20 and 21 have no WebSocket built in: give phoenix.js the `ws` package's.
import WebSocket from "ws";

const USAGE = `usage: node room-client.mjs [options]
  --url URL        the server (default http://127.0.0.1:4000, where 'cargo xtask dev' serves)
  --email EMAIL    whom to sign in as (default carol@example.com, a demo user)
  --password PW    (default demo-password)
  --video ID       the room to join (default demo-video-1)
  --seconds N      print what arrives for N seconds, then leave (default: until Ctrl-C)
  --help           this text`;

function fail(message, code = 1) {
  console.error(`error: ${message}`);
  process.exit(code);
}

let options;
try {
  ({ values: options } = parseArgs({
    options: {
      url: { type: "string", default: "http://127.0.0.1:4000" },
      email: { type: "string", default: "carol@example.com" },
      password: { type: "string", default: "demo-password" },
      video: { type: "string", default: "demo-video-1" },
      seconds: { type: "string" },
      help: { type: "boolean", default: false },
    },
  }));
} catch (e) {
  fail(`${e.message}\n${USAGE}`, 2);
}
if (options.help) {
  console.log(USAGE);
  process.exit(0);
}
const seconds = options.seconds === undefined ? null : Number(options.seconds);
if (seconds !== null && !(seconds > 0)) fail(`--seconds wants a number above 0, not ${options.seconds}`, 2);
const api = options.url.replace(/\/+$/, "");
if (!URL.canParse(api)) fail(`--url wants a URL such as http://127.0.0.1:4000, not ${options.url}`, 2);

/** POSTs JSON to the REST API; throws the server's error message (and the status) if it refuses. */
async function post(path, body) {
  let res;
  try {
    res = await fetch(`${api}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch (e) {
    throw new Error(`cannot reach ${api} (${e.cause?.code ?? e.message}); is the server running? ` +
      "`cargo xtask dev` starts one on http://127.0.0.1:4000");
  }
  const reply = await res.json().catch(() => ({}));
  if (res.ok) return reply;
  // Errors have one shape (docs/api.md): {"error": {"code", "message", "details"?}}.
  throw Object.assign(new Error(reply.error?.message ?? `HTTP ${res.status}`), { status: res.status });
}

// Sign in. The device_id names this client's session (GET /api/devices lists it).
const login = await post("/api/auth/login", {
  email: options.email, password: options.password, device_id: "room-client",
}).catch((e) => fail(`cannot sign in as ${options.email}: ${e.message}`));
const tokens = { access: login.access_token, refresh: login.refresh_token };
console.log(`signed in as ${login.user.username}`);

// Refresh the access token before it expires (expires_in is in seconds); the socket's
// authToken is a function, so every reconnect sends the latest one.
async function refresh() {
  try {
    const session = await post("/api/auth/refresh", { refresh_token: tokens.refresh });
    tokens.access = session.access_token;
    tokens.refresh = session.refresh_token; // the old one is spent: never send it again
  } catch (e) {
    if (e.status === 401 || e.status === 403) fail(`the session ended: ${e.message}`);
    console.log(`could not refresh the token (${e.message}); trying again in 10 s`);
    setTimeout(refresh, 10_000);
  }
}
const refresher = setInterval(refresh, Math.max(login.expires_in - 60, login.expires_in / 2) * 1000);

const socketUrl = `${api.replace(/^http/, "ws")}/socket`; // phoenix.js adds /websocket
const socket = new Socket(socketUrl, { authToken: () => tokens.access, transport: WebSocket });
let connected = false;
let stopping = false;
socket.onOpen(() => { connected = true; console.log(`connected to ${socketUrl}/websocket`); });
socket.onClose((e) => {
  const why = e.reason ? `${e.code} ${e.reason}` : e.code; // docs/realtime.md lists the codes
  if (connected && !stopping) console.log(`disconnected (${why}); phoenix.js reconnects`);
  connected = false;
});
socket.connect();

// The recovery rule (docs/realtime.md): `position` is the highest position up to which this
// client has every comment; a rejoin asks for the comments after it.
let position = null;
const early = new Set(); // positions that overtook one before them, which follows shortly
function stand(upTo) {
  position = Math.max(position ?? 0, upTo);
  for (const p of early) if (p <= position) early.delete(p);
  while (early.delete(position + 1)) position += 1;
}
const shown = new Map(); // id -> comment: a comment can arrive twice, keep the newest version
const deleted = new Set(); // a deletion is final
const line = (c) => `#${c.position} ${c.username}: ${c.content}`;
function keep(comment, label) {
  const known = shown.get(comment.id);
  if (deleted.has(comment.id) || (known && known.version >= comment.version)) return;
  shown.set(comment.id, comment);
  console.log(`${label} ${line(comment)}`);
}
let here = new Map(); // user id -> username, from phoenix.js's Presence
let mode = "small"; // a large room lists nobody but you in presence: count from room_stats
let watching = null;
let channel;

function open() {
  channel = socket.channel(`video:${options.video}`, () => (position === null ? {} : { after: position }));
  channel.on("new_comment", ({ comment, held }) => {
    // Held: the large room's budget was spent; only its author and moderators get it.
    keep(comment, held ? "held (only you and moderators see it)" : "new");
    if (position !== null && comment.position > position) { early.add(comment.position); stand(position); }
  });
  channel.on("comment_updated", ({ comment }) => { if (shown.has(comment.id)) keep(comment, "edited"); });
  channel.on("comment_deleted", ({ id }) => {
    const gone = shown.get(id);
    deleted.add(id);
    shown.delete(id);
    console.log(`deleted ${gone ? line(gone) : id}`);
  });
  channel.on("reaction", ({ user_id, emoji }) => {
    console.log(`reaction ${emoji} from ${here.get(user_id) ?? user_id}`);
  });
  // A large room counts reactions: one frame a window, summed over everyone.
  channel.on("reactions", ({ counts }) => {
    console.log(`reactions ${Object.entries(counts).map(([e, n]) => `${e}×${n}`).join(" ")}`);
  });
  // The count, in both modes: on join, then at most once a second while it changes.
  channel.on("room_stats", (stats) => {
    if (stats.mode !== mode) console.log(stats.mode === "large"
      ? "the room is large: reactions are counted and some comments are sampled"
      : "the room is small again: every comment and reaction");
    mode = stats.mode;
    const sampled = stats.posted_per_second > stats.shown_per_second
      ? ` (showing ${stats.shown_per_second} of ${stats.posted_per_second} comments a second)` : "";
    const now = `${stats.viewers} watching${sampled}`;
    if (now !== watching) console.log(now);
    watching = now;
  });
  // One key per user, one meta per connection: a user with two tabs is here once.
  const presence = new Presence(channel);
  presence.onSync(() => {
    if (mode === "large") return; // presence holds only you there
    const now = new Map(presence.list((id, { metas }) => [id, metas[0].username]));
    for (const [id, name] of now) if (!here.has(id)) console.log(`here: ${name}`);
    for (const [id, name] of here) if (!now.has(id)) console.log(`left: ${name}`);
    here = now;
  });
  channel.join()
    .receive("ok", ({ comments, complete, sampled, position: upTo }) => {
      const first = position === null;
      console.log(first ? `joined video:${options.video} (${comments.length} recent comments)`
        : sampled ? `rejoined video:${options.video}: the room is busy, older comments skipped`
        : `rejoined video:${options.video} (${comments.length} comments after #${position})`);
      for (const c of comments) keep(c, first ? " " : "new"); // oldest first
      stand(upTo);
      // More was missed than one reply holds: join again from where this client now stands.
      if (complete === false) { channel.leave(); open(); }
    })
    .receive("error", ({ reason }) => {
      if (position === null) fail(`cannot join video:${options.video}: ${reason}`);
      console.log(`rejoin refused (${reason}); phoenix.js tries again`);
    })
    .receive("timeout", () => console.log("no answer to the join yet; phoenix.js tries again"));
}
open();

// Leave the room, close the socket, exit 0: after --seconds, or on Ctrl-C.
function stop() {
  stopping = true;
  clearInterval(refresher);
  const done = () => socket.disconnect(() => process.exit(0));
  channel.leave(1000).receive("ok", done).receive("timeout", done);
}
if (seconds !== null) setTimeout(stop, seconds * 1000);
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
