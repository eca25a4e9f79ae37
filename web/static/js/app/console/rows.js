// The controls under a row of a console list, alike in every section: small buttons that
// carry data-action and the row's id, a delete that asks first (an inline group under the row,
// no dialog), an inline edit form with Save and Cancel, and the keyboard focus put back on the
// control the user was on once the list is rebuilt after a change.
//
// Exports:
//   RowControls                    class, one per list:
//     buttons(id)                  a button maker for a row's small action buttons
//     deleteStep(id, label, question, onDelete)
//                                  the Delete button and, while it waits, the confirm group
//     editButton(id, label, draft, focusId), editForm(id, fields, onSave), draftOf(id),
//     endEdit(id)                  the inline edit form of a row
//     focusAfter(id, ...actions), show(id, action), restoreFocus()
//                                  where the focus goes when the list is rebuilt

import { t } from "../i18n.js";
import { h } from "./dom.js";

/** The controls of one list's rows and the state they share across re-renders. */
export class RowControls {
  /**
   * @param {HTMLElement} list   the list the rows are rendered into
   * @param {string} idName      the dataset key of a row's id ("itemId": data-item-id)
   * @param {() => void} render  re-render the section (which calls restoreFocus())
   */
  constructor(list, idName, render) {
    this.list = list;
    this.idName = idName;
    this.render = render;
    this.confirming = null; // id of the row whose deletion waits for confirmation
    this.editing = null; // {id, draft} of the row whose edit form is open
    this.refocus = null; // () => the element to focus after the next render
  }

  /** A button maker for row `id`: (action, text, label, onclick, props) → a small button. */
  buttons(id) {
    return (action, text, label, onclick, props = {}) =>
      h("button", {
        type: "button",
        class: "small",
        text,
        "aria-label": label,
        dataset: { action, [this.idName]: String(id) },
        onclick,
        ...props,
      });
  }

  /** After the next render, focus the first of row `id`'s `actions` buttons that is enabled. */
  focusAfter(id, ...actions) {
    const key = this.idName.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    this.refocus = () => {
      for (const action of actions) {
        const found = this.list.querySelector(
          `[data-action="${action}"][data-${key}="${id}"]:enabled`,
        );
        if (found) {
          return found;
        }
      }
      return null;
    };
  }

  /** Focus `action` of row `id`, now: re-renders. */
  show(id, action) {
    this.focusAfter(id, action);
    this.render();
  }

  /** To be called at the end of the section's render: put the focus where it belongs. */
  restoreFocus() {
    if (this.refocus) {
      const target = this.refocus();
      this.refocus = null;
      target?.focus();
    }
  }

  /**
   * The delete button of row `id` and, while it waits for confirmation, the confirm group to
   * put under the row's actions: [button] or [button, group]. `label` names the row for screen
   * readers, `question` asks; onDelete() makes the change.
   */
  deleteStep(id, label, question, onDelete) {
    const button = this.buttons(id);
    const ask = button("delete", t("console.delete"), label, () => {
      this.confirming = id;
      this.show(id, "confirm-delete");
    });
    if (this.confirming !== id) {
      return [ask];
    }
    const group = h(
      "div",
      { class: "confirm", role: "group", "aria-label": t("console.confirm") },
      h("span", { text: question }),
      button("confirm-delete", t("console.delete"), label, () => {
        this.confirming = null;
        onDelete();
      }),
      button("cancel-delete", t("console.cancel"), t("console.cancel"), () => {
        this.confirming = null;
        this.show(id, "delete");
      }),
    );
    return [ask, group];
  }

  /** The Edit button of row `id`: opens the row's edit form on `draft` (an object its inputs
   *  write into) with the focus on the element `focusId`. */
  editButton(id, label, draft, focusId) {
    return this.buttons(id)("edit", t("console.edit"), label, () => {
      this.editing = { id, draft };
      this.confirming = null;
      this.refocus = () => this.list.querySelector(`#${focusId}`);
      this.render();
    });
  }

  /** The draft of row `id` while its edit form is open, else null. */
  draftOf(id) {
    return this.editing && this.editing.id === id ? this.editing.draft : null;
  }

  /** Close the edit form; after the next render the focus is on the row's edit button. */
  endEdit(id) {
    this.editing = null;
    this.focusAfter(id, "edit");
  }

  /** The inline edit form of row `id`: `fields`, then Save (onSave()) and Cancel. */
  editForm(id, fields, onSave) {
    return h(
      "form",
      {
        class: "console-form inline-form",
        novalidate: true,
        onsubmit: (event) => {
          event.preventDefault();
          onSave();
        },
      },
      ...fields,
      h(
        "div",
        { class: "actions" },
        h("button", { type: "submit", class: "primary", text: t("console.save") }),
        h("button", {
          type: "button",
          text: t("console.cancel"),
          onclick: () => {
            this.endEdit(id);
            this.render();
          },
        }),
      ),
    );
  }
}
