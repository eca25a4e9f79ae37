// Entry point of index.html: log in, then "my meetings".
// "/?meeting=<id>" shows only that meeting (where a device link lands, see device.js).

import { clearBearer, errorMessage, hasCredentials, logoutQuietly, whoAmI } from "./api.js";
import { bindLanguageSelect, initI18n, onLanguageChange, t } from "./i18n.js";
import { mountLogin } from "./login.js";
import { mountMeetings } from "./meetings.js";

const $ = (id) => document.getElementById(id);

function requestedMeeting() {
  const value = new URLSearchParams(location.search).get("meeting");
  const id = Number(value);
  return value && Number.isInteger(id) && id > 0 ? id : null;
}

/** "/?next=/meetings/3" (the room; also /meetings/3/console, /admin): where to go once logged
 *  in (a page of this server only). */
function nextPage() {
  const value = new URLSearchParams(location.search).get("next");
  return value && /^\/(meetings|admin)(\/|$)/.test(value) && !value.startsWith("//") ? value : null;
}

async function start() {
  await initI18n();
  bindLanguageSelect($("lang-login"));
  bindLanguageSelect($("lang-top"));

  const loginView = $("login-view");
  const meetingsView = $("meetings-view");
  const accountBar = $("account-bar");
  const bootStatus = $("boot-status");
  let principal = null;
  let bootError = null;

  function renderWho() {
    // Only administrators get the way into /admin (the page itself refuses everyone else).
    $("admin-link").hidden = !(principal?.kind === "account" && principal.role === "admin");
    if (principal === null) {
      $("who").textContent = "";
      return;
    }
    const role = principal.kind === "endpoint" ? "endpoint" : principal.role;
    $("who").textContent = t("user.signed_in_as", { name: principal.name, role: t(`role.${role}`) });
  }

  function renderBoot() {
    bootStatus.textContent = bootError === null ? "" : errorMessage(bootError);
    bootStatus.hidden = bootError === null;
  }

  onLanguageChange(() => {
    renderWho();
    renderBoot();
  });

  const meetingElements = {
    liveList: $("live-list"),
    liveEmpty: $("live-empty"),
    upcomingList: $("upcoming-list"),
    upcomingEmpty: $("upcoming-empty"),
    status: $("meetings-status"),
    error: $("meetings-error"),
    filter: $("meetings-filter"),
    refresh: $("meetings-refresh"),
  };
  const meetings = mountMeetings(meetingElements, (caught) => {
    bootError = caught; // e.g. "your session has expired", shown above the login form
    renderBoot();
    showLogin();
  });

  function showLogin() {
    clearBearer();
    principal = null;
    renderWho();
    meetings.stop();
    accountBar.hidden = true;
    meetingsView.hidden = true;
    loginView.hidden = false;
  }

  async function showMeetings(who, focus) {
    if (nextPage() !== null) {
      location.replace(nextPage()); // back to the page that needed a login
      return;
    }
    bootError = null;
    renderBoot();
    principal = who;
    renderWho();
    loginView.hidden = true;
    accountBar.hidden = false;
    meetingsView.hidden = false;
    if (focus) {
      $("meetings-heading").focus();
    }
    await meetings.load(requestedMeeting(), who);
  }

  const login = mountLogin(
    {
      form: $("login-form"),
      username: $("username"),
      password: $("password"),
      submit: $("login-submit"),
      error: $("login-error"),
    },
    async () => {
      try {
        await showMeetings(await whoAmI(), true);
      } catch (caught) {
        bootError = caught;
        renderBoot();
      }
    },
  );

  $("logout").addEventListener("click", async () => {
    await logoutQuietly();
    login.reset();
    if (requestedMeeting() !== null) {
      history.replaceState(null, "", "/");
    }
    showLogin();
    $("username").focus();
  });

  try {
    // Nobody logged in on this browser: no need to ask the server (and log a 401).
    const who = hasCredentials() ? await whoAmI() : null;
    if (who === null) {
      showLogin();
    } else {
      await showMeetings(who, false);
    }
  } catch (caught) {
    bootError = caught;
    renderBoot();
    showLogin();
  }
}

start().catch((error) => {
  console.error("phonghop:", error);
});
