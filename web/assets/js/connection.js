// The WebSocket (docs/realtime.md): one phoenix.js Socket per signed-in tab, the connection
// state the page shows, and what to do when the server closes or refuses the socket.
import { Socket } from "../vendor/phoenix.mjs";

/** Connection states, as the page shows them (the status element's data-state). */
export const State = Object.freeze({
  SIGNED_OUT: "signed-out", // no session, so no socket: nothing is wrong
  CONNECTING: "connecting", // signed in, not connected yet, or joining the room for the first time
  LIVE: "live", // connected, and the room (if one is open) joined
  RECONNECTING: "reconnecting", // was live, lost the socket or the room; phoenix.js retries
});

export class Connection {
  #socket;
  #session;
  #everOpened = false;
  #room = null;
  #lastCheck = 0;

  /** `onState(state)` fires whenever the state may have changed. */
  constructor(session, onState) {
    this.#session = session;
    this.onState = onState;
    this.#socket = new Socket("/socket", {
      // A function, so every (re)connect sends the latest access token: after a refresh, the
      // next connect uses the new one. Sent as a Sec-WebSocket-Protocol entry, not in the URL.
      authToken: () => session.accessToken ?? "",
    });
    this.#socket.onOpen(() => {
      this.#everOpened = true;
      this.changed();
    });
    this.#socket.onClose((event) => {
      this.changed();
      // 4001: the access token expired; 1001: the device was revoked (or the user
      // deactivated, or the socket idled). Either way, ask the API: it refreshes the token,
      // or finds the session over and signs this tab out.
      if (event.code === 4001 || event.code === 1001) this.#check(true);
    });
    // A refused handshake (403: expired token, revoked device) is only an error event in a
    // browser, with no status; check the session, at most every few seconds.
    this.#socket.onError(() => {
      this.changed();
      this.#check(false);
    });
    this.#socket.connect();
    this.changed();
  }

  get socket() {
    return this.#socket;
  }

  /** The room whose join state counts toward "live" (null: none open). */
  set room(room) {
    this.#room = room;
    this.changed();
  }

  get state() {
    if (!this.#socket) return State.SIGNED_OUT;
    const connected = this.#socket.isConnected();
    const roomReady = !this.#room || this.#room.joined;
    if (connected && roomReady) return State.LIVE;
    const wasLive = this.#everOpened && (!this.#room || this.#room.everJoined);
    return wasLive ? State.RECONNECTING : State.CONNECTING;
  }

  changed() {
    this.onState(this.state);
  }

  /** Closes the socket for good (signing out). */
  close() {
    this.#socket?.disconnect();
    this.#socket = null;
    this.changed();
  }

  #check(now) {
    if (!now && Date.now() - this.#lastCheck < 3000) return;
    this.#lastCheck = Date.now();
    this.#session.verify();
  }
}
