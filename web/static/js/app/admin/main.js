// Entry point of admin.html (/admin), the administrator's pages: units, accounts and
// endpoint devices in three tabs. Nobody logged in: off to the login form, which comes back
// here (/?next=/admin). Logged in but not an administrator (or an endpoint device): a clear
// "not allowed" and a way back to "my meetings"; nothing of the directory is requested.

import { ApiError, errorMessage, hasCredentials, logoutAndLeave, whoAmI } from "../api.js";
import { bindLanguageSelect, initI18n, onLanguageChange, t } from "../i18n.js";
import { mountAccounts } from "./accounts.js";
import { createDirectory } from "./directory.js";
import { mountEndpoints } from "./endpoints.js";
import { roleLabel } from "./labels.js";
import { mountTabs } from "./tabs.js";
import { mountUnits } from "./units.js";

const $ = (id) => document.getElementById(id);
const LOGIN_URL = "/?next=/admin";

/** Whether `who` (GET /auth/me) may use this page. */
function isAdmin(who) {
  return who.kind === "account" && who.role === "admin";
}

async function start() {
  await initI18n();
  bindLanguageSelect($("lang-top"));
  const bootStatus = $("boot-status");
  const bootError = $("boot-error");
  let failure = null;
  let who = null;

  function render() {
    bootError.hidden = failure === null;
    bootError.textContent = failure === null ? "" : errorMessage(failure);
    if (who !== null) {
      const role = who.kind === "endpoint" ? "endpoint" : who.role;
      $("who").textContent = t("user.signed_in_as", { name: who.name, role: roleLabel(role) });
    }
  }
  onLanguageChange(render);

  function fail(caught) {
    if (caught instanceof ApiError && caught.status === 401) {
      location.replace(LOGIN_URL); // the session ended meanwhile
      return;
    }
    bootStatus.hidden = true;
    failure = caught;
    render();
  }

  // Nobody logged in on this browser: no need to ask the server (and log a 401).
  if (!hasCredentials()) {
    location.replace(LOGIN_URL);
    return;
  }
  try {
    who = await whoAmI();
  } catch (caught) {
    fail(caught);
    return;
  }
  if (who === null) {
    location.replace(LOGIN_URL);
    return;
  }

  $("account-bar").hidden = false;
  $("logout").addEventListener("click", logoutAndLeave);
  render();

  if (!isAdmin(who)) {
    bootStatus.hidden = true;
    $("forbidden-view").hidden = false;
    $("forbidden-heading").focus();
    return;
  }

  const directory = createDirectory();
  try {
    await directory.load();
  } catch (caught) {
    fail(caught);
    return;
  }
  bootStatus.hidden = true;
  $("admin-view").hidden = false;
  mountTabs($("admin-tabs"));
  mountUnits(directory);
  mountAccounts(directory);
  mountEndpoints(directory);
}

start().catch((error) => {
  console.error("phonghop admin:", error);
});
