// The player of the recordings page: the chosen recording in a <video controls>, its name, and
// its timeline to jump through the meeting (timeline.js) and, if the server wrote them, its
// separate track files (tracks.js). The video plays from the file's own URL, so the browser
// asks the server for ranges as it seeks (source.js for devices).
//
// Exports:
//   mountPlayer(elements, source)
//       elements: {section, heading, video, error, list, empty, tracks: {section, list, error}};
//       source: a RecordingSource; returns {show(recording, detail), clear(), render(),
//       current()}

import { errorMessage } from "../api.js";
import { t } from "../i18n.js";
import { recordingTitle } from "./list.js";
import { mountTimeline } from "./timeline.js";
import { mountTracks } from "./tracks.js";

export function mountPlayer({ section, heading, video, error, list, empty, tracks }, source) {
  const timeline = mountTimeline({ list, empty }, video);
  const files = mountTracks(tracks, source);
  let shown = null; // {recording, detail}
  let loading = 0; // the latest show(): an older one finishing late must not win

  function showError(text) {
    error.hidden = text === null;
    error.textContent = text || "";
  }

  video.addEventListener("error", () => {
    if (shown !== null && video.getAttribute("src")) showError(t("recordings.play_failed"));
  });
  video.addEventListener("loadeddata", () => showError(null));

  function render() {
    if (shown === null) return;
    heading.textContent = recordingTitle(shown.recording);
    video.setAttribute("aria-label", t("recordings.video_label", { title: heading.textContent }));
    timeline.render();
    files.render();
  }

  return {
    /** Put `recording` (with `detail`: its GET answer, timeline and tracks) in the player. */
    async show(recording, detail) {
      const ticket = ++loading;
      shown = { recording, detail };
      section.hidden = false;
      showError(null);
      timeline.show(detail.timeline);
      files.show(recording, detail);
      render();
      try {
        const url = await source.url(recording);
        if (ticket !== loading) return;
        if (video.getAttribute("src") !== url) {
          video.src = url;
          video.load();
        }
      } catch (caught) {
        if (ticket === loading) showError(errorMessage(caught));
      }
    },
    /** Empty the player (the recording shown is gone). */
    clear() {
      loading += 1;
      shown = null;
      video.pause();
      video.removeAttribute("src");
      video.load();
      files.clear();
      source.release();
      section.hidden = true;
    },
    render,
    /** The id of the recording in the player, or null. */
    current() {
      return shown === null ? null : shown.recording.id;
    },
  };
}
