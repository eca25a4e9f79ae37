// Where the browser gets a recording's file from. A person's session is a cookie, which the
// <video> element and a download link send by themselves: the file's URL is used as it is and
// the server answers the player's Range requests. An endpoint device authenticates with a
// bearer token, which neither can send: its copy is fetched with the token into a blob: URL
// (CSP media-src allows blob:), whole, and released when another one is chosen.
//
// Exports:
//   fileUrl(meetingId, recordingId)   the API URL of the file
//   RecordingSource                   class: direct() whether the file's URL works as it is;
//                                     fileUrlOf(recording); url(recording) resolves to a URL to
//                                     play or save; release() frees a blob made for a device

import { API_BASE, ApiError, authHeaders, hasBearer } from "../api.js";

/** The API URL of a recording's file (served with Range support). */
export function fileUrl(meetingId, recordingId) {
  const meeting = encodeURIComponent(meetingId);
  return `${API_BASE}/meetings/${meeting}/recordings/${encodeURIComponent(recordingId)}/file`;
}

export class RecordingSource {
  constructor(meetingId) {
    this.meetingId = meetingId;
    this.blob = null; // {id, url} for a device
  }

  /** The API URL of `recording`'s file. */
  fileUrlOf(recording) {
    return fileUrl(this.meetingId, recording.id);
  }

  /** Whether the file's own URL works here (a cookie session), so no copy is needed. */
  direct() {
    return !hasBearer();
  }

  /** A URL the <video> can play and a link can save. */
  async url(recording) {
    const url = fileUrl(this.meetingId, recording.id);
    if (this.direct()) return url;
    if (this.blob && this.blob.id === recording.id) return this.blob.url;
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
    const blob = await response.blob();
    this.release();
    this.blob = { id: recording.id, url: URL.createObjectURL(blob) };
    return this.blob.url;
  }

  /** Free the device's copy, if any. */
  release() {
    if (this.blob) URL.revokeObjectURL(this.blob.url);
    this.blob = null;
  }
}
