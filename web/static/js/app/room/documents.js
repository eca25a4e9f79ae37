// The documents panel of the meeting room: the agenda with each item's published documents
// (flagged "Mới" / "Cập nhật" for this participant), the current item highlighted, kept live
// by the agenda.* and document.* events; a document opens in the PDF viewer in the room's
// work area (room.viewerArea), where presenter mode lets the chair or the secretary lead
// everyone through it page by page.
//
// State comes from REST on mount and on resync() (the socket may have missed events while it
// was down), then from events.
//
// Exports:
//   mount(root, room)              render into the panel's (empty) element; returns {resync}

import { applyTranslations, t } from "../i18n.js";
import { renderAgenda } from "./agenda-list.js";
import { SeenStore } from "./doc-seen.js";
import { PdfViewer } from "./pdf-viewer.js";
import { Presenter } from "./presenter.js";

const TEMPLATE = `
<h2 class="docs-heading" data-i18n="docs.heading">Chương trình và tài liệu</h2>
<div class="docs-presenting" hidden></div>
<p class="notice docs-status" role="status"></p>
<div class="error docs-error" role="alert" hidden>
  <span class="docs-error-text"></span>
  <button type="button" class="docs-retry" data-i18n="docs.retry">Thử lại</button>
</div>
<ol class="docs-agenda"></ol>
<p class="empty docs-empty" data-i18n="docs.empty" hidden>Chưa có chương trình hay tài liệu nào.</p>
`;

/**
 * Mount the documents panel.
 * @param {HTMLElement} root  the panel's tabpanel (empty)
 * @param {object} room       the RoomContext (see room_contract)
 * @returns {{resync: () => Promise<void>}}
 */
export function mount(root, room) {
  root.classList.add("docs-panel");
  root.innerHTML = TEMPLATE; // constant markup: no data is interpolated
  applyTranslations(root);
  const $ = (selector) => root.querySelector(selector);
  const list = $(".docs-agenda");
  const status = $(".docs-status");
  const errorBox = $(".docs-error");
  const empty = $(".docs-empty");

  const seen = new SeenStore(room.meetingId, room.self.key);
  const base = `/meetings/${room.meetingId}`;
  let items = [];
  let documents = new Map(); // id → DocumentOut (published only), in the server's order
  let loaded = false;
  let failure = null;
  let loadRun = 0;

  const viewer = new PdfViewer(room.viewerArea, room);
  const presenter = new Presenter(room, viewer, {
    follow: followDocument,
    titleOf: (id) => documents.get(id)?.title || "",
    panelBanner: $(".docs-presenting"),
    changed: render,
  });

  function render() {
    status.textContent = loaded || failure ? "" : t("docs.loading");
    errorBox.hidden = failure === null;
    $(".docs-error-text").textContent = failure === null ? "" : room.api.errorMessage(failure);
    empty.hidden = !loaded || items.length > 0 || documents.size > 0;
    renderAgenda(list, {
      items,
      documents: [...documents.values()],
      flagOf: (document) => seen.flag(document),
      onOpen: (document) => openByReader(document),
      openId: viewer.documentId,
      presentingId: presenter.presentingId,
    });
  }

  async function load() {
    const run = ++loadRun;
    try {
      const [agenda, docs] = await Promise.all([
        room.api.apiGet(`${base}/agenda`),
        room.api.apiGet(`${base}/documents`),
      ]);
      if (run !== loadRun) {
        return;
      }
      items = agenda;
      documents = new Map(
        docs.filter((document) => document.state === "published").map((d) => [d.id, d]),
      );
      loaded = true;
      failure = null;
    } catch (error) {
      if (run !== loadRun) {
        return;
      }
      failure = error; // keep what was shown under the error
    }
    render();
  }

  function showViewer() {
    room.openViewer();
  }

  async function openByReader(document) {
    showViewer();
    seen.markSeen(document);
    presenter.readerOpened(document.id);
    const opening = viewer.open({
      documentId: document.id,
      version: document.current_version,
      title: document.title,
      pages: document.version.pages,
      focus: true,
    });
    render();
    await opening;
  }

  /** Presenter mode: show what the presenter shows (a document maybe not listed yet). */
  async function followDocument(documentId, version, page) {
    let document = documents.get(documentId);
    if (!document) {
      try {
        document = await room.api.apiGet(`${base}/documents/${documentId}`);
      } catch (error) {
        room.toast(room.api.errorMessage(error));
        return false;
      }
      if (document.state === "published" && !documents.has(documentId)) {
        documents.set(documentId, document);
      }
    }
    showViewer();
    if (version >= document.current_version) {
      seen.markSeen(document);
    }
    const opening = viewer.open({
      documentId,
      version,
      title: document.title,
      pages: version === document.current_version ? document.version.pages : 0,
      page,
      focus: false,
    });
    render();
    return opening;
  }

  function closeViewer() {
    const openId = viewer.documentId;
    presenter.viewerClosed();
    viewer.close();
    room.closeViewer();
    render();
    // Keyboard users land back on the document they had open, if the panel is showing.
    const button = list.querySelector(`button.docs-open[data-document-id="${openId}"]`);
    if (button && button.offsetParent !== null) {
      button.focus();
    }
  }
  viewer.onClose(closeViewer);

  function receive(document) {
    if (document.state !== "published") {
      return;
    }
    const before = documents.get(document.id);
    documents.set(document.id, document);
    if (!before) {
      room.toast(t("docs.toast.published", { title: document.title }));
      room.attention("documents");
    } else if (document.current_version > before.current_version) {
      room.toast(
        t("docs.toast.updated", { title: document.title, version: document.current_version }),
      );
      room.attention("documents");
      if (viewer.documentId === document.id && presenter.mode !== "following") {
        viewer.showNotice(
          t("docs.viewer.new_version", { version: document.current_version }),
          t("docs.viewer.open_new_version"),
          () => openByReader(document),
        );
      }
    }
    render();
  }

  function currentMoved(data) {
    for (const moved of [data.previous, data.current]) {
      if (moved) {
        items = items.map((item) => (item.id === moved.id ? moved : item));
      }
    }
    render();
  }

  room.on("agenda.changed", (data) => {
    items = data.items;
    render();
  });
  room.on("agenda.current", currentMoved);
  room.on("document.published", receive);
  room.on("document.updated", receive);
  room.on("document.commented", (comment) => viewer.comments.add(comment));
  room.on("document.presenting", (data) => presenter.apply(data));
  room.onLanguage(() => {
    render();
    viewer.relabel();
    presenter.relabel();
  });
  $(".docs-retry").addEventListener("click", () => load());

  render();
  load();
  presenter.apply(room.presentation ?? null);

  return {
    async resync() {
      await load();
      presenter.apply(room.presentation ?? null);
      await viewer.comments.reload();
    },
  };
}
