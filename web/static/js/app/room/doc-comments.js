// Comments on the pages of the document open in the viewer: the comments on the page shown
// (GET .../documents/{id}/comments, oldest first), a form to add one (document.comment; POST
// with the page number), and new ones as they come (document.commented events, passed in by
// the documents panel). A comment made on another version of the document says so.
//
// Exports:
//   CommentsPane                   new CommentsPane(aside, room)
//     .open(documentId, version)   load that document's comments (resolves when shown)
//     .setPage(page)               show the comments on `page`
//     .add(comment)                a CommentOut from the event or the POST (deduplicated)
//     .reload()                    fetch again (after a reconnect)
//     .close()                     forget the document
//     .relabel()                   re-render texts built here (after a language switch)

import { applyTranslations, locale, t } from "../i18n.js";

let instances = 0;

const TEMPLATE = `
<h3 class="pdfv-comments-head"></h3>
<p class="empty pdfv-comments-empty" data-i18n="docs.comments.empty">Chưa có ý kiến nào về trang này.</p>
<ol class="pdfv-comment-list"></ol>
<form class="pdfv-comment-form" novalidate>
  <label class="pdfv-comment-label" data-i18n="docs.comments.label">Ý kiến của bạn về trang này</label>
  <textarea class="pdfv-comment-body" rows="3" maxlength="4000" required></textarea>
  <p class="error pdfv-comment-error" role="alert" hidden></p>
  <button type="submit" class="primary pdfv-comment-send" data-i18n="docs.comments.send">Gửi ý kiến</button>
</form>
<p class="notice pdfv-comment-status" role="status"></p>
`;

export class CommentsPane {
  /**
   * @param {HTMLElement} aside  the (empty) container
   * @param {object} room        the RoomContext (api, meetingId, can)
   */
  constructor(aside, room) {
    this.room = room;
    this.aside = aside;
    aside.innerHTML = TEMPLATE; // constant markup: no data is interpolated
    const id = `pdfv-comment-${(instances += 1)}`;
    this.head = aside.querySelector(".pdfv-comments-head");
    this.head.id = `${id}-head`;
    aside.setAttribute("aria-labelledby", this.head.id);
    this.empty = aside.querySelector(".pdfv-comments-empty");
    this.list = aside.querySelector(".pdfv-comment-list");
    this.form = aside.querySelector(".pdfv-comment-form");
    this.body = aside.querySelector(".pdfv-comment-body");
    this.body.id = `${id}-body`;
    aside.querySelector(".pdfv-comment-label").htmlFor = this.body.id;
    this.error = aside.querySelector(".pdfv-comment-error");
    this.send = aside.querySelector(".pdfv-comment-send");
    this.status = aside.querySelector(".pdfv-comment-status");
    this.form.hidden = !room.can("document.comment");
    applyTranslations(aside);

    this.documentId = null;
    this.version = null;
    this.page = 1;
    this.comments = new Map(); // id → CommentOut
    this._load = 0;
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this._submit();
    });
  }

  _path() {
    return `/meetings/${this.room.meetingId}/documents/${this.documentId}/comments`;
  }

  /**
   * Show the comments of a document (the page is set with setPage).
   * @param {number} documentId
   * @param {number} version  the version shown in the viewer
   */
  async open(documentId, version) {
    if (this.documentId !== documentId) {
      this.body.value = "";
      this.status.textContent = "";
      this._showError(null);
    }
    this.documentId = documentId;
    this.version = version;
    this.comments.clear();
    this.render();
    await this.reload();
  }

  /** Fetch the comments again. */
  async reload() {
    if (this.documentId === null) {
      return;
    }
    const load = ++this._load;
    const documentId = this.documentId;
    try {
      const comments = await this.room.api.apiGet(this._path());
      if (load !== this._load || documentId !== this.documentId) {
        return; // another document was opened meanwhile
      }
      this.comments.clear();
      for (const comment of comments) {
        this.comments.set(comment.id, comment);
      }
      this._showError(null);
    } catch (error) {
      if (load === this._load) {
        this._showError(this.room.api.errorMessage(error));
      }
    }
    this.render();
  }

  /**
   * Show the comments on `page`.
   * @param {number} page
   */
  setPage(page) {
    if (page !== this.page) {
      this.page = page;
      this.status.textContent = "";
      this.render();
    }
  }

  /**
   * Add one comment (from document.commented or the POST answer); other documents' are ignored.
   * @param {object} comment  CommentOut
   */
  add(comment) {
    if (comment.document_id !== this.documentId || this.comments.has(comment.id)) {
      return;
    }
    this.comments.set(comment.id, comment);
    this.render();
  }

  /** Forget the document. */
  close() {
    this._load += 1;
    this.documentId = null;
    this.comments.clear();
    this.list.replaceChildren();
  }

  /** Re-render (after a language switch). */
  relabel() {
    this.render();
  }

  _showError(message) {
    this.error.hidden = message === null;
    this.error.textContent = message ?? "";
  }

  async _submit() {
    const body = this.body.value.trim();
    if (!body) {
      this.body.setAttribute("aria-invalid", "true");
      this._showError(t("docs.comments.required"));
      this.body.focus();
      return;
    }
    this.body.removeAttribute("aria-invalid");
    this._showError(null);
    this.send.disabled = true;
    const page = this.page;
    try {
      const comment = await this.room.api.apiPost(this._path(), {
        page,
        body,
        version: this.version,
      });
      this.body.value = "";
      this.add(comment);
      this.status.textContent = t("docs.comments.sent", { page });
    } catch (error) {
      this._showError(this.room.api.errorMessage(error));
    } finally {
      this.send.disabled = false;
    }
  }

  /** Draw the heading and the comments of the current page. */
  render() {
    const onPage = [...this.comments.values()]
      .filter((comment) => comment.page === this.page)
      .sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at) || a.id - b.id);
    this.head.textContent = t("docs.comments.heading", { page: this.page, count: onPage.length });
    this.empty.hidden = onPage.length > 0 || this.documentId === null;
    const time = new Intl.DateTimeFormat(locale(), { hour: "2-digit", minute: "2-digit" });
    this.list.replaceChildren(
      ...onPage.map((comment) => {
        const item = document.createElement("li");
        item.className = "pdfv-comment";
        item.dataset.commentId = String(comment.id);
        const meta = document.createElement("p");
        meta.className = "pdfv-comment-meta";
        const author = document.createElement("strong");
        author.textContent = comment.author_name;
        const when = document.createElement("time");
        when.dateTime = comment.created_at;
        when.textContent = time.format(new Date(comment.created_at));
        meta.append(author, " · ", when);
        if (comment.version !== this.version) {
          meta.append(` · ${t("docs.comments.other_version", { version: comment.version })}`);
        }
        const text = document.createElement("p");
        text.className = "pdfv-comment-text";
        text.textContent = comment.body;
        item.append(meta, text);
        return item;
      }),
    );
  }
}
