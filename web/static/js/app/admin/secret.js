// A secret shown once (a device login link, a new password): a read-only field, a copy
// button and a status line saying whether the copy worked. The secret lives only in that
// field; clear() removes it from the page.
//
// Exports:
//   mountSecret({input, copy, status})   returns {show(value), clear()}
//   copyText(input)                      copy the field's text to the clipboard; resolves to
//                                        whether it worked

import { onLanguageChange, t } from "../i18n.js";

/**
 * Copy `input.value`: the Clipboard API where the page may use it (HTTPS or localhost), else
 * the old selection copy, which plain-HTTP intranet installations still allow.
 */
export async function copyText(input) {
  if (navigator.clipboard && window.isSecureContext) {
    try {
      await navigator.clipboard.writeText(input.value);
      return true;
    } catch {
      // refused (no permission, page not focused): try the selection copy below
    }
  }
  input.focus();
  input.select();
  try {
    return document.execCommand("copy");
  } catch {
    return false;
  }
}

/** Wire a one-time secret display; see the module comment. */
export function mountSecret({ input, copy, status }) {
  let message = null;

  function render() {
    status.textContent = message === null ? "" : message();
  }

  onLanguageChange(render);
  copy.addEventListener("click", async () => {
    const copied = await copyText(input);
    message = copied ? () => t("admin.secret.copied") : () => t("admin.secret.copy_failed");
    render();
    if (!copied) {
      input.focus();
      input.select(); // selected: Ctrl+C is all that is left to do
    }
  });
  // Clicking into the field selects it all: a partial copy of a token is useless.
  input.addEventListener("focus", () => input.select());

  return {
    show(value) {
      input.value = value;
      message = null;
      render();
    },
    clear() {
      input.value = "";
      message = null;
      render();
    },
  };
}
