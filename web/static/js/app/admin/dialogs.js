// Modal dialogs of the admin page (<dialog> elements of admin.html): opened with showModal(),
// so the rest of the page is inert, Escape closes them and focus returns to the button that
// opened them.
//
// Exports:
//   openDialog(dialog, focusTarget)    show `dialog` modally and focus `focusTarget` (or the
//                                      dialog's first control); focus goes back on close
//   confirmAction({title, message, confirmLabel})
//                                      ask in the shared confirm dialog; resolves to true only
//                                      when the user confirms

const $ = (id) => document.getElementById(id);

/** Show `dialog` modally; focus `focusTarget`; give focus back to the opener on close. */
export function openDialog(dialog, focusTarget = null) {
  const opener = document.activeElement;
  dialog.addEventListener(
    "close",
    () => {
      if (opener instanceof HTMLElement && opener.isConnected) {
        opener.focus();
      }
    },
    { once: true },
  );
  dialog.showModal();
  if (focusTarget) {
    focusTarget.focus();
  }
}

/** Ask for confirmation in #confirm-dialog; resolves to whether the user confirmed. */
export function confirmAction({ title, message, confirmLabel }) {
  const dialog = $("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-message").textContent = message;
  $("confirm-ok").textContent = confirmLabel;
  dialog.returnValue = "";
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), {
      once: true,
    });
    // The safe choice has focus: Enter on an unexpected dialog does no harm.
    openDialog(dialog, $("confirm-cancel"));
  });
}
