// The devices panel (docs/api.md, Authenticating): the user's devices and a Revoke button on
// each. Revoking this one signs this browser out: the server closes its sockets with 1001 and
// its refresh token stops working, which the session notices on its own.
import { browserName } from "./api.js";
import { ago, el, showError, time } from "./ui.js";

/**
 * A device's name, from what its client said about itself at sign-in: the `name` this page
 * sends ("Chrome on Linux"), else one made from a `user_agent`, else the device id.
 */
function describeDevice(device) {
  const info = device.device_info ?? {};
  const name = typeof info.name === "string" && info.name.trim() ? info.name.trim() : browserName(info.user_agent);
  return name || device.device_id;
}

export class DevicesPanel {
  #list;
  #error;

  /** `api` = {devices(), revokeDevice(id)}; `onRevokedSelf()` runs after revoking this device. */
  constructor(list, error, api, onRevokedSelf) {
    this.#list = list;
    this.#error = error;
    this.api = api;
    this.onRevokedSelf = onRevokedSelf;
  }

  async load() {
    showError(this.#error, null);
    try {
      const { devices } = await this.api.devices();
      this.#render(devices.filter((d) => d.is_active));
    } catch (e) {
      showError(this.#error, e);
    }
  }

  #render(devices) {
    this.#list.replaceChildren(...devices.map((device) => {
      const label = describeDevice(device);
      const revoke = el("button", {
        type: "button", className: "small danger", dataset: { testid: "device-revoke" },
        "aria-label": `Revoke ${label}${device.current ? " (this device)" : ""}`,
        onclick: async () => {
          revoke.disabled = true;
          try {
            await this.api.revokeDevice(device.id);
            if (device.current) this.onRevokedSelf();
            else await this.load();
          } catch (e) {
            revoke.disabled = false;
            showError(this.#error, e);
          }
        },
      }, "Revoke");
      // What tells two devices apart: the name, when each was last seen, which one is this.
      return el("li", {
        className: device.current ? "device current" : "device",
        dataset: { testid: "device", deviceId: device.device_id, current: String(device.current) },
      },
      el("div", {},
        el("strong", { dataset: { testid: "device-name" } }, label),
        device.current ? el("span", { className: "badge", dataset: { testid: "device-this" } }, "this device") : null,
        el("div", { className: "muted", dataset: { testid: "device-seen" } },
          device.last_seen_at ? ["last seen ", ago(device.last_seen_at)] : "never seen",
          device.inserted_at ? [" · signed in ", time(device.inserted_at)] : null),
        el("div", { className: "muted device-id" }, "id ", el("code", {}, device.device_id))),
      revoke);
    }));
  }
}
