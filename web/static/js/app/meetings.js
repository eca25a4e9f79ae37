// "My meetings": the live and upcoming meetings of the logged-in account or endpoint
// (GET /api/v1/meetings), each with its state, its time and, when live, a link into the room.
//
// Exports:
//   roomUrl(meetingId)             the meeting room page's URL, /meetings/<id>
//   consoleUrl(meetingId)          the secretary's console of a meeting, /meetings/<id>/console
//   hostsMeeting(viewer, meeting)  whether the viewer (GET /auth/me) chairs, is secretary of, or
//                                  administers the meeting: who gets the console link
//   splitMeetings(meetings, now)   {live, upcoming}: live ones, then scheduled (and cancelled)
//                                  ones that have not ended yet, soonest first
//   mountMeetings(elements, onSignedOut)
//                                  render into index.html's meetings section; returns
//                                  {load(filterId, viewer), stop()}: load (again) and keep it
//                                  fresh (viewer: the principal, for the console link);
//                                  onSignedOut(error) when the server no longer knows the caller

import { ApiError, apiGet, errorMessage } from "./api.js";
import { locale, onLanguageChange, t } from "./i18n.js";

const REFRESH_MS = 30_000; // a device waiting for its meeting sees it go live without a reload

/** The meeting room page's URL. */
export function roomUrl(meetingId) {
  return `/meetings/${encodeURIComponent(meetingId)}`;
}

/** The secretary's console of a meeting. */
export function consoleUrl(meetingId) {
  return `${roomUrl(meetingId)}/console`;
}

/** Whether `viewer` hosts `meeting` (the console's users; the console itself asks the server). */
export function hostsMeeting(viewer, meeting) {
  if (!viewer || viewer.kind !== "account") {
    return false;
  }
  return (
    viewer.role === "admin" || viewer.id === meeting.chair_id || viewer.id === meeting.secretary_id
  );
}

/** Live meetings, and scheduled or cancelled ones not over yet (soonest first). */
export function splitMeetings(meetings, now = Date.now()) {
  const byStart = (a, b) => Date.parse(a.starts_at) - Date.parse(b.starts_at);
  const live = meetings.filter((m) => m.state === "live").sort(byStart);
  const upcoming = meetings
    .filter(
      (m) =>
        m.state === "scheduled" || (m.state === "cancelled" && Date.parse(m.ends_at) > now),
    )
    .sort(byStart);
  return { live, upcoming };
}

function formatTime(meeting) {
  const start = new Date(meeting.starts_at);
  const end = new Date(meeting.ends_at);
  const date = new Intl.DateTimeFormat(locale(), {
    weekday: "long",
    day: "numeric",
    month: "numeric",
    year: "numeric",
  });
  const time = new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit" });
  let text = t("meetings.time_range", {
    date: date.format(start),
    start: time.format(start),
    end: time.format(end),
  });
  if (meeting.state === "live" && meeting.started_at) {
    text += ` · ${t("meetings.started_at", { time: time.format(new Date(meeting.started_at)) })}`;
  }
  return text;
}

function meetingItem(meeting, viewer) {
  const item = document.createElement("li");
  item.className = "meeting";
  item.dataset.meetingId = String(meeting.id);
  item.dataset.state = meeting.state;

  const body = document.createElement("div");
  body.className = "meeting-body";
  const title = document.createElement("h3");
  title.className = "meeting-title";
  title.textContent = meeting.title;
  const when = document.createElement("p");
  when.className = "meeting-time";
  const time = document.createElement("time");
  time.dateTime = meeting.starts_at;
  time.textContent = formatTime(meeting);
  when.append(time);
  body.append(title, when);

  const state = document.createElement("span");
  state.className = `badge state-${meeting.state}`;
  state.textContent = t(`state.${meeting.state}`);

  item.append(body, state);
  // One grid cell for the links, however many this viewer gets.
  const links = document.createElement("div");
  links.className = "meeting-links";
  if (meeting.state === "live") {
    const join = document.createElement("a");
    join.className = "button primary join";
    join.href = roomUrl(meeting.id);
    join.textContent = t("meetings.join");
    join.setAttribute("aria-label", t("meetings.join_label", { title: meeting.title }));
    links.append(join);
  }
  if (meeting.state !== "cancelled" && hostsMeeting(viewer, meeting)) {
    const desk = document.createElement("a");
    desk.className = "button console-link";
    desk.href = consoleUrl(meeting.id);
    desk.textContent = t("console.link");
    desk.setAttribute("aria-label", t("console.link_label", { title: meeting.title }));
    links.append(desk);
  }
  if (links.childElementCount > 0) {
    item.append(links);
  }
  return item;
}

/** Render "my meetings" into the given elements; see the module comment. */
export function mountMeetings(elements, onSignedOut) {
  const { liveList, liveEmpty, upcomingList, upcomingEmpty, status, error, filter, refresh } =
    elements;
  let meetings = null; // last answer, re-rendered on a language switch
  let failure = null;
  let filterId = null;
  let viewer = null;
  let timer = null;

  function render() {
    error.hidden = failure === null;
    error.textContent = failure === null ? "" : errorMessage(failure);
    status.textContent = meetings === null && failure === null ? t("meetings.loading") : "";
    filter.hidden = filterId === null;
    if (meetings === null) {
      return;
    }
    const shown = filterId === null ? meetings : meetings.filter((m) => m.id === filterId);
    const { live, upcoming } = splitMeetings(shown);
    liveList.replaceChildren(...live.map((m) => meetingItem(m, viewer)));
    upcomingList.replaceChildren(...upcoming.map((m) => meetingItem(m, viewer)));
    liveEmpty.hidden = live.length > 0;
    upcomingEmpty.hidden = upcoming.length > 0;
  }

  async function fetchNow() {
    try {
      meetings = await apiGet("/meetings");
      failure = null;
    } catch (caught) {
      if (caught instanceof ApiError && caught.status === 401) {
        onSignedOut(caught); // session expired or ended elsewhere: back to the login form
        return;
      }
      failure = caught; // keep the last list on screen under the error
    }
    render();
  }

  onLanguageChange(render);
  refresh.addEventListener("click", fetchNow);
  document.addEventListener("visibilitychange", () => {
    if (timer !== null && document.visibilityState === "visible") {
      fetchNow();
    }
  });

  return {
    async load(id = null, who = null) {
      filterId = id;
      viewer = who;
      meetings = null;
      failure = null;
      render();
      await fetchNow();
      if (timer === null) {
        timer = setInterval(() => {
          if (document.visibilityState === "visible") {
            fetchNow();
          }
        }, REFRESH_MS);
      }
    },
    stop() {
      clearInterval(timer);
      timer = null;
      meetings = null;
      failure = null;
      liveList.replaceChildren();
      upcomingList.replaceChildren();
    },
  };
}
