// Deleting a recording (administrators): a modal dialog asks why (the reason goes to the audit
// log with the deletion) and the deletion happens from the dialog, which stays open with the
// server's refusal if there is one. Escape or "Hủy" closes it; focus returns to the opener.
//
// Exports:
//   mountDeleteDialog(elements, remove)
//       elements: {dialog, form, message, reason, error}; remove(recording, reason) resolves
//       once deleted (or throws the server's refusal); returns {ask(recording, title)} which
//       resolves to true when the recording was deleted

import { errorMessage } from "../api.js";
import { t } from "../i18n.js";

export function mountDeleteDialog({ dialog, form, message, reason, error }, remove) {
  let pending = null; // {recording, resolve} while the dialog is open
  let opener = null;

  function showError(text) {
    error.hidden = text === null;
    error.textContent = text || "";
  }

  form.addEventListener("submit", async (event) => {
    if (!event.submitter || event.submitter.value !== "confirm" || pending === null) {
      return; // "Hủy": the dialog form closes the dialog itself
    }
    event.preventDefault();
    const why = reason.value.trim();
    if (!why) {
      reason.setAttribute("aria-invalid", "true");
      showError(t("recordings.delete.reason_required"));
      reason.focus();
      return;
    }
    reason.removeAttribute("aria-invalid");
    showError(null);
    const buttons = form.querySelectorAll("button");
    buttons.forEach((button) => {
      button.disabled = true;
    });
    try {
      await remove(pending.recording, why);
      pending.deleted = true;
      dialog.close("deleted");
    } catch (caught) {
      showError(errorMessage(caught));
    } finally {
      buttons.forEach((button) => {
        button.disabled = false;
      });
    }
  });

  dialog.addEventListener("close", () => {
    const done = pending;
    pending = null;
    if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
    if (done) done.resolve(Boolean(done.deleted));
  });

  return {
    /** Ask for the reason and delete `recording`; resolves to whether it was deleted. */
    ask(recording, title) {
      return new Promise((resolve) => {
        pending = { recording, resolve, deleted: false };
        opener = document.activeElement;
        message.textContent = t("recordings.delete.message", { title });
        reason.value = "";
        reason.removeAttribute("aria-invalid");
        showError(null);
        dialog.showModal();
        reason.focus();
      });
    },
  };
}
