// Page thumbnails of the PDF viewer: a list of buttons (one per page) in a scrolling column.
// Thumbnails are drawn only when their button comes near the visible part of the list and
// their canvas is released when it scrolls far away, so a 300-page document costs little.
// Drawing is the viewer's job (it queues it behind the pages being read).
//
// Exports:
//   Thumbnails                     new Thumbnails(nav, {draw, release, onSelect})
//     .reset(pageCount, aspect)    one button per page; aspect = height / width of page 1
//     .setCurrent(page)            mark the page shown (aria-current), keep it in view
//     .relabel()                   translate the buttons' labels again
//     .clear()                     no document

import { t } from "../i18n.js";

const WIDTH = 96; // CSS pixels of a thumbnail

export class Thumbnails {
  /**
   * @param {HTMLElement} nav  the (empty) container, a scrolling element
   * @param {object} hooks
   * @param {(page: number, canvas: HTMLCanvasElement, width: number) => void} hooks.draw
   *        queue drawing page `page` into `canvas` at `width` CSS pixels
   * @param {(page: number, canvas: HTMLCanvasElement) => void} hooks.release
   *        drop a queued or finished drawing (the canvas is emptied here)
   * @param {(page: number) => void} hooks.onSelect  the user picked a page
   */
  constructor(nav, hooks) {
    this.nav = nav;
    this.hooks = hooks;
    this.list = document.createElement("ol");
    this.list.className = "pdfv-thumb-list";
    nav.append(this.list);
    this.buttons = [];
    this.current = 0;
    this.observer = new IntersectionObserver((entries) => this._onIntersect(entries), {
      root: nav,
      rootMargin: "100% 100%",
    });
  }

  _onIntersect(entries) {
    for (const entry of entries) {
      const button = entry.target;
      const page = Number(button.dataset.page);
      const canvas = button.querySelector("canvas");
      if (entry.isIntersecting && button.dataset.drawn !== "true") {
        button.dataset.drawn = "true";
        this.hooks.draw(page, canvas, WIDTH);
      } else if (!entry.isIntersecting && button.dataset.drawn === "true") {
        button.dataset.drawn = "false";
        this.hooks.release(page, canvas);
        canvas.width = 0; // frees the bitmap now rather than at garbage collection
        canvas.height = 0;
      }
    }
  }

  /**
   * One button per page, sized by page 1's proportions until drawn.
   * @param {number} pageCount
   * @param {number} aspect  height / width
   */
  reset(pageCount, aspect) {
    this.clear();
    for (let page = 1; page <= pageCount; page += 1) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "pdfv-thumb";
      button.dataset.page = String(page);
      button.setAttribute("aria-label", t("docs.viewer.thumb_label", { page }));
      const canvas = document.createElement("canvas");
      canvas.dataset.thumbPage = String(page);
      canvas.width = 0;
      canvas.height = 0;
      canvas.style.width = `${WIDTH}px`;
      canvas.style.height = `${Math.round(WIDTH * aspect)}px`;
      const number = document.createElement("span");
      number.className = "pdfv-thumb-number";
      number.textContent = String(page);
      button.append(canvas, number);
      button.addEventListener("click", () => this.hooks.onSelect(page));
      item.append(button);
      this.list.append(item);
      this.buttons.push(button);
      this.observer.observe(button);
    }
  }

  /** Re-translate the buttons' labels (after a language switch). */
  relabel() {
    this.buttons.forEach((button, index) => {
      button.setAttribute("aria-label", t("docs.viewer.thumb_label", { page: index + 1 }));
    });
  }

  /**
   * Mark `page` as the one shown and scroll its thumbnail into the list's view.
   * @param {number} page
   */
  setCurrent(page) {
    const previous = this.buttons[this.current - 1];
    previous?.removeAttribute("aria-current");
    this.current = page;
    const button = this.buttons[page - 1];
    if (!button) {
      return;
    }
    button.setAttribute("aria-current", "page");
    if (this.nav.offsetParent === null) {
      return; // hidden: nothing to scroll
    }
    // The nav is the buttons' offsetParent (position: relative); a column on wide screens, a
    // strip on phones. Only the nav scrolls, never the page around it.
    const { nav } = this;
    const top = button.offsetTop;
    if (top < nav.scrollTop || top + button.offsetHeight > nav.scrollTop + nav.clientHeight) {
      nav.scrollTop = Math.max(0, top - nav.clientHeight / 2 + button.offsetHeight / 2);
    }
    const left = button.offsetLeft;
    if (left < nav.scrollLeft || left + button.offsetWidth > nav.scrollLeft + nav.clientWidth) {
      nav.scrollLeft = Math.max(0, left - nav.clientWidth / 2 + button.offsetWidth / 2);
    }
  }

  /** Remove every thumbnail. */
  clear() {
    this.observer.disconnect();
    for (const button of this.buttons) {
      if (button.dataset.drawn === "true") {
        this.hooks.release(Number(button.dataset.page), button.querySelector("canvas"));
      }
    }
    this.buttons = [];
    this.current = 0;
    this.list.replaceChildren();
  }
}
