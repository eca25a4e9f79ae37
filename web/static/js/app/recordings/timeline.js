// The timeline of a recording beside its video: one button per event of the meeting (an agenda
// item taken up, the floor given, a vote opened or closed), each with its position; a button
// moves the video there, and the event being played is marked (aria-current) as it plays.
//
// Events come from GET /meetings/{id}/recordings/{rid}: {at: seconds from the start, kind:
// "agenda" | "speaker" | "poll_opened" | "poll_closed", ...} (meetings/recordings.py timeline).
// A kind this client does not know is left out rather than shown wrongly.
//
// Exports:
//   eventLabel(event)                 what an event says ("Mục 2.1: …"), null for unknown kinds
//   currentIndex(events, time)        the index of the last event at or before `time`, or -1
//   mountTimeline({list, empty}, video)
//                                     returns {show(events), mark()}

import { t } from "../i18n.js";
import { clock, isoDuration } from "./format.js";

// A seek lands on the nearest frame, which can be a little before the event's own time.
const TOLERANCE_S = 0.25;

/** The event as a sentence in the current language; null for a kind this client lacks. */
export function eventLabel(event) {
  switch (event.kind) {
    case "agenda":
      return t("recordings.timeline.agenda", { number: event.number, title: event.title });
    case "speaker":
      return t("recordings.timeline.speaker", { name: event.name });
    case "poll_opened":
      return t("recordings.timeline.poll_opened", { title: event.title });
    case "poll_closed":
      return t("recordings.timeline.poll_closed", { title: event.title });
    default:
      return null;
  }
}

/** The index of the last event at or before `time` (events sorted by `at`), -1 before any. */
export function currentIndex(events, time) {
  let found = -1;
  events.forEach((event, index) => {
    if (event.at <= time + TOLERANCE_S) found = index;
  });
  return found;
}

/**
 * Render the timeline into `list` (an <ol>) for `video`, and keep its mark on what plays.
 * @param {{list: HTMLOListElement, empty: HTMLElement}} elements
 * @param {HTMLVideoElement} video
 */
export function mountTimeline({ list, empty }, video) {
  let events = [];
  let buttons = [];
  let marked = -1;

  function mark() {
    const index = currentIndex(events, video.currentTime);
    if (index === marked) return;
    marked = index;
    buttons.forEach((button, i) => {
      if (i === index) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    });
  }

  function eventButton(event) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "timeline-event";
    button.dataset.kind = event.kind;
    button.dataset.at = String(event.at);
    const time = document.createElement("time");
    time.dateTime = isoDuration(event.at);
    time.textContent = clock(event.at);
    const text = document.createElement("span");
    text.className = "timeline-text";
    text.textContent = eventLabel(event);
    button.append(time, " ", text);
    button.addEventListener("click", () => {
      // Seeking keeps playing or paused as it was: the user chose a place, not to play.
      video.currentTime = event.at;
      mark();
    });
    return button;
  }

  function render() {
    buttons = events.map(eventButton);
    list.replaceChildren(
      ...buttons.map((button) => {
        const item = document.createElement("li");
        item.append(button);
        return item;
      }),
    );
    empty.hidden = events.length > 0;
    marked = -1;
    mark();
  }

  for (const type of ["timeupdate", "seeked", "loadedmetadata"]) {
    video.addEventListener(type, mark);
  }

  return {
    /** Show `events` (the recording's timeline), sorted by position. */
    show(timeline) {
      events = (timeline || [])
        .filter((event) => eventLabel(event) !== null)
        .sort((a, b) => a.at - b.at);
      render();
    },
    /** Re-render in the current language (a switch). */
    render,
    mark,
  };
}
