// Entry point of device.html, the link an endpoint device opens: /device#token=phd_...
// The token stays in the fragment (never sent to the server in a URL, never in its logs); it is
// exchanged for a bearer token kept in this tab (api.js), then the device goes straight to its
// live meeting: "my meetings" showing only that meeting (/?meeting=<id>), or all of its
// meetings when none (or several) are live.

import { ApiError, apiGet, deviceLogin, errorMessage } from "./api.js";
import { bindLanguageSelect, initI18n, onLanguageChange, t } from "./i18n.js";
import { splitMeetings } from "./meetings.js";

const $ = (id) => document.getElementById(id);

/** The device token from "#token=...", or null. */
function fragmentToken() {
  const token = new URLSearchParams(location.hash.slice(1)).get("token");
  return token ? token.trim() : null;
}

async function start() {
  const token = fragmentToken();
  // Drop the secret from the address bar and from this history entry at once.
  history.replaceState(null, "", location.pathname);
  await initI18n();
  bindLanguageSelect($("lang-device"));

  let message = null;
  function render() {
    $("device-error").hidden = message === null;
    $("device-error").textContent = message === null ? "" : message();
    $("device-status").hidden = message !== null;
    $("device-home").hidden = message === null;
  }
  onLanguageChange(render);

  if (!token) {
    message = () => t("device.no_token");
    render();
    return;
  }
  try {
    await deviceLogin(token);
    const { live } = splitMeetings(await apiGet("/meetings"));
    location.replace(live.length === 1 ? `/?meeting=${live[0].id}` : "/");
  } catch (caught) {
    const invalid = caught instanceof ApiError && caught.code === "unauthenticated";
    message = invalid ? () => t("device.error.invalid_token") : () => errorMessage(caught);
    render();
  }
}

start().catch((error) => {
  console.error("phonghop:", error);
});
