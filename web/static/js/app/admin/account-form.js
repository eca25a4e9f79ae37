// The account dialog: create an account (username, full name, unit, role, e-mail, initial
// password) or edit one (full name, unit, role, e-mail, whether it may log in). Only changed
// fields are sent on edit; disabling an account ends its sessions on the server.
//
// Exports:
//   mountAccountForm(directory, onSaved)   returns {create(), edit(account)};
//                                          onSaved(account, created) after a successful save

import { api, apiPost } from "../api.js";
import { t } from "../i18n.js";
import { openDialog } from "./dialogs.js";
import { fillUnitSelect } from "./directory.js";
import { formErrors, numberOrNull, whileBusy } from "./forms.js";
import { ROLES, roleLabel } from "./labels.js";

const $ = (id) => document.getElementById(id);

/** Wire the account dialog; see the module comment. */
export function mountAccountForm(directory, onSaved) {
  const dialog = $("account-dialog");
  const form = $("account-form");
  const title = $("account-dialog-title");
  const username = $("account-username");
  const fullName = $("account-full-name");
  const unit = $("account-unit");
  const role = $("account-role");
  const email = $("account-email");
  const password = $("account-password");
  const active = $("account-active");
  const submit = $("account-submit");
  const createOnly = [...form.querySelectorAll("[data-mode=create]")];
  const editOnly = [...form.querySelectorAll("[data-mode=edit]")];
  let editing = null; // the account being edited, null when creating

  const errors = formErrors({
    fields: {
      username: {
        input: username,
        error: $("account-username-error"),
        messages: {
          string_pattern_mismatch: () => t("admin.accounts.error.username_format"),
          string_too_short: () => t("admin.accounts.error.username_length"),
          string_too_long: () => t("admin.accounts.error.username_length"),
        },
      },
      full_name: { input: fullName, error: $("account-full-name-error") },
      unit_id: { input: unit, error: $("account-unit-error") },
      role: { input: role, error: $("account-role-error") },
      email: {
        input: email,
        error: $("account-email-error"),
        messages: { value_error: () => t("admin.accounts.error.email") },
      },
      password: { input: password, error: $("account-password-error") },
    },
    summary: $("account-form-error"),
    rules: [
      (error) =>
        error.code === "conflict" && error.details && "username" in error.details
          ? { field: "username", message: () => t("admin.accounts.error.username_taken") }
          : null,
      (error) =>
        error.code === "invalid_input" && /^password/.test(error.message)
          ? { field: "password", message: () => t("admin.accounts.error.password_short") }
          : null,
      (error) =>
        error.code === "invalid_input" && /e-mail/.test(error.message)
          ? { field: "email", message: () => t("admin.accounts.error.email") }
          : null,
      (error) =>
        error.code === "invalid_input" && error.details && "unit_id" in error.details
          ? { field: "unit_id", message: () => t("admin.error.unit_missing") }
          : null,
      (error) =>
        error.code === "conflict" && /last active administrator/.test(error.message)
          ? { field: null, message: () => t("admin.accounts.error.last_admin") }
          : null,
    ],
  });

  function fillSelects() {
    fillUnitSelect(unit, directory.unitOptions(), {
      placeholder: t("admin.unit_choose"),
    });
    const choose = document.createElement("option");
    choose.value = "";
    choose.textContent = t("admin.accounts.role_choose");
    role.replaceChildren(
      choose,
      ...ROLES.map((value) => {
        const option = document.createElement("option");
        option.value = value;
        option.textContent = roleLabel(value);
        return option;
      }),
    );
  }

  function show(account) {
    editing = account;
    form.reset();
    errors.clear();
    fillSelects();
    for (const element of createOnly) {
      element.hidden = account !== null;
    }
    for (const element of editOnly) {
      element.hidden = account === null;
    }
    if (account === null) {
      title.textContent = t("admin.accounts.create_title");
      submit.textContent = t("admin.accounts.create_submit");
      openDialog(dialog, username);
    } else {
      title.textContent = t("admin.accounts.edit_title", { username: account.username });
      submit.textContent = t("admin.accounts.save");
      fullName.value = account.full_name;
      unit.value = String(account.unit_id);
      role.value = account.role;
      email.value = account.email || "";
      active.checked = account.active;
      openDialog(dialog, fullName);
    }
  }

  function changes() {
    const patch = {};
    if (fullName.value !== editing.full_name) {
      patch.full_name = fullName.value;
    }
    if (numberOrNull(unit.value) !== editing.unit_id) {
      patch.unit_id = numberOrNull(unit.value);
    }
    if (role.value !== editing.role) {
      patch.role = role.value || null;
    }
    if (email.value.trim() !== (editing.email || "")) {
      patch.email = email.value.trim() || null; // empty: remove the address
    }
    if (active.checked !== editing.active) {
      patch.active = active.checked;
    }
    return patch;
  }

  async function save() {
    if (editing === null) {
      const body = {
        username: username.value,
        full_name: fullName.value,
        unit_id: numberOrNull(unit.value),
        role: role.value || null,
        password: password.value,
      };
      if (email.value.trim()) {
        body.email = email.value.trim();
      }
      return [await apiPost("/accounts", body), true];
    }
    const patch = changes();
    if (Object.keys(patch).length === 0) {
      return [editing, false];
    }
    return [await api("PATCH", `/accounts/${editing.id}`, patch), false];
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await whileBusy(submit, async () => {
      try {
        const [account, created] = await save();
        directory.put("accounts", account);
        password.value = "";
        dialog.close();
        onSaved(account, created);
      } catch (caught) {
        errors.report(caught);
      }
    });
  });
  $("account-cancel").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    password.value = ""; // never left behind in a hidden form
  });

  return {
    /** Open the dialog empty, to create an account. */
    create() {
      show(null);
    },
    /** Open the dialog filled with `account`, to change it. */
    edit(account) {
      show(account);
    },
  };
}
