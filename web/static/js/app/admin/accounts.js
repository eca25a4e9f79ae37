// The "Tài khoản" tab: every account in a table that can be searched (name or username,
// with or without Vietnamese diacritics) and filtered by unit (with the units below it),
// role and state; each row opens the edit and password-reset dialogs.
//
// Exports:
//   fold(text)                 lower case without diacritics ("Đồn Đạc" → "don dac")
//   mountAccounts(directory)   render the list from the directory store, wire the filters,
//                              the "add account" button and the row actions

import { onLanguageChange, t } from "../i18n.js";
import { mountAccountForm } from "./account-form.js";
import { fillUnitSelect } from "./directory.js";
import { ROLES, roleLabel } from "./labels.js";
import { mountPasswordReset } from "./password-reset.js";

const $ = (id) => document.getElementById(id);

/** `text` folded for searching: lower case, no diacritics, "đ" as "d". */
export function fold(text) {
  return String(text)
    .normalize("NFD")
    .replace(/[\u0300-\u036f]/g, "")
    .replace(/đ/g, "d")
    .replace(/Đ/g, "D")
    .toLowerCase();
}

/** Render and wire the accounts tab; see the module comment. */
export function mountAccounts(directory) {
  const search = $("account-search");
  const unitFilter = $("account-filter-unit");
  const roleFilter = $("account-filter-role");
  const stateFilter = $("account-filter-state");
  const body = $("accounts-body");
  const empty = $("accounts-empty");
  const countLine = $("accounts-count");
  const status = $("accounts-status");
  let statusMessage = null;

  const accountForm = mountAccountForm(directory, (account, created) => {
    statusMessage = created
      ? () => t("admin.accounts.created", { username: account.username })
      : () => t("admin.accounts.saved", { username: account.username });
    renderStatus();
  });
  const passwordReset = mountPasswordReset();

  function renderStatus() {
    status.textContent = statusMessage === null ? "" : statusMessage();
  }

  function renderFilters() {
    fillUnitSelect(unitFilter, directory.unitOptions(), {
      placeholder: t("admin.accounts.filter.all_units"),
    });
    const role = roleFilter.value;
    const all = document.createElement("option");
    all.value = "";
    all.textContent = t("admin.accounts.filter.all_roles");
    roleFilter.replaceChildren(
      all,
      ...ROLES.map((value) => {
        const option = document.createElement("option");
        option.value = value;
        option.textContent = roleLabel(value);
        return option;
      }),
    );
    roleFilter.value = role;
  }

  function matches(account) {
    const query = fold(search.value.trim());
    if (query && !fold(`${account.full_name} ${account.username}`).includes(query)) {
      return false;
    }
    if (unitFilter.value && !directory.descendants(Number(unitFilter.value)).has(account.unit_id)) {
      return false;
    }
    if (roleFilter.value && account.role !== roleFilter.value) {
      return false;
    }
    if (stateFilter.value === "active" && !account.active) {
      return false;
    }
    return !(stateFilter.value === "disabled" && account.active);
  }

  function cell(label, ...content) {
    const td = document.createElement("td");
    td.dataset.label = label;
    td.append(...content);
    return td;
  }

  function row(account) {
    const tr = document.createElement("tr");
    tr.dataset.accountId = String(account.id);

    const name = document.createElement("th");
    name.scope = "row";
    name.dataset.label = t("admin.accounts.col.name");
    const fullName = document.createElement("span");
    fullName.className = "account-name";
    fullName.textContent = account.full_name;
    name.append(fullName);
    if (account.email) {
      const email = document.createElement("span");
      email.className = "account-email";
      email.textContent = account.email;
      name.append(email);
    }

    const state = document.createElement("span");
    state.className = `badge ${account.active ? "account-active" : "account-disabled"}`;
    state.textContent = account.active
      ? t("admin.accounts.state.active")
      : t("admin.accounts.state.disabled");

    const edit = document.createElement("button");
    edit.type = "button";
    edit.className = "small";
    edit.textContent = t("admin.accounts.edit");
    edit.setAttribute("aria-label", t("admin.accounts.edit_label", { name: account.full_name }));
    edit.addEventListener("click", () => accountForm.edit(account));
    const reset = document.createElement("button");
    reset.type = "button";
    reset.className = "small";
    reset.textContent = t("admin.accounts.reset_password");
    reset.setAttribute(
      "aria-label",
      t("admin.accounts.reset_password_label", { name: account.full_name }),
    );
    reset.addEventListener("click", () => passwordReset.open(account));
    const actions = document.createElement("div");
    actions.className = "row-actions";
    actions.append(edit, reset);

    tr.append(
      name,
      cell(t("admin.accounts.col.username"), account.username),
      cell(t("admin.accounts.col.unit"), directory.unitPath(account.unit_id)),
      cell(t("admin.accounts.col.role"), roleLabel(account.role)),
      cell(t("admin.accounts.col.state"), state),
      cell(t("admin.accounts.col.actions"), actions),
    );
    return tr;
  }

  function renderList() {
    const shown = directory.accounts.filter(matches);
    body.replaceChildren(...shown.map(row));
    empty.hidden = shown.length > 0;
    countLine.textContent = t("admin.accounts.count", {
      shown: shown.length,
      total: directory.accounts.length,
    });
  }

  function render() {
    renderFilters();
    renderList();
    renderStatus();
  }

  search.addEventListener("input", renderList);
  for (const select of [unitFilter, roleFilter, stateFilter]) {
    select.addEventListener("change", renderList);
  }
  // Enter in the search box must not reload the page.
  $("account-filters").addEventListener("submit", (event) => event.preventDefault());
  $("account-add").addEventListener("click", () => {
    statusMessage = null;
    renderStatus();
    accountForm.create();
  });

  directory.subscribe(render);
  onLanguageChange(render);
  render();
}
