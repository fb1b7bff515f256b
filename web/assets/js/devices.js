// The devices panel (docs/api.md, Authenticating): the user's devices and a Revoke button on
// each. Revoking this one signs this browser out: the server closes its sockets with 1001 and
// its refresh token stops working, which the session notices on its own.
import { el, showError, time } from "./ui.js";

/** A short name for a device from what the client said about itself at sign-in. */
function describeDevice(device) {
  const info = device.device_info ?? {};
  const agent = typeof info.user_agent === "string" ? info.user_agent : "";
  const browser = /(Firefox|Edg|Chrome|Safari)\/[\d.]+/.exec(agent)?.[0].replace("Edg/", "Edge/");
  const client = typeof info.client === "string" ? info.client : null;
  return [client, browser].filter(Boolean).join(", ") || device.device_id;
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
        "aria-label": `Revoke ${label}${device.current ? " (this browser)" : ""}`,
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
      return el("li", {
        className: device.current ? "device current" : "device",
        dataset: { testid: "device", deviceId: device.device_id, current: String(device.current) },
      },
      el("div", {},
        el("strong", {}, label),
        device.current ? el("span", { className: "badge" }, "this browser") : null,
        el("div", { className: "muted" }, device.device_id, " · last seen ", time(device.last_seen_at))),
      revoke);
    }));
  }
}
