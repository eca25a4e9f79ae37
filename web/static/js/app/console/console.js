// Entry point of console.html, the secretary's console (bàn thư ký) at /meetings/<id>/console:
// what the secretary does before, during and after a meeting, over the REST API. Nobody logged
// in (or the session ends meanwhile): off to the login page, which comes back here
// (/?next=/meetings/<id>/console). It loads the meeting, works out which write controls to show
// (perms.js), then mounts one module per section: agenda, documents, attendance, conclusions,
// polls, minutes. A section whose read the server refuses (403) stays hidden; a user with no
// write control at all sees the readable sections with a read-only notice.
//
// The context handed to each section's mount(section, ctx):
//   ctx.meetingId, ctx.meeting, ctx.me
//   ctx.can(action)              whether to show controls for an Action value
//   ctx.agenda                   the agenda as last loaded; ctx.setAgenda(items), ctx.onAgenda(fn)
//   ctx.minutesState             "draft" | "submitted" | "approved" | null (unknown);
//                                ctx.setMinutes(state), ctx.onMinutes(fn)
//   ctx.announce(text)           a polite status message for screen readers
//   ctx.onLanguage(fn)           re-render after a language switch

import { ApiError, apiGet, errorMessage, hasCredentials, logoutAndLeave, whoAmI } from "../api.js";
import { bindLanguageSelect, initI18n, locale, onLanguageChange, t } from "../i18n.js";
import * as agenda from "./agenda.js";
import * as attendance from "./attendance.js";
import * as conclusions from "./conclusions.js";
import * as documents from "./documents.js";
import * as minutes from "./minutes.js";
import { capabilities, SECRETARY_ACTIONS } from "./perms.js";
import * as polls from "./polls.js";

const $ = (id) => document.getElementById(id);

// Section name → its module; the agenda first: the other sections name agenda items.
const SECTIONS = [
  ["agenda", agenda],
  ["documents", documents],
  ["attendance", attendance],
  ["conclusions", conclusions],
  ["polls", polls],
  ["minutes", minutes],
];

/** To the login page, which brings the user back here. */
function toLogin() {
  location.replace(`/?next=${encodeURIComponent(location.pathname)}`);
}

function meetingIdFromPath() {
  const match = /^\/meetings\/(\d+)\/console\/?$/.exec(location.pathname);
  return match ? Number(match[1]) : null;
}

function makeContext(meetingId, meeting, me, allowed) {
  const agendaListeners = new Set();
  const minutesListeners = new Set();
  const announcer = $("console-announce");
  const ctx = {
    meetingId,
    meeting,
    me,
    agenda: [],
    minutesState: null,
    can: (action) => allowed.has(action),
    setAgenda(items) {
      ctx.agenda = items;
      agendaListeners.forEach((listener) => listener(items));
    },
    onAgenda: (listener) => agendaListeners.add(listener),
    setMinutes(state) {
      ctx.minutesState = state;
      minutesListeners.forEach((listener) => listener(state));
    },
    onMinutes: (listener) => minutesListeners.add(listener),
    announce(text) {
      // Cleared first so that the same sentence twice is announced twice.
      announcer.textContent = "";
      requestAnimationFrame(() => {
        announcer.textContent = text;
      });
    },
    onLanguage: (listener) => onLanguageChange(listener),
  };
  return ctx;
}

async function start() {
  await initI18n();
  bindLanguageSelect($("lang-top"));
  const bootStatus = $("boot-status");
  const bootError = $("boot-error");
  const consoleView = $("console-view");
  const meetingId = meetingIdFromPath();

  let me = null;
  let meeting = null;
  let failure = null; // () => message shown instead of the console
  let modules = null; // [name, {load}] once mounted
  let ctx = null;

  function renderHead() {
    $("who").textContent =
      me === null
        ? ""
        : t("user.signed_in_as", {
            name: me.name,
            role: t(`role.${me.kind === "endpoint" ? "endpoint" : me.role}`),
          });
    $("logout").hidden = me === null;
    bootStatus.textContent = "";
    showFailure();
    if (meeting === null) {
      return;
    }
    $("meeting-title").textContent = meeting.title;
    const badge = $("meeting-state");
    badge.className = `badge state-${meeting.state}`;
    badge.textContent = t(`state.${meeting.state}`);
    const date = new Intl.DateTimeFormat(locale(), { dateStyle: "full" });
    const time = new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit" });
    $("meeting-time").textContent = t("meetings.time_range", {
      date: date.format(new Date(meeting.starts_at)),
      start: time.format(new Date(meeting.starts_at)),
      end: time.format(new Date(meeting.ends_at)),
    });
    const roomLink = $("room-link");
    roomLink.href = `/meetings/${meetingId}`;
    roomLink.hidden = meeting.state === "ended" || meeting.state === "cancelled";
    $("recordings-link").href = `/meetings/${meetingId}/recordings`;
  }

  function showFailure() {
    bootError.hidden = failure === null;
    bootError.textContent = failure === null ? "" : failure();
  }

  async function refresh() {
    meeting = await apiGet(`/meetings/${meetingId}`);
    ctx.meeting = meeting;
    renderHead();
    // The agenda first: the other sections show and offer its items.
    const [first, ...others] = modules;
    const shown = [await first[1].load()];
    shown.push(...(await Promise.all(others.map(([, module]) => module.load()))));
    modules.forEach(([name], index) => {
      $(`section-${name}`).hidden = !shown[index];
      document.querySelector(`[data-nav="${name}"]`).hidden = !shown[index];
    });
  }

  async function open() {
    renderHead();
    try {
      meeting = await apiGet(`/meetings/${meetingId}`);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 403 || error.status === 404)) {
        failure = () => t("console.not_allowed");
        renderHead();
        return;
      }
      throw error;
    }
    const allowed = await capabilities(me, meeting);
    ctx = makeContext(meetingId, meeting, me, allowed);
    $("console-readonly").hidden = SECRETARY_ACTIONS.some((action) => allowed.has(action));
    modules = SECTIONS.map(([name, module]) => [name, module.mount($(`section-${name}`), ctx)]);
    consoleView.hidden = false;
    renderHead();
    await refresh();
  }

  async function guarded(work) {
    try {
      await work();
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        toLogin(); // the session ended meanwhile
        return;
      }
      failure = () => errorMessage(error);
      renderHead();
    }
  }

  onLanguageChange(renderHead);

  if (meetingId === null) {
    failure = () => t("console.not_allowed");
    renderHead();
    return;
  }

  $("logout").addEventListener("click", logoutAndLeave);

  $("console-refresh").addEventListener("click", () =>
    guarded(async () => {
      await refresh();
      $("console-announce").textContent = t("console.refreshed");
    }),
  );

  // Nobody logged in on this browser: no need to ask the server (and log a 401).
  if (!hasCredentials()) {
    toLogin();
    return;
  }
  await guarded(async () => {
    me = await whoAmI();
    if (me === null) {
      toLogin();
      return;
    }
    await open();
  });
}

start().catch((error) => {
  console.error("phonghop console:", error);
});
