// The password-reset dialog: the administrator types a new password or leaves the field empty
// for a generated one; the server ends the account's sessions and answers with the password,
// which is shown once (copy button) and wiped when the dialog closes.
//
// Exports:
//   mountPasswordReset()     returns {open(account)}

import { apiPost } from "../api.js";
import { t } from "../i18n.js";
import { openDialog } from "./dialogs.js";
import { formErrors, whileBusy } from "./forms.js";
import { mountSecret } from "./secret.js";

const $ = (id) => document.getElementById(id);

/** Wire the password-reset dialog; see the module comment. */
export function mountPasswordReset() {
  const dialog = $("password-dialog");
  const form = $("password-form");
  const input = $("reset-password");
  const submit = $("password-submit");
  const done = $("password-done");
  const who = $("password-dialog-who");
  let account = null;

  const errors = formErrors({
    fields: { new_password: { input, error: $("reset-password-error") } },
    summary: $("password-form-error"),
    rules: [
      (error) =>
        error.code === "invalid_input" && /^password/.test(error.message)
          ? { field: "new_password", message: () => t("admin.accounts.error.password_short") }
          : null,
    ],
  });
  const secret = mountSecret({
    input: $("password-result"),
    copy: $("password-copy"),
    status: $("password-copy-status"),
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = input.value ? { new_password: input.value } : {};
    await whileBusy(submit, async () => {
      try {
        const answer = await apiPost(`/accounts/${account.id}/password`, body);
        input.value = "";
        errors.clear();
        secret.show(answer.password);
        form.hidden = true;
        done.hidden = false;
        $("password-done-heading").focus();
      } catch (caught) {
        errors.report(caught);
      }
    });
  });
  $("password-cancel").addEventListener("click", () => dialog.close());
  $("password-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    input.value = "";
    secret.clear();
  });

  return {
    /** Open the dialog for `account`. */
    open(target) {
      account = target;
      form.reset();
      errors.clear();
      secret.clear();
      form.hidden = false;
      done.hidden = true;
      who.textContent = t("admin.accounts.reset_for", {
        name: target.full_name,
        username: target.username,
      });
      openDialog(dialog, input);
    },
  };
}
