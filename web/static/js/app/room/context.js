// The RoomContext every panel of the meeting room gets (see mount(root, room) in each panel):
// the meeting, who this participant is and what they may do, the socket.io events of this
// meeting, acknowledged calls, the REST helpers, and a few page services (tab attention, the
// document work area, toasts). One object per page; panels never touch the socket directly,
// so a reconnect (a new socket.io session) is invisible to them apart from resync().
//
// Exports:
//   RoomContext   class; built by room.js once the join is acknowledged

import { ApiError, api, apiGet, apiPost, errorMessage } from "../api.js";
import { onLanguageChange } from "../i18n.js";

export class RoomContext {
  /**
   * @param {object} options
   * @param {import("../../rtc-client.js").RtcClient} options.client  joined RtcClient
   * @param {object} options.meeting        GET /meetings/{id}
   * @param {object} options.page           page services: attention(panel, opts), openViewer(),
   *                                        closeViewer(), toast(text), viewerArea (element)
   */
  constructor({ client, meeting, page }) {
    this.client = client;
    this.meetingId = client.meetingId;
    this.meeting = meeting;
    this.viewerArea = page.viewerArea;
    this._page = page;
    this._handlers = new Map(); // event → Set of handlers
    this.api = { api, apiGet, apiPost, errorMessage, ApiError };
    this.applyJoin(client.joinInfo);
  }

  /** Take in a join acknowledgement (the first one, and again after each reconnect). */
  applyJoin(ack) {
    this.self = ack.self;
    this.participants = new Map((ack.participants || []).map((p) => [p.key, p]));
    this.actions = new Set(ack.actions || []);
    this.presentation = ack.presentation || null;
    this.locked = Boolean(ack.locked);
    if (ack.meeting) this.meeting = { ...this.meeting, ...ack.meeting };
  }

  /** Whether this participant may perform `action` (a meetings.permissions Action value). */
  can(action) {
    return this.actions.has(action);
  }

  /** Subscribe to a server event of this meeting; returns a function that unsubscribes. */
  on(event, handler) {
    if (!this._handlers.has(event)) {
      this._handlers.set(event, new Set());
      this.client.socket.on(event, (data) => this._deliver(event, data));
    }
    this._handlers.get(event).add(handler);
    return () => this._handlers.get(event).delete(handler);
  }

  _deliver(event, data) {
    // One socket may be in several meetings (another tab's device); keep this meeting's.
    if (data && typeof data === "object" && "meeting_id" in data && data.meeting_id !== this.meetingId) {
      return;
    }
    for (const handler of this._handlers.get(event) || []) {
      try {
        handler(data);
      } catch (error) {
        console.error(`room: handler of ${event} failed`, error);
      }
    }
  }

  /** Emit `event` with meeting_id added; resolves to the ack, rejects with .code/.message. */
  async call(event, payload = {}) {
    return this.client.request(event, { meeting_id: this.meetingId, ...payload });
  }

  /** Flag a side tab ("documents", "speakers", "voting", "people"), or switch to it. */
  attention(panel, options = {}) {
    this._page.attention(panel, options);
  }

  /** Show the large work area beside the video (the stage becomes compact). */
  openViewer() {
    this._page.openViewer();
  }

  /** Hide the work area; the stage takes the room again. */
  closeViewer() {
    this._page.closeViewer();
  }

  /** A short polite status message for everyone using the page (screen readers included). */
  toast(text) {
    this._page.toast(text);
  }

  /** Call `fn(lang)` after a language switch; returns an unsubscribe function. */
  onLanguage(fn) {
    return onLanguageChange(fn);
  }
}
