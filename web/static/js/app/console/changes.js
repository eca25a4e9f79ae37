// How a console section changes something on the server and says how it went, the same in
// every section: send the change, reload the section, announce the outcome to screen readers;
// a refusal stays in one of the section's error boxes until the next change. What a box says
// is kept as a function, not a string, so that a language switch re-words it on the next
// render.
//
// Exports:
//   Message                        one error box: say(text), fail(error), render()
//   changer(reload, render, announce)
//                                  the section's change(message, work, {after, overrides}):
//                                  work(), then reload() and announce(after()); a failure goes
//                                  to `message`; resolves to whether the change went through
//   required(input, message, text, render)
//                                  check that a form's input is filled in before sending it
//   whileBusy(button, work)        run work() with `button` disabled (no double submission)

import { errorMessage } from "../api.js";
import { showMessage } from "./dom.js";

/** What one .error box of a section says; see the module comment. */
export class Message {
  /**
   * @param {HTMLElement} node            the box (hidden while there is nothing to say)
   * @param {(() => object)|null} overrides  error code → this section's sentence for it
   */
  constructor(node, overrides = null) {
    this.node = node;
    this.overrides = overrides;
    this.text = null;
  }

  /** Say `text()` from the next render on (null: say nothing). */
  say(text) {
    this.text = text;
  }

  /** Say why `error` happened, worded by `overrides` (null: the general wording). */
  fail(error, overrides = this.overrides) {
    this.text = () => errorMessage(error, overrides ? overrides() : {});
  }

  /** Show the message, or hide the box. */
  render() {
    showMessage(this.node, this.text ? this.text() : "");
  }
}

/**
 * A section's way of making a change: change(message, work, {after, overrides}) runs work(),
 * clears `message`, reloads the section and announces after() when given. A failure of any
 * of these goes to `message` (worded by `overrides`, else the message's own) and the section
 * re-renders. Resolves to true when the change went through.
 * @param {() => Promise<void>} reload  fetch the section's data and render it
 * @param {() => void} render
 * @param {(text: string) => void} announce
 */
export function changer(reload, render, announce) {
  return async function change(message, work, { after = null, overrides = undefined } = {}) {
    try {
      await work();
      message.say(null);
      await reload();
      if (after) {
        announce(after());
      }
      return true;
    } catch (error) {
      message.fail(error, overrides);
      render();
      return false;
    }
  };
}

/**
 * Whether `input` is filled in. If not, it is marked invalid, `message` says `text()`, the
 * section re-renders and the input takes the focus.
 */
export function required(input, message, text, render) {
  input.removeAttribute("aria-invalid");
  if (input.value.trim()) {
    return true;
  }
  message.say(text);
  input.setAttribute("aria-invalid", "true");
  render();
  input.focus();
  return false;
}

/** Run `work()` with `button` disabled; resolves to what work() resolves to. */
export async function whileBusy(button, work) {
  button.disabled = true;
  try {
    return await work();
  } finally {
    button.disabled = false;
  }
}
