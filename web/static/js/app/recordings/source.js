// Where the browser gets a recording's files from. A person's session is a cookie, which the
// <video> element and a download link send by themselves: the file's URL is used as it is and
// the server answers the player's Range requests. An endpoint device authenticates with a
// bearer token, which neither can send: its copy is fetched with the token into a blob: URL
// (CSP media-src allows blob:), whole, and released when another one is chosen.
//
// Exports:
//   fileUrl(meetingId, recordingId)   the API URL of the file
//   trackUrl(meetingId, recordingId, number)
//                                     the API URL of one of its separate track files
//   RecordingSource                   class: direct() whether a file's URL works as it is;
//                                     fileUrlOf(recording); url(recording) resolves to a URL to
//                                     play or save; trackUrlOf(recording, track);
//                                     trackCopy(recording, track) resolves to a blob: URL of a
//                                     track for a device to save; release() frees the blobs

import { API_BASE, ApiError, authHeaders, hasBearer } from "../api.js";

function recordingBase(meetingId, recordingId) {
  const meeting = encodeURIComponent(meetingId);
  return `${API_BASE}/meetings/${meeting}/recordings/${encodeURIComponent(recordingId)}`;
}

/** The API URL of a recording's file (served with Range support). */
export function fileUrl(meetingId, recordingId) {
  return `${recordingBase(meetingId, recordingId)}/file`;
}

/** The API URL of a recording's track file number `number` (1-based, as the API lists them). */
export function trackUrl(meetingId, recordingId, number) {
  return `${recordingBase(meetingId, recordingId)}/tracks/${encodeURIComponent(number)}`;
}

/** The file at `url` fetched with the device's token, as a new blob: URL. */
async function fetchedCopy(url) {
  let response;
  try {
    const headers = await authHeaders("GET");
    response = await fetch(url, { headers, credentials: "same-origin" });
  } catch (error) {
    throw new ApiError(0, "network", String(error));
  }
  if (!response.ok) {
    throw new ApiError(response.status, `http_${response.status}`, response.statusText);
  }
  return URL.createObjectURL(await response.blob());
}

export class RecordingSource {
  constructor(meetingId) {
    this.meetingId = meetingId;
    this.blob = null; // {id, url}: the device's copy of the recording in the player
    this.trackBlob = null; // {key, url}: the device's copy of the track it saved last
  }

  /** The API URL of `recording`'s file. */
  fileUrlOf(recording) {
    return fileUrl(this.meetingId, recording.id);
  }

  /** The API URL of `track` (an entry of the recording's `tracks`). */
  trackUrlOf(recording, track) {
    return trackUrl(this.meetingId, recording.id, track.number);
  }

  /** Whether a file's own URL works here (a cookie session), so no copy is needed. */
  direct() {
    return !hasBearer();
  }

  /** A URL the <video> can play and a link can save. */
  async url(recording) {
    const url = fileUrl(this.meetingId, recording.id);
    if (this.direct()) return url;
    if (this.blob && this.blob.id === recording.id) return this.blob.url;
    const copy = await fetchedCopy(url);
    this.releaseRecording();
    this.blob = { id: recording.id, url: copy };
    return this.blob.url;
  }

  /** A URL a link can save `track` from: its own, or (a device) a copy fetched with the token. */
  async trackCopy(recording, track) {
    const url = this.trackUrlOf(recording, track);
    if (this.direct()) return url;
    const key = `${recording.id}/${track.number}`;
    if (this.trackBlob && this.trackBlob.key === key) return this.trackBlob.url;
    const copy = await fetchedCopy(url);
    // One track copy at a time: a track can be large, and it has been saved by now.
    this.releaseTrack();
    this.trackBlob = { key, url: copy };
    return this.trackBlob.url;
  }

  releaseRecording() {
    if (this.blob) URL.revokeObjectURL(this.blob.url);
    this.blob = null;
  }

  releaseTrack() {
    if (this.trackBlob) URL.revokeObjectURL(this.trackBlob.url);
    this.trackBlob = null;
  }

  /** Free the device's copies, if any. */
  release() {
    this.releaseRecording();
    this.releaseTrack();
  }
}
