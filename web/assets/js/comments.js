// The comment list of a room: one <li> per comment id, in id (= time) order, with Edit and
// Delete where the policy allows (docs/api.md: authors edit and delete their own; moderators
// and admins delete anyone's). A comment a large room held back (docs/realtime.md) says so:
// to its author, that only they and the moderators see it; to a moderator, that it was held.
import { el, show, showError, time } from "./ui.js";

export function canEdit(user, comment) {
  return user?.id === comment.user_id;
}

export function canDelete(user, comment) {
  return user?.id === comment.user_id || user?.role === "moderator" || user?.role === "admin";
}

export class CommentList {
  #list;
  #empty;
  #items = new Map(); // id -> <li>
  #comments = new Map(); // id -> the newest version of the comment
  #held = new Set(); // ids of comments held back from the room

  /** `actions` = {edit(id, content), remove(id)}: promises from the REST API. */
  constructor(list, empty, actions, currentUser) {
    this.#list = list;
    this.#empty = empty;
    this.actions = actions;
    this.currentUser = currentUser;
  }

  clear() {
    this.#items.clear();
    this.#comments.clear();
    this.#held.clear();
    this.#list.replaceChildren();
    show(this.#empty, true);
  }

  /** Adds the comment, or redraws it in place if its id is already shown. `held`: the room
   * held it back (it stays marked). */
  upsert(comment, { held = false } = {}) {
    this.#comments.set(comment.id, comment);
    if (held) this.#held.add(comment.id);
    const old = this.#items.get(comment.id);
    // An open edit form or delete question stays; closing it draws the newest version.
    if (old?.querySelector(".edit-form, .confirm")) return;
    const stuckToBottom = this.#nearBottom();
    const item = this.#render(comment);
    if (old) {
      old.replaceWith(item);
    } else {
      const next = [...this.#items.keys()].filter((id) => id > comment.id).sort()[0];
      this.#list.insertBefore(item, next ? this.#items.get(next) : null);
    }
    this.#items.set(comment.id, item);
    show(this.#empty, false);
    if (stuckToBottom && !old) this.#list.scrollTop = this.#list.scrollHeight;
  }

  remove(id) {
    const item = this.#items.get(id);
    // Focus on a button of the removed comment would be lost: keep it in the list.
    if (item?.contains(document.activeElement)) this.#list.focus();
    item?.remove();
    this.#items.delete(id);
    this.#comments.delete(id);
    this.#held.delete(id);
    show(this.#empty, this.#items.size === 0);
  }

  /** Whether the list is scrolled to (near) its end: then a new comment keeps it there. */
  #nearBottom() {
    const list = this.#list;
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  #render(comment) {
    const user = this.currentUser();
    const edited = comment.updated_at !== comment.inserted_at;
    const error = el("p", { className: "error", role: "alert", hidden: true, dataset: { testid: "comment-item-error" } });
    // Screen readers hear which comment a button is for: its text is the buttons' description.
    const contentId = `comment-${comment.id}`;
    const buttons = [];
    if (canEdit(user, comment)) {
      buttons.push(el("button", {
        type: "button", className: "small", dataset: { testid: "comment-edit" }, "aria-describedby": contentId,
        onclick: () => this.#startEdit(item, comment),
      }, "Edit"));
    }
    if (canDelete(user, comment)) {
      buttons.push(el("button", {
        type: "button", className: "small danger", dataset: { testid: "comment-delete" }, "aria-describedby": contentId,
        onclick: () => this.#confirmDelete(item, comment, error),
      }, "Delete"));
    }
    const own = user?.id === comment.user_id;
    const held = this.#held.has(comment.id);
    const item = el("li", {
      className: `comment${own ? " own" : ""}${held ? " held" : ""}`,
      dataset: { testid: "comment", commentId: comment.id, ...(held ? { held: "true" } : {}) },
    },
    el("div", { className: "meta" },
      el("strong", { dataset: { testid: "comment-author" } }, comment.username),
      time(comment.inserted_at),
      edited ? el("span", { className: "muted", dataset: { testid: "comment-edited" } }, "(edited)") : null,
      held ? el("span", { className: "held-note", dataset: { testid: "comment-held" } },
        own ? "Only you and moderators see this (the room is busy)" : "Held back from the room") : null,
      buttons.length ? el("span", { className: "actions" }, ...buttons) : null),
    el("p", { className: "content", id: contentId, dataset: { testid: "comment-content" } }, comment.content),
    error);
    return item;
  }

  /** Delete asks first, in place of the buttons: a deletion cannot be undone. */
  #confirmDelete(item, comment, error) {
    const actions = item.querySelector(".actions");
    const questionId = `confirm-${comment.id}`;
    const close = () => {
      box.remove();
      actions.hidden = false;
      const newest = this.#comments.get(comment.id);
      if (newest) this.upsert(newest); // an edit that arrived meanwhile
      this.#items.get(comment.id)?.querySelector("[data-testid=comment-delete]")?.focus();
    };
    const yes = el("button", {
      type: "button", className: "small danger", dataset: { testid: "comment-delete-confirm" },
      "aria-describedby": `${questionId} comment-${comment.id}`,
      onclick: async () => {
        yes.disabled = true;
        showError(error, null);
        try {
          await this.actions.remove(comment.id); // the list removes the comment
        } catch (e) {
          yes.disabled = false;
          showError(error, e);
        }
      },
    }, "Yes, delete");
    const no = el("button", {
      type: "button", className: "small", dataset: { testid: "comment-delete-cancel" }, onclick: close,
    }, "Keep it");
    const box = el("span", {
      className: "confirm", role: "group", "aria-labelledby": questionId, dataset: { testid: "comment-delete-question" },
      onkeydown: (event) => {
        if (event.key === "Escape") close();
      },
    }, el("span", { id: questionId }, "Delete this comment?"), yes, no);
    actions.hidden = true;
    actions.after(box);
    no.focus();
  }

  #startEdit(item, comment) {
    const id = `edit-${comment.id}`;
    const area = el("textarea", { id, rows: 2, maxLength: 2000, required: true, value: comment.content, dataset: { testid: "comment-edit-content" } });
    const error = el("p", { className: "error", role: "alert", hidden: true, dataset: { testid: "comment-edit-error" } });
    const cancel = () => {
      form.remove();
      const newest = this.#comments.get(comment.id);
      if (newest) this.upsert(newest); // unless it was deleted meanwhile
      this.#items.get(comment.id)?.querySelector("[data-testid=comment-edit]")?.focus();
    };
    const form = el("form", {
      className: "edit-form",
      onsubmit: async (event) => {
        event.preventDefault();
        try {
          const updated = await this.actions.edit(comment.id, area.value);
          form.remove();
          this.upsert(updated);
          this.#items.get(comment.id)?.querySelector("[data-testid=comment-edit]")?.focus();
        } catch (e) {
          showError(error, e);
        }
      },
      onkeydown: (event) => {
        if (event.key === "Escape") cancel();
      },
    },
    el("label", { htmlFor: id }, "Edit your comment"), area,
    el("div", { className: "row" },
      el("button", { type: "submit", dataset: { testid: "comment-save" } }, "Save"),
      el("button", { type: "button", onclick: cancel, dataset: { testid: "comment-cancel" } }, "Cancel")),
    error);
    item.querySelector(".content").hidden = true;
    item.querySelector(".actions").hidden = true; // an author always has Edit, so it exists
    item.append(form);
    area.focus();
  }
}
