// The PDF viewer of the meeting room's work area (room.viewerArea): one document at a time,
// drawn with pdf.js (vendored, /static/vendor/pdf.min.mjs, imported on first use).
//
// Weak commune links: the file is read with HTTP range requests (64 KiB chunks, nothing
// fetched ahead), so page 1 of a large agenda PDF shows after a few chunks. The ranges are
// fetched here rather than by pdf.js so that each request carries a fresh credential (an
// endpoint device's bearer token lives 15 minutes; a document stays open longer). The URL names
// the version, so the bytes of one open document never change between two ranges.
// Weak commune PCs: pages are drawn only near the visible part of the scrolling column, one
// at a time, and the canvases of pages scrolled far away are released; thumbnails likewise.
// The page is under a strict CSP: pdf.js runs in its module worker (same origin), eval is off
// (isEvalSupported: false), its image decoders' WebAssembly and the fonts PDFs may lack come
// from /static/vendor/ (the worker compiles the WebAssembly: its script's answer carries no
// CSP, so the page's policy needs no 'wasm-unsafe-eval').
//
// For tests and the presenter: the viewer's root has data-document-id, data-version,
// data-page (the page shown) and data-state ("loading" | "ready" | "error"); page canvases
// have data-page-number.
//
// Exports:
//   loadPdfJs()                    the pdf.js module, its worker URL set (imported once)
//   PdfViewer                      new PdfViewer(container, room); see the class

import { ApiError, accessToken, hasBearer } from "../api.js";
import { applyTranslations, t } from "../i18n.js";
import { CommentsPane } from "./doc-comments.js";
import { PdfSearch, markMatches, pageText } from "./pdf-search.js";
import { Thumbnails } from "./pdf-thumbs.js";

const PDFJS_URL = "/static/vendor/pdf.min.mjs";
const WORKER_URL = "/static/vendor/pdf.worker.min.mjs";
const WASM_URL = "/static/vendor/"; // image decoders (JBIG2, JPEG 2000, ICC colours)
const FONT_URL = "/static/vendor/"; // Symbol, ZapfDingbats, Liberation Sans (not embedded)
const CHUNK = 65536; // bytes per range request (pdf.js's own default chunk)
const RANGE_RETRIES = 3;
const MIN_SCALE = 0.25;
const MAX_SCALE = 4;
const ZOOM_STEP = 1.25;
const PAGE_GAP = 12; // CSS px around each page (documents.css .pdfv-page margin)
const MAX_CANVAS_PIXELS = 4096 * 4096; // beyond this, draw at a lower pixel ratio
const WIDE = 760; // px: from this width of the viewer, thumbnails and comments start shown

let pdfjsPromise = null;
let sharedWorker = null;
let instances = 0;

/** The pdf.js module, loaded on first use (the room does not pay for it before). */
export function loadPdfJs() {
  if (pdfjsPromise === null) {
    pdfjsPromise = import(PDFJS_URL).then(
      (pdfjs) => {
        pdfjs.GlobalWorkerOptions.workerSrc = WORKER_URL;
        return pdfjs;
      },
      (error) => {
        pdfjsPromise = null; // let a later open try again (the link may come back)
        throw error;
      },
    );
  }
  return pdfjsPromise;
}

async function fetchBytes(url, begin, end) {
  const headers = { Range: `bytes=${begin}-${end - 1}` };
  if (hasBearer()) {
    headers.Authorization = `Bearer ${await accessToken()}`;
  }
  let response;
  try {
    response = await fetch(url, { headers, credentials: "same-origin" });
  } catch (error) {
    throw new ApiError(0, "network", String(error));
  }
  if (!response.ok) {
    let code = `http_${response.status}`;
    let message = response.statusText;
    try {
      const body = await response.json();
      code = body.error?.code || code;
      message = body.error?.message || message;
    } catch {
      // not JSON: keep the status
    }
    throw new ApiError(response.status, code, message);
  }
  const bytes = new Uint8Array(await response.arrayBuffer());
  const range = /\/(\d+)\s*$/.exec(response.headers.get("Content-Range") || "");
  const total = response.status === 206 && range ? Number(range[1]) : bytes.length;
  return { bytes, total };
}

async function fetchRangeWithRetry(url, begin, end) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fetchBytes(url, begin, end);
    } catch (error) {
      const retriable = error.status === 0 || error.status >= 500;
      if (!retriable || attempt >= RANGE_RETRIES) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 500 * 2 ** attempt));
    }
  }
}

function outputRatio(viewport) {
  const ratio = window.devicePixelRatio || 1;
  const area = viewport.width * viewport.height; // CSS pixels
  return area * ratio * ratio > MAX_CANVAS_PIXELS ? Math.sqrt(MAX_CANVAS_PIXELS / area) : ratio;
}

function releaseCanvas(canvas) {
  if (canvas) {
    canvas.width = 0; // frees the bitmap now rather than at garbage collection
    canvas.height = 0;
    canvas.remove();
  }
}

function isCancel(error) {
  return error && (error.name === "RenderingCancelledException" || error.name === "AbortException");
}

const TEMPLATE = `
<div class="pdfv-head">
  <h2 class="pdfv-title"><span class="pdfv-title-text"></span> <span class="pdfv-title-meta"></span></h2>
  <div class="pdfv-present"></div>
  <button type="button" class="pdfv-close" data-i18n="docs.viewer.close">Đóng</button>
</div>
<div class="pdfv-bar">
  <div class="pdfv-group pdfv-nav">
    <button type="button" class="pdfv-prev" data-i18n-aria-label="docs.viewer.prev" data-i18n-title="docs.viewer.prev">‹</button>
    <label class="visually-hidden pdfv-page-label" data-i18n="docs.viewer.page_input">Đến trang số</label>
    <input class="pdfv-page-input" type="text" inputmode="numeric" autocomplete="off" size="3">
    <span class="pdfv-page-count"></span>
    <button type="button" class="pdfv-next" data-i18n-aria-label="docs.viewer.next" data-i18n-title="docs.viewer.next">›</button>
  </div>
  <div class="pdfv-group pdfv-zoom">
    <button type="button" class="pdfv-zoom-out" data-i18n-aria-label="docs.viewer.zoom_out" data-i18n-title="docs.viewer.zoom_out">−</button>
    <output class="pdfv-zoom-value"></output>
    <button type="button" class="pdfv-zoom-in" data-i18n-aria-label="docs.viewer.zoom_in" data-i18n-title="docs.viewer.zoom_in">+</button>
    <button type="button" class="pdfv-fit" aria-pressed="true" data-i18n="docs.viewer.fit">Vừa chiều rộng</button>
  </div>
  <form class="pdfv-group pdfv-search" role="search" novalidate>
    <label class="visually-hidden pdfv-search-label" data-i18n="docs.viewer.search">Tìm trong tài liệu</label>
    <input class="pdfv-search-input" type="search" autocomplete="off" data-i18n-placeholder="docs.viewer.search_placeholder">
    <button type="button" class="pdfv-search-prev" data-i18n-aria-label="docs.viewer.search_prev" data-i18n-title="docs.viewer.search_prev">▲</button>
    <button type="submit" class="pdfv-search-next" data-i18n-aria-label="docs.viewer.search_next" data-i18n-title="docs.viewer.search_next">▼</button>
    <span class="pdfv-search-status" role="status"></span>
  </form>
  <div class="pdfv-group pdfv-panes">
    <button type="button" class="pdfv-toggle-thumbs" aria-pressed="true" data-i18n="docs.viewer.thumbs">Trang thu nhỏ</button>
    <button type="button" class="pdfv-toggle-comments" aria-pressed="true" data-i18n="docs.viewer.comments">Ý kiến</button>
  </div>
</div>
<div class="pdfv-banner" hidden></div>
<div class="pdfv-notice" hidden>
  <span class="pdfv-notice-text"></span>
  <button type="button" class="pdfv-notice-action"></button>
</div>
<p class="pdfv-status" role="status"></p>
<div class="pdfv-body">
  <nav class="pdfv-thumbs" data-i18n-aria-label="docs.viewer.thumbs"></nav>
  <div class="pdfv-pages" tabindex="0" role="region" data-i18n-aria-label="docs.viewer.pages"></div>
  <aside class="pdfv-comments"></aside>
</div>
`;

/**
 * One page of the open document in the scrolling column.
 * @typedef {object} PageView
 * @property {number} number
 * @property {HTMLElement} el          the page's box, sized before it is drawn
 * @property {number} width            at scale 1 (page 1's until this page is loaded)
 * @property {number} height
 * @property {boolean} sized           width/height are this page's own
 * @property {object | null} proxy     pdf.js PDFPageProxy
 * @property {HTMLCanvasElement | null} canvas
 * @property {HTMLElement | null} textLayer
 * @property {HTMLElement[] | null} textDivs
 * @property {number} drawnScale       0: not drawn
 * @property {number} failedScale      the scale at which drawing failed (0: none)
 * @property {object | null} task      the pdf.js render task under way
 * @property {boolean} near            within the lazy window around the visible part
 * @property {(() => void) | null} unmark  removes the search marks
 */

/** The viewer. Create one per room; open() documents in it. */
export class PdfViewer {
  /**
   * @param {HTMLElement} container  room.viewerArea
   * @param {object} room            the RoomContext (api, meetingId, can)
   */
  constructor(container, room) {
    this.room = room;
    const root = document.createElement("section");
    root.className = "pdfv";
    root.hidden = true;
    root.innerHTML = TEMPLATE; // constant markup: no data is interpolated
    container.append(root);
    this.root = root;
    const $ = (selector) => root.querySelector(selector);
    const id = `pdfv-${(instances += 1)}`;
    this.titleEl = $(".pdfv-title");
    this.titleEl.id = `${id}-title`;
    root.setAttribute("aria-labelledby", this.titleEl.id);
    this.titleText = $(".pdfv-title-text");
    this.titleMeta = $(".pdfv-title-meta");
    this.presentSlot = $(".pdfv-present");
    this.bannerSlot = $(".pdfv-banner");
    this.noticeEl = $(".pdfv-notice");
    this.statusEl = $(".pdfv-status");
    this.pageInput = $(".pdfv-page-input");
    this.pageInput.id = `${id}-page`;
    $(".pdfv-page-label").htmlFor = this.pageInput.id;
    this.pageCountEl = $(".pdfv-page-count");
    this.zoomValue = $(".pdfv-zoom-value");
    this.fitButton = $(".pdfv-fit");
    this.searchForm = $(".pdfv-search");
    this.searchInput = $(".pdfv-search-input");
    this.searchInput.id = `${id}-search`;
    $(".pdfv-search-label").htmlFor = this.searchInput.id;
    this.searchStatus = $(".pdfv-search-status");
    this.thumbsToggle = $(".pdfv-toggle-thumbs");
    this.commentsToggle = $(".pdfv-toggle-comments");
    this.thumbsEl = $(".pdfv-thumbs");
    this.pagesEl = $(".pdfv-pages");
    this.commentsEl = $(".pdfv-comments");
    applyTranslations(root);

    this.comments = new CommentsPane(this.commentsEl, room);
    this.thumbs = new Thumbnails(this.thumbsEl, {
      draw: (page, canvas, width) => this._queueThumb(page, canvas, width),
      release: (page) => this._dropThumb(page),
      onSelect: (page) => this.goToPage(page, "user"),
    });

    this.doc = null;
    this.documentId = null;
    this.version = null;
    this.pageCount = 0;
    this.page = 0;
    this.pages = /** @type {PageView[]} */ ([]);
    this.scale = 1;
    this.fit = true;
    this.textContents = new Map(); // page → Promise<{items, text, starts}>
    this.search = null;
    this.thumbJobs = new Map(); // page → {canvas, width, task}
    this.panesChosen = false; // the user toggled a pane: keep that choice
    this._generation = 0; // bumped by every open/close: late async work checks it
    this._pin = null; // the scrollTop we set: scroll events at that position are ours
    this._busy = false;
    this._listeners = { page: new Set(), close: new Set() };
    this._loading = null;

    this.nearObserver = new IntersectionObserver((entries) => this._onNear(entries), {
      root: this.pagesEl,
      rootMargin: "150% 0px",
    });
    this.resizeObserver = new ResizeObserver(() => {
      if (this.fit && this.doc) {
        this._fitWidth();
      }
    });
    this.resizeObserver.observe(this.pagesEl);
    this._bind($);
  }

  // ---- wiring ------------------------------------------------------------------------

  _bind($) {
    $(".pdfv-close").addEventListener("click", () => {
      for (const listener of this._listeners.close) {
        listener();
      }
    });
    $(".pdfv-prev").addEventListener("click", () => this.goToPage(this.page - 1, "user"));
    $(".pdfv-next").addEventListener("click", () => this.goToPage(this.page + 1, "user"));
    this.pageInput.addEventListener("change", () => this._pageTyped());
    this.pageInput.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this._pageTyped();
      }
    });
    $(".pdfv-zoom-in").addEventListener("click", () => this.zoom(ZOOM_STEP));
    $(".pdfv-zoom-out").addEventListener("click", () => this.zoom(1 / ZOOM_STEP));
    this.fitButton.addEventListener("click", () => this._fitWidth(true));
    this.searchForm.addEventListener("submit", (event) => {
      event.preventDefault();
      this._searchNext(1);
    });
    $(".pdfv-search-prev").addEventListener("click", () => this._searchNext(-1));
    this.searchInput.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.searchInput.value) {
        event.preventDefault();
        this.searchInput.value = "";
        this._clearSearch();
      }
    });
    this.searchInput.addEventListener("input", () => {
      if (!this.searchInput.value.trim()) {
        this._clearSearch();
      }
    });
    this.thumbsToggle.addEventListener("click", () => {
      this.panesChosen = true;
      this._showPane(this.thumbsToggle, this.thumbsEl, this.thumbsEl.hidden);
    });
    this.commentsToggle.addEventListener("click", () => {
      this.panesChosen = true;
      this._showPane(this.commentsToggle, this.commentsEl, this.commentsEl.hidden);
    });
    this.pagesEl.addEventListener("scroll", () => this._onScroll(), { passive: true });
    this.root.addEventListener("keydown", (event) => this._onKey(event));
  }

  _showPane(toggle, pane, shown) {
    pane.hidden = !shown;
    toggle.setAttribute("aria-pressed", String(shown));
    if (pane === this.thumbsEl && shown) {
      this.thumbs.setCurrent(this.page);
    }
  }

  _onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) {
      return; // Ctrl + "+" is the browser's own zoom
    }
    if (event.target.closest("input, textarea, select, [contenteditable]")) {
      return;
    }
    switch (event.key) {
      case "PageDown":
        this.goToPage(this.page + 1, "user");
        break;
      case "PageUp":
        this.goToPage(this.page - 1, "user");
        break;
      case "Home":
        if (event.target !== this.pagesEl) return;
        this.goToPage(1, "user");
        break;
      case "End":
        if (event.target !== this.pagesEl) return;
        this.goToPage(this.pageCount, "user");
        break;
      case "+":
      case "=":
        this.zoom(ZOOM_STEP);
        break;
      case "-":
        this.zoom(1 / ZOOM_STEP);
        break;
      default:
        return;
    }
    event.preventDefault();
  }

  _pageTyped() {
    const wanted = Number.parseInt(this.pageInput.value, 10);
    if (Number.isInteger(wanted) && this.doc) {
      this.goToPage(wanted, "user");
    }
    this.pageInput.value = String(this.page || "");
  }

  // ---- public API ----------------------------------------------------------------------

  /**
   * Call `listener(page, source)` whenever the page shown changes; source is "user" (the
   * reader navigated or scrolled) or "program" (open, goToPage(..., "program")).
   * @returns {() => void} unsubscribe
   */
  onPageChange(listener) {
    this._listeners.page.add(listener);
    return () => this._listeners.page.delete(listener);
  }

  /**
   * Call `listener()` when the reader presses the close button.
   * @returns {() => void} unsubscribe
   */
  onClose(listener) {
    this._listeners.close.add(listener);
    return () => this._listeners.close.delete(listener);
  }

  /**
   * Open a document (or, if it is already open in that version, just go to `page`).
   * Resolves once the document is loaded and `page` is shown (drawn soon after).
   * @param {object} what
   * @param {number} what.documentId
   * @param {number} what.version
   * @param {string} what.title
   * @param {number} [what.pages]      page count, known from the list (shown while loading)
   * @param {number} [what.page=1]
   * @param {boolean} [what.focus=false]  move keyboard focus into the pages (a reader's click;
   *                                      never when a presenter opens it for us)
   * @returns {Promise<boolean>} false if it failed or another open replaced it
   */
  async open({ documentId, version, title, pages = 0, page = 1, focus = false }) {
    if (this.documentId === documentId && this.version === version && this._loading) {
      const loaded = await this._loading;
      if (loaded && this.documentId === documentId && this.version === version) {
        this.goToPage(page, "program");
        if (focus) {
          this.pagesEl.focus();
        }
      }
      return loaded;
    }
    this._unload();
    const generation = this._generation;
    this.documentId = documentId;
    this.version = version;
    this.title = title;
    this.root.hidden = false;
    this.root.dataset.documentId = String(documentId);
    this.root.dataset.version = String(version);
    this.root.dataset.state = "loading";
    delete this.root.dataset.page;
    this.titleText.textContent = title;
    this._knownPages = pages;
    this._renderMeta();
    this._status(t("docs.viewer.loading"));
    if (!this.panesChosen) {
      const wide = this.root.clientWidth >= WIDE;
      this._showPane(this.thumbsToggle, this.thumbsEl, wide);
      this._showPane(this.commentsToggle, this.commentsEl, wide);
    }
    if (focus) {
      this.pagesEl.focus();
    }
    this.comments.open(documentId, version);
    this._loading = this._load(generation, page);
    return this._loading;
  }

  async _load(generation, page) {
    const url = `/api/v1/meetings/${this.room.meetingId}/documents/${this.documentId}/versions/${this.version}/file`;
    try {
      const pdfjs = await loadPdfJs();
      sharedWorker ??= new pdfjs.PDFWorker();
      const first = await fetchRangeWithRetry(url, 0, CHUNK);
      if (generation !== this._generation) {
        return false;
      }
      const source = {
        worker: sharedWorker,
        isEvalSupported: false,
        wasmUrl: WASM_URL,
        standardFontDataUrl: FONT_URL,
        disableAutoFetch: true,
        rangeChunkSize: CHUNK,
      };
      if (first.bytes.length >= first.total) {
        source.data = first.bytes; // small file: it came whole
      } else {
        const transport = new pdfjs.PDFDataRangeTransport(first.total, first.bytes);
        transport.requestDataRange = (begin, end) => {
          fetchRangeWithRetry(url, begin, end).then(
            ({ bytes }) => {
              if (generation === this._generation) {
                transport.onDataRange(begin, bytes);
              }
            },
            (error) => {
              if (generation === this._generation) {
                this._fail(error);
              }
            },
          );
        };
        source.range = transport;
      }
      this._task = pdfjs.getDocument(source);
      const doc = await this._task.promise;
      if (generation !== this._generation) {
        doc.destroy();
        return false;
      }
      this.pdfjs = pdfjs;
      this.doc = doc;
      this.pageCount = doc.numPages;
      const proxy = await doc.getPage(1);
      if (generation !== this._generation) {
        return false;
      }
      const base = proxy.getViewport({ scale: 1 });
      this.pages = [];
      for (let number = 1; number <= doc.numPages; number += 1) {
        this.pages.push(this._makePage(number, base.width, base.height));
      }
      this.pages[0].proxy = proxy;
      this.pages[0].sized = true;
      this.pagesEl.replaceChildren(...this.pages.map((view) => view.el));
      this.thumbs.reset(doc.numPages, base.height / base.width);
      this.search = new PdfSearch((number) => this._textOf(number), doc.numPages);
      this._renderMeta();
      if (this.fit) {
        this._fitWidth();
      }
      this._applyScale();
      this.goToPage(page, "program");
      for (const view of this.pages) {
        this.nearObserver.observe(view.el);
      }
      this.root.dataset.state = "ready";
      this._status("");
      return true;
    } catch (error) {
      if (generation === this._generation) {
        this._fail(error);
      }
      return false;
    }
  }

  _fail(error) {
    console.warn("pdf viewer:", error);
    this.root.dataset.state = "error";
    const detail = error instanceof ApiError ? this.room.api.errorMessage(error) : "";
    this._status(detail ? `${t("docs.viewer.load_failed")} ${detail}` : t("docs.viewer.load_failed"));
  }

  /** Close the document (the work area is the room's to hide). */
  close() {
    this._unload();
    this.root.hidden = true;
  }

  /**
   * Show `page` (clamped to the document): scrolled to its top, reported to listeners.
   * @param {number} page
   * @param {"user" | "program"} [source="program"]
   */
  goToPage(page, source = "program") {
    if (!this.doc || this.pages.length === 0) {
      return;
    }
    const number = Math.min(Math.max(1, Math.round(page) || 1), this.pageCount);
    this._scrollTo(this.pages[number - 1].el.offsetTop - PAGE_GAP);
    this._setCurrent(number, source);
  }

  /**
   * Zoom by a factor (1.25: in, 0.8: out); leaves fit-width mode.
   * @param {number} factor
   */
  zoom(factor) {
    if (this.doc) {
      this._setScale(this.scale * factor, false);
    }
  }

  /**
   * A notice above the pages with one action (e.g. "a newer version is out: open it").
   * @param {string} text
   * @param {string} actionText
   * @param {() => void} action
   */
  showNotice(text, actionText, action) {
    this.noticeEl.querySelector(".pdfv-notice-text").textContent = text;
    const button = this.noticeEl.querySelector(".pdfv-notice-action");
    button.textContent = actionText;
    button.onclick = action;
    this.noticeEl.hidden = false;
  }

  /** Remove the notice. */
  hideNotice() {
    this.noticeEl.hidden = true;
  }

  /** Re-render texts built in JavaScript (after a language switch). */
  relabel() {
    this._renderMeta();
    this._renderZoom();
    this._renderSearchStatus();
    this.thumbs.relabel();
    this.comments.relabel();
    for (const view of this.pages) {
      view.el.setAttribute("aria-label", t("docs.viewer.page_label", { page: view.number }));
    }
    if (this.root.dataset.state === "loading") {
      this._status(t("docs.viewer.loading"));
    }
  }

  // ---- layout ----------------------------------------------------------------------------

  _makePage(number, width, height) {
    const el = document.createElement("div");
    el.className = "pdfv-page";
    el.dataset.pageNumber = String(number);
    el.setAttribute("role", "group");
    el.setAttribute("aria-label", t("docs.viewer.page_label", { page: number }));
    return {
      number,
      el,
      width,
      height,
      sized: false,
      proxy: null,
      canvas: null,
      textLayer: null,
      textDivs: null,
      drawnScale: 0,
      failedScale: 0,
      task: null,
      near: false,
      unmark: null,
    };
  }

  _sizePage(view) {
    view.el.style.width = `${Math.floor(view.width * this.scale)}px`;
    view.el.style.height = `${Math.floor(view.height * this.scale)}px`;
    view.el.style.setProperty("--scale-factor", String(this.scale));
  }

  _applyScale() {
    for (const view of this.pages) {
      this._sizePage(view);
    }
    this._renderZoom();
  }

  _fitWidth(chosen = false) {
    const first = this.pages[0];
    const width = this.pagesEl.clientWidth - 2 * PAGE_GAP;
    if (!first || width <= 0) {
      return;
    }
    const widest = Math.max(...this.pages.filter((view) => view.sized).map((view) => view.width));
    this._setScale(width / widest, true);
    if (chosen) {
      this.fitButton.focus();
    }
  }

  _setScale(scale, fit) {
    this.fit = fit;
    this.fitButton.setAttribute("aria-pressed", String(fit));
    const next = Math.min(MAX_SCALE, Math.max(MIN_SCALE, scale));
    if (Math.abs(next - this.scale) < 0.001) {
      this._renderZoom();
      return;
    }
    // Keep the same spot of the current page in view.
    const view = this.pages[this.page - 1];
    const pinned = this._pin !== null;
    const within = view ? (this.pagesEl.scrollTop - view.el.offsetTop) / view.el.offsetHeight : 0;
    this.scale = next;
    this._applyScale();
    if (view) {
      const top = pinned
        ? view.el.offsetTop - PAGE_GAP
        : view.el.offsetTop + within * view.el.offsetHeight;
      this._scrollTo(top);
    }
    this._schedule();
  }

  _renderZoom() {
    this.zoomValue.textContent = t("docs.viewer.zoom_value", { percent: Math.round(this.scale * 100) });
  }

  _renderMeta() {
    const count = this.pageCount || this._knownPages || 0;
    this.titleMeta.textContent = this.documentId === null
      ? ""
      : t("docs.viewer.title_meta", { version: this.version, pages: count });
    this.pageCountEl.textContent = count ? t("docs.viewer.of_pages", { count }) : "";
  }

  _status(text) {
    this.statusEl.textContent = text;
  }

  // ---- scrolling and the current page --------------------------------------------------

  _scrollTo(top) {
    this.pagesEl.scrollTop = Math.max(0, top);
    // Remember where we put it: the scroll event this causes is not the reader's.
    this._pin = this.pagesEl.scrollTop;
  }

  _onScroll() {
    if (this._pin !== null && Math.abs(this.pagesEl.scrollTop - this._pin) <= 1) {
      return;
    }
    this._pin = null;
    if (!this._scrollFrame) {
      this._scrollFrame = requestAnimationFrame(() => {
        this._scrollFrame = 0;
        if (this._pin === null) {
          this._setCurrent(this._mostVisiblePage(), "user");
        }
      });
    }
  }

  _mostVisiblePage() {
    const top = this.pagesEl.scrollTop;
    const bottom = top + this.pagesEl.clientHeight;
    // The first page reaching below the top of the view (pages are in document order).
    let low = 0;
    let high = this.pages.length - 1;
    while (low < high) {
      const mid = (low + high) >> 1;
      const el = this.pages[mid].el;
      if (el.offsetTop + el.offsetHeight <= top) {
        low = mid + 1;
      } else {
        high = mid;
      }
    }
    let best = low + 1;
    let bestVisible = -1;
    for (let index = low; index < this.pages.length; index += 1) {
      const el = this.pages[index].el;
      if (el.offsetTop >= bottom) {
        break;
      }
      const visible = Math.min(bottom, el.offsetTop + el.offsetHeight) - Math.max(top, el.offsetTop);
      if (visible > bestVisible + 1) {
        best = index + 1;
        bestVisible = visible;
      }
    }
    return best;
  }

  _setCurrent(number, source) {
    this.pageInput.value = String(number);
    if (number === this.page) {
      return;
    }
    this.page = number;
    this.root.dataset.page = String(number);
    this.thumbs.setCurrent(number);
    this.comments.setPage(number);
    this._schedule();
    for (const listener of this._listeners.page) {
      listener(number, source);
    }
  }

  // ---- drawing ---------------------------------------------------------------------------

  _onNear(entries) {
    for (const entry of entries) {
      const view = this.pages[Number(entry.target.dataset.pageNumber) - 1];
      if (!view || view.el !== entry.target) {
        continue;
      }
      view.near = entry.isIntersecting;
      if (!view.near) {
        this._releasePage(view);
      }
    }
    this._schedule();
  }

  _releasePage(view) {
    view.task?.cancel();
    view.task = null;
    releaseCanvas(view.canvas);
    view.canvas = null;
    view.unmark = null;
    view.textLayer?.remove();
    view.textLayer = null;
    view.textDivs = null;
    view.drawnScale = 0;
    view.failedScale = 0;
    view.proxy?.cleanup();
  }

  /** Draw what needs drawing, one page at a time: pages near the view first, nearest to the
   *  current page first; then thumbnails. */
  _schedule() {
    if (this._busy) {
      return; // the job under way schedules the next one when it ends
    }
    const generation = this._generation;
    const view = this._nextPage();
    const thumb = view ? null : this._nextThumb();
    if (!view && !thumb) {
      return;
    }
    this._busy = true;
    const scale = this.scale;
    const job = view ? this._drawPage(view, generation) : this._drawThumb(thumb, generation);
    job
      .catch((error) => {
        // Closing or replacing the document destroys its transport under a job in flight:
        // that job's failure is expected, not a drawing fault.
        if (!isCancel(error) && generation === this._generation) {
          console.warn("pdf viewer: drawing failed", error);
          if (view) {
            view.failedScale = scale; // a broken page is not retried in a loop
          }
        }
      })
      .finally(() => {
        this._busy = false;
        if (generation === this._generation) {
          this._schedule();
        }
      });
  }

  _nextPage() {
    let best = null;
    for (const view of this.pages) {
      if (!view.near || view.drawnScale === this.scale || view.failedScale === this.scale) {
        continue;
      }
      if (!best || Math.abs(view.number - this.page) < Math.abs(best.number - this.page)) {
        best = view;
      }
    }
    return best;
  }

  async _drawPage(view, generation) {
    const scale = this.scale;
    view.proxy ??= await this.doc.getPage(view.number);
    if (generation !== this._generation || !view.near) {
      return;
    }
    if (!view.sized) {
      this._correctSize(view);
    }
    const viewport = view.proxy.getViewport({ scale });
    const ratio = outputRatio(viewport);
    const canvas = document.createElement("canvas");
    canvas.className = "pdfv-canvas";
    canvas.dataset.pageNumber = String(view.number);
    canvas.setAttribute("aria-hidden", "true");
    canvas.width = Math.floor(viewport.width * ratio);
    canvas.height = Math.floor(viewport.height * ratio);
    view.task = view.proxy.render({
      canvas,
      viewport,
      transform: ratio === 1 ? null : [ratio, 0, 0, ratio, 0, 0],
    });
    try {
      await view.task.promise;
    } catch (error) {
      releaseCanvas(canvas);
      throw error;
    } finally {
      view.task = null;
    }
    if (generation !== this._generation || !view.near || scale !== this.scale) {
      releaseCanvas(canvas);
      return;
    }
    // Swap in the new drawing only when it is complete: zooming never flashes a blank page.
    releaseCanvas(view.canvas);
    view.canvas = canvas;
    view.el.prepend(canvas);
    view.drawnScale = scale;

    const { items, styles } = await this._textOf(view.number);
    if (generation !== this._generation || view.drawnScale !== scale) {
      return;
    }
    const layer = document.createElement("div");
    layer.className = "textLayer";
    const textLayer = new this.pdfjs.TextLayer({
      textContentSource: { items, styles },
      container: layer,
      viewport,
    });
    await textLayer.render();
    if (generation !== this._generation || view.drawnScale !== scale) {
      return;
    }
    view.textLayer?.remove();
    view.textLayer = layer;
    view.textDivs = textLayer.textDivs;
    view.unmark = null;
    view.el.append(layer);
    this._markPage(view);
  }

  /** A page whose size differs from page 1's: resize its box, keep the current page put. */
  _correctSize(view) {
    const base = view.proxy.getViewport({ scale: 1 });
    view.sized = true;
    if (Math.abs(base.width - view.width) < 0.5 && Math.abs(base.height - view.height) < 0.5) {
      return;
    }
    const current = this.pages[this.page - 1];
    const offset = current ? this.pagesEl.scrollTop - current.el.offsetTop : 0;
    view.width = base.width;
    view.height = base.height;
    this._sizePage(view);
    if (current && view.number < this.page) {
      this._scrollTo(current.el.offsetTop + offset);
    }
  }

  /** A page's text content, joined for searching (fetched once per page). */
  _textOf(number) {
    if (!this.textContents.has(number)) {
      const promise = (async () => {
        const proxy = this.pages[number - 1].proxy ?? (await this.doc.getPage(number));
        const content = await proxy.getTextContent();
        return { items: content.items, styles: content.styles, ...pageText(content.items) };
      })();
      const cache = this.textContents; // replaced when another document opens
      promise.catch(() => cache.delete(number)); // asked again later: the link may be back
      cache.set(number, promise);
    }
    return this.textContents.get(number);
  }

  // ---- thumbnails ------------------------------------------------------------------------

  _queueThumb(page, canvas, width) {
    this.thumbJobs.set(page, { page, canvas, width, task: null, done: false });
    this._schedule();
  }

  _dropThumb(page) {
    const job = this.thumbJobs.get(page);
    job?.task?.cancel();
    this.thumbJobs.delete(page);
  }

  _nextThumb() {
    for (const job of this.thumbJobs.values()) {
      if (!job.done && !job.task) {
        return job;
      }
    }
    return null;
  }

  async _drawThumb(job, generation) {
    const view = this.pages[job.page - 1];
    const proxy = view.proxy ?? (await this.doc.getPage(job.page));
    if (generation !== this._generation || this.thumbJobs.get(job.page) !== job) {
      return;
    }
    const base = proxy.getViewport({ scale: 1 });
    const viewport = proxy.getViewport({ scale: job.width / base.width });
    const ratio = window.devicePixelRatio || 1;
    job.canvas.width = Math.floor(viewport.width * ratio);
    job.canvas.height = Math.floor(viewport.height * ratio);
    job.canvas.style.height = `${Math.round(viewport.height)}px`;
    job.task = proxy.render({
      canvas: job.canvas,
      viewport,
      transform: ratio === 1 ? null : [ratio, 0, 0, ratio, 0, 0],
    });
    try {
      await job.task.promise;
    } finally {
      job.task = null;
      job.done = true; // drawn, or failed: not tried again until it scrolls back into view
    }
  }

  // ---- search ----------------------------------------------------------------------------

  async _searchNext(direction) {
    const query = this.searchInput.value.trim();
    if (!this.search || !query) {
      return;
    }
    if (query !== this.search.query) {
      const generation = this._generation;
      this._searching = true;
      this._renderSearchStatus({ done: 0, total: this.pageCount });
      const found = await this.search.run(query, (done, total) => {
        if (generation === this._generation) {
          this._renderSearchStatus({ done, total });
        }
      });
      if (found === null || generation !== this._generation) {
        return; // replaced by a newer search or another document
      }
      this._searching = false;
      this.search.selectFrom(this.page);
    } else if (direction > 0) {
      this.search.next();
    } else {
      this.search.previous();
    }
    this._renderSearchStatus();
    this._markAll();
    const match = this.search.current;
    if (match) {
      this.goToPage(match.page, "user");
      this._revealMatch(match);
    }
  }

  _clearSearch() {
    this.search?.clear();
    this._searching = false;
    this._renderSearchStatus();
    this._markAll();
  }

  _renderSearchStatus(progress = null) {
    if (!this.search || !this.search.query) {
      this.searchStatus.textContent = "";
    } else if (progress) {
      this.searchStatus.textContent = t("docs.viewer.searching", progress);
    } else if (this.search.matches.length === 0) {
      this.searchStatus.textContent = t("docs.viewer.search_none");
    } else {
      this.searchStatus.textContent = t("docs.viewer.search_count", {
        index: this.search.index + 1,
        total: this.search.matches.length,
      });
    }
  }

  _markAll() {
    for (const view of this.pages) {
      this._markPage(view);
    }
  }

  _markPage(view) {
    if (view.unmark) {
      view.unmark();
      view.unmark = null;
    }
    if (!view.textDivs || !this.search || this._searching) {
      return;
    }
    const ranges = this.search.onPage(view.number);
    if (ranges.length === 0) {
      return;
    }
    this.textContents.get(view.number)?.then(({ starts }) => {
      if (view.textDivs && !view.unmark) {
        view.unmark = markMatches(view.textDivs, starts, ranges);
      }
    });
  }

  /** Scroll the selected match into view once its page's text layer is there. */
  async _revealMatch(match) {
    const view = this.pages[match.page - 1];
    const generation = this._generation;
    for (let frame = 0; frame < 600; frame += 1) {
      if (generation !== this._generation || this.search.current !== match) {
        return;
      }
      const mark = view.el.querySelector("mark.pdfv-hit.selected");
      if (mark) {
        const top = mark.getBoundingClientRect().top - this.pagesEl.getBoundingClientRect().top;
        if (top < 0 || top > this.pagesEl.clientHeight - 40) {
          this._scrollTo(this.pagesEl.scrollTop + top - this.pagesEl.clientHeight / 3);
        }
        return;
      }
      await new Promise((resolve) => requestAnimationFrame(resolve));
    }
  }

  // ---- closing ---------------------------------------------------------------------------

  _unload() {
    this._generation += 1;
    this.nearObserver.disconnect();
    for (const view of this.pages) {
      this._releasePage(view);
    }
    for (const page of [...this.thumbJobs.keys()]) {
      this._dropThumb(page);
    }
    this.thumbs.clear();
    this.search?.clear();
    this.search = null;
    this._searching = false;
    this.searchInput.value = "";
    this._renderSearchStatus();
    this.comments.close();
    this.hideNotice();
    this._task?.destroy();
    this._task = null;
    this.doc = null;
    this._loading = null;
    this.textContents = new Map();
    this.pages = [];
    this.pageCount = 0;
    this.page = 0;
    this._pin = null;
    this.pagesEl.replaceChildren();
    this.documentId = null;
    this.version = null;
    delete this.root.dataset.documentId;
    delete this.root.dataset.version;
    delete this.root.dataset.page;
    delete this.root.dataset.state;
    this._status("");
  }
}
