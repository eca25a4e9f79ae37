// Recording in the meeting room: the indicator everyone sees while the meeting is recorded (a
// red dot, "Đang ghi hình" and the time since it started), the chair's record toggle, and the
// links to the recordings page (/meetings/<id>/recordings) for those who may watch them.
//
// The state comes from the join ack (`recording`, again after each reconnect: resync) and the
// room's `recording.state` event ({meeting_id, recording: {id, state, started_at, started_by}
// or null}). The indicator is a polite live region whose words change only when recording
// starts or stops; the ticking elapsed time beside it is hidden from assistive technology (a
// screen reader is not interrupted every second) and the words carry the start's clock time.
//
// Exports:
//   mountRecording(room, elements)   elements: {indicator, button, link, endedLink}; returns
//                                    {render, resync}
//   formatElapsed(seconds)           "m:ss", "h:mm:ss" past an hour

import { hasBearer } from "../api.js";
import { locale, t } from "../i18n.js";
import { refusalText } from "./refusal.js";

const TICK_MS = 1000;

/** Whole seconds as "m:ss" (under an hour) or "h:mm:ss". */
export function formatElapsed(seconds) {
  const whole = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = String(whole % 60).padStart(2, "0");
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}` : `${minutes}:${secs}`;
}

function recordingsUrl(meetingId) {
  return `/meetings/${encodeURIComponent(meetingId)}/recordings`;
}

/**
 * Mount the indicator, the chair's toggle and the links.
 * @param {import("./context.js").RoomContext} room
 * @param {{indicator: HTMLElement, button: HTMLButtonElement, link: HTMLAnchorElement,
 *          endedLink: HTMLAnchorElement}} elements
 */
export function mountRecording(room, { indicator, button, link, endedLink }) {
  let current = room.client.joinInfo ? room.client.joinInfo.recording || null : null;
  let busy = false; // a start or stop waiting for its ack: one at a time
  let timer = null;
  let shown = null; // what the live region says now: rebuilt (and announced) only on a change

  // The indicator's parts are made once: the live region's words change only on start/stop.
  const dot = document.createElement("span");
  dot.className = "rec-dot";
  dot.setAttribute("aria-hidden", "true");
  const words = document.createElement("span");
  words.className = "rec-words";
  const elapsed = document.createElement("span");
  elapsed.className = "rec-elapsed";
  elapsed.setAttribute("aria-hidden", "true"); // ticks every second: shown, never announced

  function seconds() {
    return (Date.now() - Date.parse(current.started_at)) / 1000;
  }

  function tick() {
    elapsed.textContent = current ? formatElapsed(seconds()) : "";
  }

  function renderIndicator() {
    indicator.dataset.recording = String(current !== null);
    if (current === null) {
      clearInterval(timer);
      timer = null;
      shown = null;
      indicator.replaceChildren(); // empty: nothing shown, nothing announced
      return;
    }
    const since = new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit" });
    const text = t("room.recording.on");
    const detail = ` (${t("room.recording.since", {
      time: since.format(new Date(current.started_at)),
    })})`;
    const key = `${current.id}|${text}${detail}`;
    if (key !== shown) {
      // Another meeting update must not make a screen reader say it all again.
      shown = key;
      words.textContent = text;
      const spoken = document.createElement("span");
      spoken.className = "visually-hidden";
      spoken.textContent = detail;
      indicator.replaceChildren(dot, words, spoken, elapsed);
    }
    tick();
    if (timer === null) timer = setInterval(tick, TICK_MS);
  }

  function renderButton() {
    const live = room.meeting.state === "live";
    button.hidden = !(room.can("meeting.start") && live);
    const on = current !== null;
    button.setAttribute("aria-pressed", String(on));
    button.textContent = t(on ? "room.recording.stop" : "room.recording.start");
    button.classList.toggle("recording", on);
    button.disabled = busy;
  }

  // A device's login is a token in this tab's sessionStorage, which a new tab inherits only
  // from its opener (target=_blank alone opens it without one).
  if (hasBearer()) link.rel = "opener";

  function renderLinks() {
    const canWatch = room.can("meeting.view");
    link.hidden = !canWatch;
    link.href = recordingsUrl(room.meetingId);
    endedLink.href = recordingsUrl(room.meetingId);
    endedLink.hidden = !(canWatch && room.meeting.state === "ended");
  }

  function render() {
    renderIndicator();
    renderButton();
    renderLinks();
  }

  function apply(recording, { quiet = false } = {}) {
    const was = current;
    current = recording && recording.state === "recording" ? recording : null;
    if (was !== null && current === null && !quiet) room.toast(t("room.recording.stopped"));
    render();
  }

  /** Ask the server what is being recorded (after a refusal: the page may have missed an
   *  event), without a toast that would hide the refusal's. */
  async function reread() {
    if (!room.can("meeting.view")) return;
    const recordings = await room.api.apiGet(`/meetings/${room.meetingId}/recordings`);
    apply(recordings.find((r) => r.state === "recording") || null, { quiet: true });
  }

  button.addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    renderButton();
    const stopping = current !== null;
    try {
      const ack = await room.call(stopping ? "recording.stop" : "recording.start");
      // The room's recording.state says the same; the ack is here first for the chair.
      apply(stopping ? null : ack.recording);
    } catch (error) {
      const conflict = stopping
        ? t("room.recording.error.not_recording")
        : t("room.recording.error.conflict");
      room.toast(
        refusalText(error, {
          recording_unavailable: t("room.recording.error.unavailable"),
          conflict,
        }),
      );
      await reread().catch((failure) => console.warn("recordings:", failure));
    } finally {
      busy = false;
      renderButton();
    }
  });

  room.on("recording.state", (data) => apply(data.recording));
  room.on("meeting.ended", () => {
    room.meeting = { ...room.meeting, state: "ended" };
    apply(null);
  });
  for (const event of ["meeting.started", "meeting.updated"]) {
    room.on(event, () => setTimeout(render));
  }
  room.onLanguage(render);
  render();

  return {
    render,
    /** After a reconnect: the new join ack says what is being recorded now. */
    resync() {
      apply(room.client.joinInfo ? room.client.joinInfo.recording || null : null);
    },
  };
}
