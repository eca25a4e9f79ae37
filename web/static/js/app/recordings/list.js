// The list of a meeting's recordings on the recordings page: each with its state, start,
// duration, size and SHA-256 (shown in full, to compare with a downloaded copy or the minutes'
// archive), a button to watch it, its download link, and for administrators its deletion.
//
// Exports:
//   recordingTitle(recording)          "Ghi hình lúc 24/11/2026 09:05"
//   playable(recording)                whether its file is served (ready or interrupted)
//   renderList(list, recordings, options)
//       options: {selectedId, canDelete, source (RecordingSource), onPlay(recording),
//                 onDelete(recording), onError(error)}

import { t } from "../i18n.js";
import { downloadLink } from "./download.js";
import { clock, fact, formatBytes, formatDateTime, formatSize, isoDuration } from "./format.js";

const PLAYABLE = new Set(["ready", "interrupted"]);
const DELETABLE = new Set(["ready", "interrupted", "failed"]);

/** A recording's name on the page: when it started. */
export function recordingTitle(recording) {
  return t("recordings.item", { time: formatDateTime(recording.started_at) });
}

/** Whether the server serves the recording's file (finished, or filed after a crash). */
export function playable(recording) {
  return PLAYABLE.has(recording.state);
}

function timeElement(iso) {
  const time = document.createElement("time");
  time.dateTime = iso;
  time.textContent = formatDateTime(iso);
  return time;
}

function fileName(recording) {
  return `phien-hop-${recording.meeting_id}-ghi-hinh-${recording.id}.${recording.container}`;
}

function recordingDownload(recording, title, options) {
  return downloadLink({
    text: t("recordings.download"),
    label: t("recordings.download_label", { title }),
    fileName: fileName(recording),
    href: options.source.fileUrlOf(recording),
    direct: options.source.direct(),
    copy: () => options.source.url(recording),
    onError: options.onError,
  });
}

function item(recording, options) {
  const title = recordingTitle(recording);
  const li = document.createElement("li");
  li.className = "recording";
  li.dataset.recordingId = String(recording.id);
  li.dataset.state = recording.state;
  if (recording.id === options.selectedId) li.setAttribute("aria-current", "true");

  const head = document.createElement("div");
  head.className = "recording-head";
  const heading = document.createElement("h3");
  heading.textContent = title;
  const badge = document.createElement("span");
  badge.className = `badge rec-state-${recording.state}`;
  badge.textContent = t(`recordings.state.${recording.state}`);
  head.append(heading, badge);

  const facts = document.createElement("dl");
  facts.className = "recording-facts";
  fact(facts, "recordings.started", timeElement(recording.started_at));
  if (recording.ended_at) {
    fact(facts, "recordings.ended", timeElement(recording.ended_at));
  }
  if (recording.duration_s !== null && recording.duration_s !== undefined) {
    const length = document.createElement("time");
    length.dateTime = isoDuration(recording.duration_s);
    length.textContent = clock(recording.duration_s);
    fact(facts, "recordings.duration", length);
  }
  if (recording.size !== null && recording.size !== undefined) {
    const exact = document.createElement("span");
    exact.className = "muted";
    exact.textContent = ` (${formatBytes(recording.size)})`;
    fact(facts, "recordings.size", formatSize(recording.size), exact);
  }
  if (recording.sha256) {
    const hash = document.createElement("code");
    hash.className = "sha256";
    hash.textContent = recording.sha256;
    fact(facts, "recordings.sha256", hash);
  }

  const actions = document.createElement("div");
  actions.className = "recording-actions";
  if (playable(recording)) {
    const play = document.createElement("button");
    play.type = "button";
    play.className = "primary watch";
    play.textContent = t("recordings.watch");
    play.setAttribute("aria-label", t("recordings.watch_label", { title }));
    // Pressed: the one in the player (the name stays the same, as a toggle's should).
    play.setAttribute("aria-pressed", String(recording.id === options.selectedId));
    play.addEventListener("click", () => options.onPlay(recording));
    actions.append(play, recordingDownload(recording, title, options));
  } else if (recording.state === "recording") {
    const note = document.createElement("p");
    note.className = "notice";
    note.textContent = t("recordings.in_progress");
    actions.append(note);
  }
  if (options.canDelete && DELETABLE.has(recording.state)) {
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "danger delete";
    remove.textContent = t("recordings.delete");
    remove.setAttribute("aria-label", t("recordings.delete_label", { title }));
    remove.addEventListener("click", () => options.onDelete(recording));
    actions.append(remove);
  }
  li.append(head, facts, actions);
  return li;
}

/** Render `recordings` (oldest first, as the API lists them) into `list`. */
export function renderList(list, recordings, options) {
  list.replaceChildren(...recordings.map((recording) => item(recording, options)));
}
