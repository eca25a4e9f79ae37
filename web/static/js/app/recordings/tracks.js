// The separate track files of the recording in the player, written when the server records
// each producer on its own as well (PHONGHOP_RECORDING_TRACKS): one entry per camera,
// microphone or screen share, with whose it is, where it starts on the recording's timeline,
// its length, size and SHA-256 (to compare with a saved copy), and its download (download.js:
// the same way as the recording's own file). Hidden when the recording has none.
//
// Tracks come from GET /meetings/{id}/recordings/{rid}: {number, name, participant
// ("account:2" / "endpoint:3"), source (camera | microphone | screen), kind, offset_s (null when
// filed after a crash), size, duration_s, sha256}.
//
// Exports:
//   participantNames(timeline)        Map of participant key → name, from the timeline's speakers
//   sourceLabel(source)               "Camera", "Micrô", "Chia sẻ màn hình"; null if unknown
//   mountTracks({section, list, error}, source)
//                                     returns {show(recording, detail), clear(), render()}

import { errorMessage } from "../api.js";
import { t } from "../i18n.js";
import { downloadLink } from "./download.js";
import { clock, fact, formatBytes, formatSize, isoDuration } from "./format.js";

/**
 * Who is who, as the timeline names speakers: its speaker events carry the participant's key
 * and name. Whoever never had the floor keeps their key.
 */
export function participantNames(timeline) {
  const names = new Map();
  for (const event of timeline || []) {
    if (event.kind === "speaker" && event.speaker && event.name) {
      names.set(event.speaker, event.name);
    }
  }
  return names;
}

/** A track's source in the current language; null for one this client does not know. */
export function sourceLabel(source) {
  switch (source) {
    case "camera":
      return t("recordings.tracks.source.camera");
    case "microphone":
      return t("recordings.tracks.source.microphone");
    case "screen":
      return t("recordings.tracks.source.screen");
    default:
      return null;
  }
}

function position(seconds) {
  const time = document.createElement("time");
  time.dateTime = isoDuration(seconds);
  time.textContent = clock(seconds);
  return time;
}

function trackFileName(recording, track) {
  return `phien-hop-${recording.meeting_id}-ghi-hinh-${recording.id}-${track.name}`;
}

/**
 * Render the tracks of the recording in the player into `list` (a <ul>) inside `section`.
 * @param {{section: HTMLElement, list: HTMLUListElement, error: HTMLElement}} elements
 * @param {import("./source.js").RecordingSource} source
 */
export function mountTracks({ section, list, error }, source) {
  let shown = null; // {recording, tracks, names}
  let failure = null; // a device's copy that could not be fetched

  function showError(caught) {
    failure = caught;
    error.hidden = failure === null;
    error.textContent = failure === null ? "" : errorMessage(failure);
  }

  function entry(recording, track, names) {
    const who = names.get(track.participant) || track.participant || t("recordings.tracks.unknown");
    const what = sourceLabel(track.source) || track.source || t("recordings.tracks.unknown");
    const title = t("recordings.tracks.item", { who, source: what });

    const li = document.createElement("li");
    li.className = "track";
    li.dataset.trackNumber = String(track.number);
    if (track.source) li.dataset.source = track.source;
    const heading = document.createElement("h4");
    heading.textContent = title;

    const facts = document.createElement("dl");
    facts.className = "recording-facts";
    const offset = track.offset_s;
    fact(
      facts,
      "recordings.tracks.offset",
      offset === null || offset === undefined ? "—" : position(offset),
    );
    fact(facts, "recordings.duration", position(track.duration_s));
    const exact = document.createElement("span");
    exact.className = "muted";
    exact.textContent = ` (${formatBytes(track.size)})`;
    fact(facts, "recordings.size", formatSize(track.size), exact);
    const hash = document.createElement("code");
    hash.className = "sha256";
    hash.textContent = track.sha256;
    fact(facts, "recordings.sha256", hash);

    const link = downloadLink({
      text: t("recordings.download"),
      label: t("recordings.tracks.download_label", { title }),
      fileName: trackFileName(recording, track),
      href: source.trackUrlOf(recording, track),
      direct: source.direct(),
      copy: () => source.trackCopy(recording, track),
      onError: showError,
    });
    link.addEventListener("click", () => showError(null));
    li.append(heading, facts, link);
    return li;
  }

  function render() {
    if (shown === null) return;
    const { recording, tracks, names } = shown;
    showError(failure);
    list.replaceChildren(...tracks.map((track) => entry(recording, track, names)));
  }

  return {
    /** List the tracks of `recording` (`detail`: its GET answer); hidden if it has none. */
    show(recording, detail) {
      const tracks = detail.tracks || [];
      shown = { recording, tracks, names: participantNames(detail.timeline) };
      showError(null);
      section.hidden = tracks.length === 0;
      render();
    },
    /** Nothing in the player: no tracks either. */
    clear() {
      shown = null;
      showError(null);
      list.replaceChildren();
      section.hidden = true;
    },
    /** Re-render in the current language (a switch). */
    render,
  };
}
