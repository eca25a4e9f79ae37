// Presenter mode of the documents viewer: one participant pages through a document and
// everyone else's viewer follows, page for page (not a video: each reads the PDF at their own
// screen's resolution).
//
// The chair, the secretary and the organisers (room.can("document.manage") or
// "media.direct") get a "Trình chiếu" toggle in the viewer: while it is on, every page change
// goes to the server as document.present {document_id, page}; turning it off sends
// {document_id: null}. Everyone receives document.presenting {document_id, version, page,
// presenter, presenter_name} (document_id null: it ended) and, unless they stepped out,
// their viewer opens that document version at exactly that page. Browsing away (scrolling,
// another page, another document) or "Rời trình chiếu" steps out; a banner then offers
// "Theo lại", back to the presenter's current page. A presentation under way when joining
// comes in the join ack (room.presentation) and is applied on mount and after a reconnect.
//
// Exports:
//   Presenter                      new Presenter(room, viewer, hooks); see the constructor
//     .apply(presentation)         a document.presenting payload, or null: none
//     .readerOpened(documentId)    the reader opened a document of their own choice
//     .viewerClosed()              the reader closed the viewer
//     .presentingId                the document being presented, or null
//     .relabel()                   re-render texts (after a language switch)

import { applyTranslations, t } from "../i18n.js";

const BANNER = `
<p class="pdfv-banner-line">
  <span class="pdfv-banner-text" role="status"></span>
  <button type="button" class="pdfv-banner-action"></button>
</p>
`;

export class Presenter {
  /**
   * @param {object} room      the RoomContext
   * @param {object} viewer    the PdfViewer (presentSlot, bannerSlot, onPageChange, open ...)
   * @param {object} hooks
   * @param {(documentId: number, version: number, page: number) => Promise<boolean>} hooks.follow
   *        show that document version at that page in the (opened) viewer, without focus
   * @param {(documentId: number) => string} hooks.titleOf  a document's title, "" if unknown
   * @param {HTMLElement} hooks.panelBanner   a line in the documents panel (hidden when idle)
   * @param {() => void} hooks.changed        the presented document changed (re-render list)
   */
  constructor(room, viewer, hooks) {
    this.room = room;
    this.viewer = viewer;
    this.hooks = hooks;
    this.canPresent = room.can("document.manage") || room.can("media.direct");
    this.presentation = null;
    this.mode = "idle"; // "idle" | "presenting" | "following" | "stepped-out"
    this._pending = null;
    this._sending = false;

    this.toggle = document.createElement("button");
    this.toggle.type = "button";
    this.toggle.className = "pdfv-present-toggle";
    this.toggle.setAttribute("aria-pressed", "false");
    this.toggle.dataset.i18n = "docs.present.toggle";
    this.toggle.textContent = t("docs.present.toggle");
    this.toggle.hidden = true;
    this.toggle.addEventListener("click", () => this._toggle());
    viewer.presentSlot.append(this.toggle);

    viewer.bannerSlot.innerHTML = BANNER; // constant markup
    this.bannerText = viewer.bannerSlot.querySelector(".pdfv-banner-text");
    this.bannerAction = viewer.bannerSlot.querySelector(".pdfv-banner-action");
    this.bannerAction.addEventListener("click", () => this._bannerAction());

    hooks.panelBanner.innerHTML = BANNER;
    this.panelText = hooks.panelBanner.querySelector(".pdfv-banner-text");
    this.panelAction = hooks.panelBanner.querySelector(".pdfv-banner-action");
    this.panelAction.addEventListener("click", () => this._followAgain());
    applyTranslations(viewer.presentSlot);

    viewer.onPageChange((page, source) => this._pageChanged(page, source));
  }

  /** The document being presented (by anyone), or null. */
  get presentingId() {
    return this.presentation ? this.presentation.document_id : null;
  }

  /**
   * Apply the server's current presentation: a document.presenting payload, the join ack's
   * presentation, or null.
   * @param {object | null} presentation
   */
  apply(presentation) {
    const before = this.presentation;
    this.presentation = presentation && presentation.document_id != null ? presentation : null;
    const now = this.presentation;
    if (now === null) {
      if (before !== null && before.presenter !== this.room.self.key) {
        this.room.toast(t("docs.present.ended", { name: this._name(before) }));
      }
      this.mode = "idle";
    } else if (now.presenter === this.room.self.key) {
      this.mode = "presenting"; // our own echo, or our presentation kept across a reconnect
      if (this.viewer.documentId !== now.document_id) {
        this._follow(); // a reload while presenting: back to where we were, still presenting
      }
    } else {
      if (this.mode === "presenting" || before === null || before.presenter !== now.presenter) {
        this.room.toast(t("docs.present.started", { name: this._name(now) }));
      }
      if (this.mode !== "stepped-out") {
        this.mode = "following";
        this._follow();
      }
    }
    this._render();
    if ((before && before.document_id) !== (now && now.document_id)) {
      this.hooks.changed();
    }
  }

  /**
   * The reader opened a document themselves: following stops unless it is the presented one.
   * @param {number} documentId
   */
  readerOpened(documentId) {
    if (this.mode === "following" && documentId !== this.presentingId) {
      this._stepOut();
    }
    this._render();
  }

  /** The reader closed the viewer: a presenter stops presenting, a follower steps out. */
  viewerClosed() {
    if (this.mode === "presenting") {
      this._stop();
    } else if (this.mode === "following") {
      this._stepOut();
    }
    this._render();
  }

  /** Re-render texts (after a language switch). */
  relabel() {
    this._render();
  }

  // ---- presenting ------------------------------------------------------------------------

  _toggle() {
    if (this.mode === "presenting") {
      this._stop();
    } else if (this.viewer.documentId !== null && this.viewer.page > 0) {
      this.mode = "presenting";
      this._send({ document_id: this.viewer.documentId, page: this.viewer.page });
    }
    this._render();
  }

  _stop() {
    this.mode = "idle";
    this._send({ document_id: null });
  }

  _pageChanged(page, source) {
    if (this.mode === "presenting") {
      this._send({ document_id: this.viewer.documentId, page });
    } else if (this.mode === "following" && source === "user") {
      this._stepOut();
    }
    this._render();
  }

  /** Send presenting changes one at a time, only the latest of those that queued meanwhile:
   *  the server sees every page in order, never a burst while a reader scrolls. */
  async _send(payload) {
    this._pending = payload;
    if (this._sending) {
      return;
    }
    this._sending = true;
    try {
      while (this._pending !== null) {
        const next = this._pending;
        this._pending = null;
        try {
          await this.room.call("document.present", next);
        } catch (error) {
          if (next.document_id !== null && this.mode === "presenting") {
            this.mode = "idle";
            this._pending = null;
            this._render();
          }
          console.warn("document.present:", error);
          this.room.toast(t("docs.present.failed"));
        }
      }
    } finally {
      this._sending = false;
    }
  }

  // ---- following -------------------------------------------------------------------------

  _follow() {
    const { document_id: documentId, version, page } = this.presentation;
    this.hooks.follow(documentId, version, page).then((shown) => {
      // A newer event may have moved the presentation on meanwhile: it opened its own page.
      const ours = this.mode === "following" || this.mode === "presenting";
      if (shown && ours && this.presentation?.document_id === documentId) {
        this._render();
      }
    });
  }

  _stepOut() {
    this.mode = "stepped-out";
  }

  _followAgain() {
    if (this.presentation) {
      this.mode = "following";
      this._follow();
      this._render();
    }
  }

  _bannerAction() {
    if (this.mode === "following") {
      this._stepOut();
      this._render();
      this.viewer.pagesEl.focus();
    } else if (this.mode === "stepped-out") {
      this._followAgain();
    }
  }

  _name(presentation) {
    return presentation.presenter_name || presentation.presenter;
  }

  _render() {
    const open = this.viewer.documentId !== null;
    this.toggle.hidden = !(this.canPresent && (open || this.mode === "presenting"));
    this.toggle.setAttribute("aria-pressed", String(this.mode === "presenting"));
    this.toggle.textContent = t("docs.present.toggle");

    const presentation = this.presentation;
    const banner = this.viewer.bannerSlot;
    banner.hidden = this.mode === "idle";
    banner.dataset.mode = this.mode;
    this.bannerAction.hidden = this.mode === "presenting";
    if (this.mode === "presenting") {
      this.bannerText.textContent = t("docs.present.presenting");
    } else if (this.mode === "following") {
      this.bannerText.textContent = t("docs.present.following", { name: this._name(presentation) });
      this.bannerAction.textContent = t("docs.present.step_out");
    } else if (this.mode === "stepped-out" && presentation) {
      this.bannerText.textContent = t("docs.present.elsewhere", {
        name: this._name(presentation),
        page: presentation.page,
      });
      this.bannerAction.textContent = t("docs.present.follow_again");
    }

    const panel = this.hooks.panelBanner;
    const others = presentation !== null && this.mode !== "presenting";
    panel.hidden = !others;
    if (others) {
      panel.dataset.mode = this.mode;
      this.panelText.textContent = t("docs.present.panel", {
        name: this._name(presentation),
        title: this.hooks.titleOf(presentation.document_id) || "…",
        page: presentation.page,
      });
      const viewing = this.mode === "following" && open;
      this.panelAction.hidden = viewing;
      this.panelAction.textContent = t("docs.present.follow_again");
    }
  }
}
