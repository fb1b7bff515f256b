// The page's wiring: which section shows when, and what each form and button does. The
// protocol lives in api.js (REST, tokens), connection.js (the socket) and room.js (a room).
import { Session, demoData, endpoints, randomId } from "./api.js";
import { Connection, State } from "./connection.js";
import { Room } from "./room.js";
import { CommentList } from "./comments.js";
import { DevicesPanel } from "./devices.js";
import { $, announce, el, plural, show, showError } from "./ui.js";

const STATUS_TEXT = {
  [State.SIGNED_OUT]: "Signed out",
  [State.CONNECTING]: "Connecting…",
  [State.LIVE]: "Live",
  [State.RECONNECTING]: "Reconnecting…",
};

let connection = null;
let room = null;

const session = new Session({ onChange: signedIn, onEnd: signedOut });
const api = endpoints(session);
const comments = new CommentList($("#comments"), $("#comments-empty"), {
  edit: async (id, content) => {
    const updated = await api.edit(id, content);
    room?.upsert(updated);
    return updated;
  },
  remove: async (id) => {
    await api.remove(id);
    room?.forget(id); // the broadcast may come later; it finds nothing left
  },
}, () => session.user);
const devices = new DevicesPanel($("#device-list"), $("[data-testid=devices-error]"), api,
  () => session.end("You revoked this browser: it is signed out."));

// --- Status -------------------------------------------------------------------------------

function setStatus(state) {
  const status = $("#connection-status");
  if (status.dataset.state === state) return;
  status.dataset.state = state;
  status.textContent = STATUS_TEXT[state];
}

function notice(text) {
  const node = $("#notice");
  node.textContent = text ?? "";
  show(node, Boolean(text));
}

// --- Signing in and out --------------------------------------------------------------------

function signedIn() {
  const user = session.user;
  $("#account-name").textContent = user.username;
  $("#account-role").textContent = user.role === "user" ? "" : `(${user.role})`;
  show($("#account"), true);
  show($("#auth"), false);
  show($("#picker"), true);
  notice(null);
  // After a refresh the socket stays: its authToken function hands the new token to the next
  // connect. Only a first sign-in opens one.
  if (!connection) {
    connection = new Connection(session, setStatus);
    const video = new URLSearchParams(location.hash.slice(1)).get("video");
    if (video) openRoom(video);
  }
}

function signedOut(reason) {
  closeRoom();
  connection?.close();
  connection = null;
  setStatus(State.SIGNED_OUT);
  show($("#account"), false);
  show($("#picker"), false);
  show($("#devices"), false);
  $("#devices-toggle").setAttribute("aria-expanded", "false");
  show($("#auth"), true);
  notice(reason);
  $("#login-email").focus();
}

async function submitAuth(form, action) {
  const error = form.querySelector(".error");
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  showError(error, null);
  try {
    await action(new FormData(form));
    form.reset();
    $("#room-video").focus();
  } catch (e) {
    showError(error, e);
  } finally {
    button.disabled = false;
  }
}

$("#login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitAuth(event.target, (f) => session.login(f.get("email"), f.get("password")));
});

$("#register-form").addEventListener("submit", (event) => {
  event.preventDefault();
  submitAuth(event.target, (f) => session.register(f.get("email"), f.get("username"), f.get("password")));
});

$("#sign-out").addEventListener("click", () => session.logout());

// --- Devices -------------------------------------------------------------------------------

$("#devices-toggle").addEventListener("click", (event) => {
  const open = event.currentTarget.getAttribute("aria-expanded") !== "true";
  event.currentTarget.setAttribute("aria-expanded", String(open));
  show($("#devices"), open);
  if (open) devices.load();
});

// --- Demo data -----------------------------------------------------------------------------

// The demo logins and videos are shown only where the server says they exist (`realtime-server
// seed` ran on its database); an older server (404) or any failure shows none.
async function showDemo() {
  const demo = await demoData();
  if (!demo) return;
  if (demo.users.length && demo.password) {
    const users = demo.users.flatMap(({ email, role }, i) =>
      [i ? ", " : "", el("code", {}, email), role === "user" ? "" : ` (${role})`]);
    $("#demo-hint").replaceChildren("Demo users: ", ...users, "; password ", el("code", {}, demo.password), ".");
    show($("#demo-hint"), true);
  }
  if (demo.videos.length) {
    $("#demo-videos").replaceChildren(...demo.videos.map((id) => el("option", { value: id })));
    $("#demo-videos-links").replaceChildren("Demo videos: ", ...demo.videos.map((id) =>
      el("button", { type: "button", className: "link", onclick: () => openRoom(id) }, id)));
    show($("#demo-videos-links"), true);
  }
}

// --- The room ------------------------------------------------------------------------------

/** Leaves the open room (if any) and empties its view. */
function closeRoom() {
  room?.leave();
  room = null;
  if (connection) connection.room = null;
  comments.clear();
  $("#presence").replaceChildren();
  $("#reactions").replaceChildren();
  resetStats();
  show($("#comments-sampled"), false);
  showError($("#room-error"), null);
  showError($("[data-testid=reaction-error]"), null);
  showError($("[data-testid=comment-error]"), null);
  show($("#room"), false);
}

function openRoom(videoId) {
  closeRoom();
  $("#room-title").textContent = `Room ${videoId}`;
  $("#room-video").value = videoId;
  show($("#room"), true);
  history.replaceState(null, "", `#video=${encodeURIComponent(videoId)}`);
  room = new Room(connection, videoId, {
    cleared: () => comments.clear(),
    comment: (comment, { live, held }) => {
      comments.upsert(comment, { held });
      if (live && comment.user_id !== session.user?.id) {
        announce(`New comment from ${comment.username}: ${comment.content}`);
      }
    },
    removed: (id) => comments.remove(id),
    presence: renderPresence,
    reaction: ({ username, emoji }) => addReaction(username, emoji),
    reactions: addBursts,
    stats: renderStats,
    sampled: () => show($("#comments-sampled"), true),
    joinError: (reason) =>
      showError($("#room-error"), reason && new Error(`Cannot join this room (${reason}); retrying.`)),
  });
  connection.room = room;
}

/**
 * Who is here, one line per person. Someone connected more than once gets a badge saying
 * what it counts: "2 tabs" (one device, i.e. browser or app), or "2 devices" (its title and
 * the screen-reader text say how many tabs those hold).
 */
function renderPresence(entries) {
  const me = session.user?.id;
  entries.sort((a, b) => a.username.localeCompare(b.username));
  $("#presence").replaceChildren(...entries.map(({ userId, username, count, devices }) => {
    let badge = null;
    if (count > 1) {
      const short = devices > 1 ? plural(devices, "device") : plural(count, "tab");
      const long = devices > 1
        ? `Here from ${plural(devices, "device")}${count > devices ? `, ${count} tabs in all` : ""}`
        : `Here in ${plural(count, "tab")} on one device`;
      badge = [
        el("span", { className: "badge", title: long, "aria-hidden": "true", dataset: { testid: "presence-badge" } }, short),
        el("span", { className: "visually-hidden" }, `, ${long.toLowerCase()}`),
      ];
    }
    return el("li", { dataset: { testid: "presence-user", userId, username, count: String(count), devices: String(devices) } },
      el("span", { className: "dot", "aria-hidden": "true" }),
      username,
      userId === me ? el("span", { className: "muted" }, " (you)") : null,
      badge);
  }));
}

/**
 * The room's own figures (`room_stats`, sent in rooms of any size): "N watching", with the
 * connections when they differ. A large room's presence holds only this user, so there the
 * count stands for the list, with a note on what the room shows.
 */
function renderStats({ viewers = 0, connections = 0, mode, posted_per_second: posted = 0, shown_per_second: shown = 0 }) {
  const large = mode === "large";
  const count = $("#room-count");
  count.textContent = `${viewers} watching${connections === viewers ? "" : ` · ${plural(connections, "connection")}`}`;
  Object.assign(count.dataset, { viewers: String(viewers), connections: String(connections) });
  show(count, true);
  const roomNode = $("#room");
  if (roomNode.dataset.mode && roomNode.dataset.mode !== mode) {
    announce(large ? "The room is busy: reactions are counted and some comments are sampled."
      : "The room is small again: everyone here is listed.");
  }
  roomNode.dataset.mode = mode;
  show($("#presence"), !large);
  const rate = (n) => String(Math.round(n * 10) / 10);
  $("#room-mode").replaceChildren(
    "Large room: only the count of who is here is shown; reactions are counted and some comments are sampled.",
    ...(posted > shown ? [el("span", { dataset: { testid: "room-rate" } }, ` Showing ${rate(shown)} of ${rate(posted)} comments a second.`)] : []));
  show($("#room-mode"), large);
}

function resetStats() {
  show($("#room-count"), false);
  show($("#room-mode"), false);
  show($("#presence"), true);
  delete $("#room").dataset.mode;
}

function prependReaction(item) {
  const list = $("#reactions");
  list.prepend(item);
  while (list.children.length > 8) list.lastElementChild.remove();
}

function addReaction(username, emoji) {
  prependReaction(el("li", { className: "reaction", dataset: { testid: "reaction" } },
    el("span", { className: "emoji" }, emoji), ` ${username}`));
}

const BURST_MAX = 10; // floating emoji per emoji and window; "+N" says the rest

/**
 * A large room's reactions, counted over one window: a burst per emoji, as many emoji as
 * were sent (at most BURST_MAX, then "+N"), popping in one after another as a single
 * reaction does. Past 64 emoji in a window the server counts the rest as "other".
 */
function addBursts(counts, windowMs) {
  const entries = Object.entries(counts).filter(([, n]) => n > 0).sort(([, a], [, b]) => a - b);
  for (const [emoji, count] of entries) { // the biggest ends up first
    const other = emoji === "other";
    const floats = other ? 1 : Math.min(count, BURST_MAX);
    const more = count - floats;
    const label = other ? `${count} other reactions` : `${count} × ${emoji}`;
    prependReaction(el("li", {
      className: "reaction burst", title: windowMs ? `${label} in ${windowMs} ms` : label,
      dataset: { testid: "reaction-burst", emoji, count: String(count) },
    },
    el("span", { className: "burst-emoji", "aria-hidden": "true" },
      Array.from({ length: floats }, () => el("span", { className: "emoji float" }, other ? "✨" : emoji))),
    more > 0 ? el("span", { className: "more", "aria-hidden": "true", dataset: { testid: "reaction-more" } }, `+${more}`) : null,
    el("span", { className: "visually-hidden" }, label)));
  }
}

$("#room-form").addEventListener("submit", (event) => {
  event.preventDefault();
  openRoom($("#room-video").value.trim());
});

$("#room-leave").addEventListener("click", () => {
  closeRoom();
  history.replaceState(null, "", location.pathname + location.search);
  announce("You left the room.");
  $("#room-video").focus();
});

// Posting goes over REST: its errors carry the wait (Retry-After) and the field details. The
// comment arrives over the socket as well; the room keeps one per id. A client_id makes a
// retried post (a lost answer, a double click) return the same comment.
const commentForm = $("#comment-form");
let pending = null; // {content, clientId}: retried with the same client_id until it succeeds

async function postComment() {
  const area = $("#comment-content");
  const error = commentForm.querySelector(".error");
  const button = commentForm.querySelector("button[type=submit]");
  if (!room || button.disabled) return;
  if (pending?.content !== area.value) pending = { content: area.value, clientId: randomId("c-") };
  button.disabled = true;
  showError(error, null);
  try {
    const comment = await api.post(room.videoId, pending.content, pending.clientId);
    room.upsert(comment);
    pending = null;
    area.value = "";
  } catch (e) {
    // A retry whose comment was deleted meanwhile answers conflict: the next try is new.
    if (e.code === "conflict") pending = null;
    showError(error, e);
  } finally {
    button.disabled = false;
    area.focus();
  }
}

commentForm.addEventListener("submit", (event) => {
  event.preventDefault();
  postComment();
});

$("#comment-content").addEventListener("keydown", (event) => {
  if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
    event.preventDefault();
    postComment();
  }
});

for (const button of document.querySelectorAll("[data-emoji]")) {
  button.addEventListener("click", async () => {
    const error = $("[data-testid=reaction-error]");
    showError(error, null);
    try {
      await room?.react(button.dataset.emoji);
      // A small room sends reactions to the others only; a large one counts this one in its
      // next window's burst, which comes back here too.
      if (room && !room.large) addReaction("you", button.dataset.emoji);
    } catch (e) {
      showError(error, e);
    }
  });
}

// --- Start ---------------------------------------------------------------------------------

if (!session.restore()) signedOut(null);
else signedIn();
showDemo();
