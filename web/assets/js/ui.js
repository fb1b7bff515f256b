// Small DOM helpers shared by the views. Everything a person or the server wrote is set as
// text (textContent), never as HTML, so a comment cannot inject markup.
import { ApiError, NetworkError, tooFast } from "./api.js";

export const $ = (selector, root = document) => root.querySelector(selector);

/** el("button", {type: "button", dataset: {testid: "x"}}, "text", child, [more, children], ...) */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key in node && !key.startsWith("aria")) node[key] = value;
    else node.setAttribute(key, value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export function show(node, visible) {
  node.hidden = !visible;
}

/** The words a person reads for an error, as the API states it (docs/api.md, Errors). */
export function describe(error) {
  if (error instanceof ApiError) {
    // The server's words as they are ("You're posting too fast; try again in 2 s"); ours,
    // from Retry-After, only when it gave none.
    if (error.code === "rate_limited") return error.message || tooFast(error.retryAfter);
    if (error.code === "validation_failed" && error.details.length) {
      return error.details.map((d) => `${d.field}: ${d.message}`).join("; ");
    }
    return error.message;
  }
  if (error instanceof NetworkError) return "The server cannot be reached; try again shortly.";
  return error?.message ?? String(error);
}

/** Shows an error (or hides the element when `error` is null). */
export function showError(node, error) {
  node.textContent = error ? describe(error) : "";
  show(node, Boolean(error));
}

export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "short", timeStyle: "short" });

export function time(iso) {
  return el("time", { dateTime: iso, title: iso }, timeFormat.format(new Date(iso)));
}

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const UNITS = [["year", 31536000], ["month", 2592000], ["week", 604800], ["day", 86400], ["hour", 3600], ["minute", 60]];

/** "just now", "5 minutes ago", "yesterday": a <time> whose title is the exact moment. */
export function ago(iso, now = Date.now()) {
  const seconds = Math.max(0, (now - new Date(iso).getTime()) / 1000);
  const [unit, size] = UNITS.find(([, size]) => seconds >= size) ?? [];
  const text = unit ? relative.format(-Math.floor(seconds / size), unit) : "just now";
  return el("time", { dateTime: iso, title: timeFormat.format(new Date(iso)) }, text);
}

/** Says `text` to screen readers through the page's polite live region. */
export function announce(text) {
  const region = $("#announcer");
  region.textContent = "";
  // A fresh text node in a cleared region is read even when the text repeats.
  requestAnimationFrame(() => {
    region.textContent = text;
  });
}
