// One `video:<id>` room (docs/realtime.md): the channel, its comments kept by id, presence
// with phoenix.js's Presence, and reactions. It holds the data; the page draws it.
import { Presence } from "../vendor/phoenix.mjs";

/** UUIDv7 ids sort by creation time as strings, so the newest id is the greatest. */
const newer = (a, b) => (a && a > b ? a : b);

export class Room {
  #channel;
  #presence;
  #lastSeen = null; // the newest comment id seen: the join's `since` when rejoining
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
    // The params are a function: phoenix.js calls it on every rejoin (after each reconnect),
    // so the server sends exactly the comments posted since the newest one we have.
    const channel = socket.channel(`video:${this.videoId}`, () =>
      this.#lastSeen ? { since: this.#lastSeen } : {});
    this.#channel = channel;

    channel.on("new_comment", ({ comment }) => this.#add(comment, true));
    channel.on("comment_updated", ({ comment }) => {
      if (!this.comments.has(comment.id)) return; // not loaded here: nothing to update
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
      .receive("ok", ({ comments = [], complete }) => {
        if (!this.#lastSeen) this.#view.cleared();
        for (const c of comments) this.#add(c, false);
        this.#view.joinError(null);
        this.#setJoined(true);
        // More than one reply's worth was missed: join again from the newest one received.
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
        .receive("error", ({ reason }) => reject(new Error(reason === "rate_limited"
          ? "Too many reactions: wait a moment." : reason)))
        .receive("timeout", () => reject(new Error("The server did not answer; try again.")));
    });
  }

  /** Who is here: one entry per user, however many tabs or devices, with their count. */
  presence() {
    return this.#presence.list((userId, { metas }) => ({
      userId,
      username: metas[0]?.username ?? "someone",
      count: metas.length,
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
    if (comment.video_id !== this.videoId) return;
    this.#lastSeen = newer(this.#lastSeen, comment.id);
    const known = this.comments.has(comment.id);
    this.comments.set(comment.id, comment);
    this.#view.comment(comment, { live: live && !known });
  }

  #remove(id) {
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
