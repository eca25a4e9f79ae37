// Entry point of recordings.html, a meeting's recordings at /meetings/<id>/recordings: the list
// (list.js), the player with the meeting's timeline and the recording's separate track files
// (player.js, tracks.js), deletion for administrators (delete.js). Nobody logged in (or the
// session ends meanwhile): off to the login page, which comes back here (/?next=...). Whoever
// may not see the meeting (neither a member nor an administrator) gets the refusal instead of
// the page. While a recording is in progress the list is read again every few seconds, so it
// shows up finished without a reload.
//
// The recording in the player is named in the address (#recording-<id>), so a link can open
// one; otherwise the latest playable one is shown.

import { ApiError, api, apiGet, errorMessage, hasCredentials, logoutAndLeave, whoAmI } from "../api.js";
import { bindLanguageSelect, initI18n, onLanguageChange, t } from "../i18n.js";
import { hostsMeeting } from "../meetings.js";
import { mountDeleteDialog } from "./delete.js";
import { playable, recordingTitle, renderList } from "./list.js";
import { mountPlayer } from "./player.js";
import { RecordingSource } from "./source.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 5000; // while one is being recorded
const HASH = /^#recording-(\d+)$/;

function toLogin() {
  location.replace(`/?next=${encodeURIComponent(location.pathname)}`);
}

function meetingIdFromPath() {
  const match = /^\/meetings\/(\d+)\/recordings\/?$/.exec(location.pathname);
  return match ? Number(match[1]) : null;
}

function wantedId() {
  const match = HASH.exec(location.hash);
  return match ? Number(match[1]) : null;
}

async function start() {
  await initI18n();
  bindLanguageSelect($("lang-top"));
  const meetingId = meetingIdFromPath();
  const base = `/meetings/${meetingId}`;
  const source = new RecordingSource(meetingId);
  let me = null;
  let meeting = null;
  let recordings = [];
  let failure = null; // () => the sentence shown instead of the page
  let listFailure = null;
  let timer = null;
  let listed = false; // rendered once: afterwards only a change re-renders the list

  const player = mountPlayer(
    {
      section: $("player"),
      heading: $("player-heading"),
      video: $("player-video"),
      error: $("player-error"),
      list: $("timeline"),
      empty: $("timeline-empty"),
      tracks: { section: $("tracks"), list: $("track-list"), error: $("tracks-error") },
    },
    source,
  );
  const deletion = mountDeleteDialog(
    {
      dialog: $("delete-dialog"),
      form: $("delete-form"),
      message: $("delete-message"),
      reason: $("delete-reason"),
      error: $("delete-error"),
    },
    (recording, reason) => api("DELETE", `${base}/recordings/${recording.id}`, { reason }),
  );

  function announce(text) {
    const region = $("recordings-announce");
    region.textContent = "";
    requestAnimationFrame(() => {
      region.textContent = text;
    });
  }

  function renderHead() {
    $("who").textContent =
      me === null
        ? ""
        : t("user.signed_in_as", {
            name: me.name,
            role: t(`role.${me.kind === "endpoint" ? "endpoint" : me.role}`),
          });
    $("logout").hidden = me === null;
    $("boot-status").textContent = "";
    $("boot-error").hidden = failure === null;
    $("boot-error").textContent = failure === null ? "" : failure();
    if (meeting === null) {
      document.title = `${t("recordings.heading")} – ${t("app.name")}`;
      return;
    }
    document.title = `${t("recordings.heading")} – ${meeting.title} – ${t("app.name")}`;
    $("meeting-title").textContent = meeting.title;
    const badge = $("meeting-state");
    badge.className = `badge state-${meeting.state}`;
    badge.textContent = t(`state.${meeting.state}`);
    const room = $("room-link");
    room.href = base;
    room.hidden = meeting.state !== "live";
    const desk = $("console-link");
    desk.href = `${base}/console`;
    desk.hidden = !hostsMeeting(me, meeting);
  }

  function renderRecordings() {
    $("list-error").hidden = listFailure === null;
    $("list-error").textContent = listFailure === null ? "" : errorMessage(listFailure);
    const list = $("recording-list");
    // The list is rebuilt while a recording runs: a keyboard user keeps their place in it.
    const focused = list.contains(document.activeElement) ? document.activeElement : null;
    const place = focused && {
      id: focused.closest("li.recording")?.dataset.recordingId,
      className: focused.className,
    };
    renderList(list, recordings, {
      selectedId: player.current(),
      canDelete: me !== null && me.kind === "account" && me.role === "admin",
      source,
      onPlay: (recording) => guarded(() => choose(recording, true)),
      onDelete: (recording) => guarded(() => remove(recording)),
      onError: (error) => showListError(error),
    });
    $("list-empty").hidden = recordings.length > 0 || listFailure !== null;
    if (place) {
      const again = [...list.querySelectorAll(`li.recording[data-recording-id="${place.id}"] *`)];
      const target = again.find((element) => element.className === place.className);
      if (target) target.focus();
      else $("list-heading").focus();
    }
  }

  function showListError(error) {
    listFailure = error;
    renderRecordings();
  }

  async function choose(recording, byUser) {
    const detail = await apiGet(`${base}/recordings/${recording.id}`);
    await player.show(recording, detail);
    history.replaceState(null, "", `#recording-${recording.id}`);
    renderRecordings();
    if (byUser) {
      announce(t("recordings.now_showing", { title: recordingTitle(recording) }));
      $("player-heading").focus();
    }
  }

  async function remove(recording) {
    const title = recordingTitle(recording);
    if (!(await deletion.ask(recording, title))) return;
    if (player.current() === recording.id) {
      player.clear();
      history.replaceState(null, "", location.pathname);
    }
    await load();
    announce(t("recordings.deleted", { title }));
    $("list-heading").focus();
  }

  async function load() {
    const before = JSON.stringify([recordings, listFailure === null]);
    try {
      recordings = await apiGet(`${base}/recordings`);
      listFailure = null;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) throw error;
      listFailure = error; // keep the last list under the error
    }
    const changed = !listed || before !== JSON.stringify([recordings, listFailure === null]);
    listed = true;
    const current = recordings.find((r) => r.id === player.current());
    if (player.current() !== null && !(current && playable(current))) player.clear();
    if (player.current() === null) {
      const playables = recordings.filter(playable);
      const wanted = playables.find((r) => r.id === wantedId());
      const chosen = wanted || playables[playables.length - 1];
      if (chosen) await choose(chosen, false);
    }
    if (changed) renderRecordings();
    const recordingNow = recordings.some((r) => r.state === "recording");
    if (recordingNow && timer === null) {
      timer = setInterval(() => {
        if (document.visibilityState === "visible") guarded(load);
      }, REFRESH_MS);
    } else if (!recordingNow && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  }

  async function guarded(work) {
    try {
      await work();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        toLogin(); // the session ended meanwhile
        return;
      }
      showListError(error);
    }
  }

  onLanguageChange(() => {
    renderHead();
    renderRecordings();
    player.render();
  });

  if (meetingId === null) {
    failure = () => t("error.not_found");
    renderHead();
    return;
  }
  $("logout").addEventListener("click", logoutAndLeave);
  $("recordings-refresh").addEventListener("click", () =>
    guarded(async () => {
      await load();
      announce(t("recordings.refreshed"));
    }),
  );
  if (!hasCredentials()) {
    toLogin();
    return;
  }
  try {
    me = await whoAmI();
    if (me === null) {
      toLogin();
      return;
    }
    meeting = await apiGet(base);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 403 || error.status === 404)) {
      failure = () => t("recordings.not_allowed");
    } else {
      failure = () => errorMessage(error);
    }
    renderHead();
    return;
  }
  renderHead();
  $("recordings-view").hidden = false;
  await guarded(load);
  document.body.dataset.ready = "true";
}

start().catch((error) => {
  console.error("phonghop recordings:", error);
});
