// One `video:<id>` room (docs/realtime.md): the channel, its comments kept by id, presence
// with phoenix.js's Presence, and reactions. It holds the data; the page draws it.
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
  #view;

  /**
   * `view` receives what changes: comment(c, {live}), removed(id), presence(entries),
   * reaction({userId, username, emoji}), joinError(reason or null once joined), and cleared()
   * before the first list.
   */
  constructor(connection, videoId, view) {
    this.videoId = videoId;
    this.joined = false;
    this.everJoined = false;
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

    channel.on("new_comment", ({ comment }) => this.#add(comment, true));
    channel.on("comment_updated", ({ comment }) => {
      const known = this.comments.get(comment.id);
      if (!known) return; // not loaded here (or deleted): nothing to update
      // Two quick edits' broadcasts may cross: the greater version is the later edit.
      if (known.version >= comment.version) return;
      this.comments.set(comment.id, comment);
      this.#view.comment(comment, { live: false });
    });
    channel.on("comment_deleted", ({ id }) => this.#remove(id));
    channel.on("reaction", ({ user_id, emoji }) =>
      this.#view.reaction({ userId: user_id, username: this.#nameOf(user_id), emoji }));

    this.#presence = new Presence(channel);
    this.#presence.onSync(() => this.#view.presence(this.presence()));

    // (A channel left for a fresh join below may close after its successor joined.)
    channel.onError(() => channel === this.#channel && this.#setJoined(false));
    channel.onClose(() => channel === this.#channel && this.#setJoined(false));
    channel
      .join()
      // Runs for the first join and for every rejoin: the same push is sent again.
      .receive("ok", ({ comments = [], complete, position = 0 }) => {
        if (this.#position === null) this.#view.cleared();
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

  #add(comment, live) {
    if (comment.video_id !== this.videoId || this.#deleted.has(comment.id)) return;
    if (this.#position !== null && comment.position > this.#position) {
      this.#early.add(comment.position);
      this.#stand(this.#position);
    }
    const known = this.comments.get(comment.id);
    if (known && known.version >= comment.version) return;
    this.comments.set(comment.id, comment);
    this.#view.comment(comment, { live: live && !known });
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
