// Element builders shared by the meeting room's side panels (speakers.js, voting.js), which
// build their DOM by hand and find controls again after a re-render by their data-focus key.
//
// Exports:
//   element(tag, className, text)  an element; the class and the text are optional
//   button(label, className, options)
//                                  a type="button" button; options.aria: its aria-label (when
//                                  the label alone does not say what it acts on),
//                                  options.focus: its data-focus key

/**
 * An element with an optional class and text.
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 * @returns {HTMLElement}
 */
export function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) {
    node.className = className;
  }
  if (text !== undefined) {
    node.textContent = text;
  }
  return node;
}

/**
 * A button that submits nothing.
 * @param {string} label the visible text
 * @param {string} [className]
 * @param {{aria?: string, focus?: string}} [options]
 * @returns {HTMLButtonElement}
 */
export function button(label, className, { aria, focus } = {}) {
  const node = element("button", className, label);
  node.type = "button";
  if (aria) {
    node.setAttribute("aria-label", aria);
  }
  if (focus) {
    node.dataset.focus = focus;
  }
  return node;
}
