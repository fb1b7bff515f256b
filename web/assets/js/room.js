// One `video:<id>` room (docs/realtime.md): the channel, its comments kept by id, presence
// with phoenix.js's Presence, reactions, and the room's own figures (`room_stats`: how many
// watch, and whether the room is small or large). It holds the data; the page draws it.
import { Presence } from "../vendor/phoenix.mjs";
import { tooFast } from "./api.js";

export class Room {
  #channel;
  #presence;
  // Where this tab stands in the room: it has every comment up to this position (the
  // join's `after` when rejoining; docs/realtime.md, "The recovery rule").
  #position = null;
  #early = new Set(); // positions that overtook one before them
  #deleted = new Set(); // a deletion is final: later updates of these are ignored
  #held = new Set(); // ids of comments held back from the room (a large room's budget)
  #view;

  /**
   * `view` receives what changes: comment(c, {live, held}), removed(id), presence(entries),
   * reaction({userId, username, emoji}) (a small room), reactions(counts, windowMs) (a large
   * room's window), stats({viewers, connections, mode, ...}), sampled() (a rejoin that skipped
   * comments), joinError(reason or null once joined), and cleared() before the first list.
   */
  constructor(connection, videoId, view) {
    this.videoId = videoId;
    this.joined = false;
    this.everJoined = false;
    this.large = false; // the last room_stats said "large"
    this.comments = new Map(); // id -> comment: a comment seen twice is still one
    this.#view = view;
    this.connection = connection;
    this.#open();
  }

  #open() {
    const socket = this.connection.socket;
    // The params are a function: phoenix.js calls it on every rejoin (after each reconnect,
    // or a phx_error), so the server sends exactly the comments stored after our position.
    const channel = socket.channel(`video:${this.videoId}`, () =>
      this.#position === null ? {} : { after: this.#position });
    this.#channel = channel;

    // `held`: a large room held this comment back from the others (its budget was spent);
    // it reaches only its author and the moderators.
    channel.on("new_comment", ({ comment, held }) => this.#add(comment, true, held === true));
    channel.on("comment_updated", ({ comment }) => {
      const known = this.comments.get(comment.id);
      if (!known) return; // not loaded here (or deleted): nothing to update
      // Two quick edits' broadcasts may cross: the greater version is the later edit.
      if (known.version >= comment.version) return;
      this.comments.set(comment.id, comment);
      this.#view.comment(comment, { live: false, held: this.#held.has(comment.id) });
    });
    channel.on("comment_deleted", ({ id }) => this.#remove(id));
    // A small room relays each reaction; a large one counts them and sends the counts once a
    // window, to everyone (the sender included).
    channel.on("reaction", ({ user_id, emoji }) =>
      this.#view.reaction({ userId: user_id, username: this.#nameOf(user_id), emoji }));
    channel.on("reactions", ({ counts = {}, window_ms }) => this.#view.reactions(counts, window_ms));
    // How many watch comes from here in rooms of any size: a large room's presence holds
    // only this user.
    channel.on("room_stats", (stats) => {
      this.large = stats.mode === "large";
      this.#view.stats(stats);
    });

    this.#presence = new Presence(channel);
    this.#presence.onSync(() => this.#view.presence(this.presence()));

    // (A channel left for a fresh join below may close after its successor joined.)
    channel.onError(() => channel === this.#channel && this.#setJoined(false));
    channel.onClose(() => channel === this.#channel && this.#setJoined(false));
    channel
      .join()
      // Runs for the first join and for every rejoin: the same push is sent again.
      .receive("ok", ({ comments = [], complete, position = 0, sampled }) => {
        if (this.#position === null) this.#view.cleared();
        // A large room answers a rejoin with its latest comments, not every one since.
        if (sampled) this.#view.sampled();
        for (const c of comments) this.#add(c, false);
        this.#stand(position);
        this.#view.joinError(null);
        this.#setJoined(true);
        // More than one reply's worth was missed: join again from where it now stands.
        if (complete === false && channel === this.#channel) {
          channel.leave();
          this.#open();
        }
      })
      // phoenix.js retries a refused join with backoff (the database may be back shortly).
      .receive("error", ({ reason }) => this.#view.joinError(reason));
  }

  /** Sends a reaction; resolves when the server took it, rejects with its reason. */
  react(emoji) {
    return new Promise((resolve, reject) => {
      this.#channel
        .push("reaction", { emoji })
        .receive("ok", resolve)
        // A rate limit's reply carries the server's words, or at least the wait.
        .receive("error", ({ reason, message, retry_after_ms }) => reject(new Error(reason === "rate_limited"
          ? message || tooFast(retry_after_ms / 1000) : message || reason)))
        .receive("timeout", () => reject(new Error("The server did not answer; try again.")));
    });
  }

  /**
   * Who is here: one entry per user, with `count` connections (one meta each: a tab, or an
   * app) from `devices` devices (the metas' distinct device_id).
   */
  presence() {
    return this.#presence.list((userId, { metas }) => ({
      userId,
      username: metas[0]?.username ?? "someone",
      count: metas.length,
      devices: new Set(metas.map((m) => m.device_id)).size,
    }));
  }

  /** A comment the page got another way (the answer to its own post): same as a broadcast. */
  upsert(comment) {
    this.#add(comment, false);
  }

  forget(id) {
    this.#remove(id);
  }

  leave() {
    this.#channel.leave();
    this.#setJoined(false);
  }

  #add(comment, live, held = false) {
    if (comment.video_id !== this.videoId || this.#deleted.has(comment.id)) return;
    if (this.#position !== null && comment.position > this.#position) {
      // A large room shows only some comments: the gaps are comments held back from this
      // tab, which will not follow, so it stands at the newest it got.
      if (this.large) this.#stand(comment.position);
      else {
        this.#early.add(comment.position);
        this.#stand(this.#position);
      }
    }
    const known = this.comments.get(comment.id);
    // The answer to this tab's own post may come first; the broadcast then says it was held.
    const newlyHeld = held && !this.#held.has(comment.id);
    if (held) this.#held.add(comment.id);
    if (known && known.version >= comment.version && !newlyHeld) return;
    const newest = known && known.version >= comment.version ? known : comment;
    this.comments.set(comment.id, newest);
    this.#view.comment(newest, { live: live && !known, held: this.#held.has(comment.id) });
  }

  /** Moves the position to `upTo`, then on through positions that had arrived early. */
  #stand(upTo) {
    this.#position = Math.max(this.#position ?? 0, upTo);
    for (const p of this.#early) if (p <= this.#position) this.#early.delete(p);
    while (this.#early.delete(this.#position + 1)) this.#position += 1;
  }

  #remove(id) {
    this.#deleted.add(id);
    if (this.comments.delete(id)) this.#view.removed(id);
  }

  #nameOf(userId) {
    return this.#presence.state[userId]?.metas[0]?.username ?? "someone";
  }

  #setJoined(joined) {
    this.joined = joined;
    if (joined) this.everJoined = true;
    this.connection.changed();
  }
}
