// Text search inside the PDF open in the viewer. Matching ignores case and Vietnamese
// diacritics ("ngan sach" finds "Ngân sách", as the server's document search does) and treats
// any run of white space as one space; it runs over pdf.js text content, page by page, and
// marks the matches in a page's text layer.
//
// Exports:
//   fold(text)                     {folded, map}: lower case, diacritics removed (đ → d), white
//                                  space runs as one space; map[i] = index in text of folded[i]
//   pageText(items)                {text, starts}: a page's text items joined (a line break after
//                                  items that end a line) and where each item starts
//   findAll(text, query)           [{start, end}] ranges of the query in a page's joined text
//   markMatches(textDivs, starts, ranges)
//                                  wrap the matched parts of a text layer's spans in <mark>;
//                                  returns a function that removes the marks again
//   PdfSearch                      the matches over a whole document with a cursor

const COMBINING = /\p{M}/u;
const MARKS = /\p{M}+/gu;
const SPACE = /\s/;

function foldChar(char) {
  const lower = char.toLowerCase();
  if (lower === "đ") {
    return "d";
  }
  return lower.normalize("NFD").replace(MARKS, "");
}

/**
 * Fold text for matching.
 * @param {string} text
 * @returns {{folded: string, map: number[]}}
 */
export function fold(text) {
  let folded = "";
  const map = [];
  for (let index = 0; index < text.length; index += 1) {
    const char = text[index];
    if (SPACE.test(char)) {
      if (!folded.endsWith(" ")) {
        folded += " ";
        map.push(index);
      }
      continue;
    }
    const code = char.charCodeAt(0);
    const part = code < 0x80 ? char.toLowerCase() : foldChar(char);
    for (let k = 0; k < part.length; k += 1) {
      folded += part[k];
      map.push(index);
    }
  }
  return { folded, map };
}

/**
 * Join a page's text items the way a reader sees them.
 * @param {Array<{str: string, hasEOL?: boolean}>} items  pdf.js text content items
 * @returns {{text: string, starts: number[]}}
 */
export function pageText(items) {
  let text = "";
  const starts = [];
  for (const item of items) {
    starts.push(text.length);
    text += item.str;
    if (item.hasEOL) {
      text += "\n"; // belongs to no item: "cáo" at a line's end and "ngân" below stay apart
    }
  }
  return { text, starts };
}

/**
 * Every occurrence of `query` in `text` (folded both), as ranges of `text`.
 * @param {string} text
 * @param {string} query
 * @returns {Array<{start: number, end: number}>}
 */
export function findAll(text, query) {
  const needle = fold(query).folded.trim();
  if (!needle) {
    return [];
  }
  const { folded, map } = fold(text);
  const ranges = [];
  let from = 0;
  for (;;) {
    const at = folded.indexOf(needle, from);
    if (at < 0) {
      break;
    }
    let end = map[at + needle.length - 1] + 1;
    while (end < text.length && COMBINING.test(text[end])) {
      end += 1; // decomposed text: the accents after the last letter belong to the match
    }
    ranges.push({ start: map[at], end });
    from = at + needle.length;
  }
  return ranges;
}

/**
 * Wrap the matched parts of the text layer's spans in <mark class="pdfv-hit">, the selected
 * range's parts with class "selected" too.
 * @param {HTMLElement[]} textDivs   TextLayer.textDivs (one per text item, same order)
 * @param {number[]} starts          pageText(items).starts
 * @param {Array<{start: number, end: number, selected?: boolean}>} ranges
 * @returns {() => void} removes the marks (restores each span's text)
 */
export function markMatches(textDivs, starts, ranges) {
  const parts = new Map(); // item index → [{from, to, selected}]
  for (const range of ranges) {
    for (let item = 0; item < starts.length; item += 1) {
      const itemStart = starts[item];
      const length = textDivs[item] ? textDivs[item].textContent.length : 0;
      const from = Math.max(range.start, itemStart);
      const to = Math.min(range.end, itemStart + length);
      if (from < to) {
        const list = parts.get(item) || [];
        list.push({ from: from - itemStart, to: to - itemStart, selected: !!range.selected });
        parts.set(item, list);
      }
    }
  }
  const originals = new Map();
  for (const [item, list] of parts) {
    const div = textDivs[item];
    const text = div.textContent;
    originals.set(div, text);
    list.sort((a, b) => a.from - b.from);
    const children = [];
    let at = 0;
    for (const part of list) {
      if (part.from > at) {
        children.push(text.slice(at, part.from));
      }
      const mark = document.createElement("mark");
      mark.className = part.selected ? "pdfv-hit selected" : "pdfv-hit";
      mark.textContent = text.slice(Math.max(at, part.from), part.to);
      children.push(mark);
      at = Math.max(at, part.to);
    }
    if (at < text.length) {
      children.push(text.slice(at));
    }
    div.replaceChildren(...children);
  }
  return () => {
    for (const [div, text] of originals) {
      div.textContent = text;
    }
  };
}

/** The matches of one query over a whole document, in page order, with a cursor. */
export class PdfSearch {
  /**
   * @param {(page: number) => Promise<{text: string}>} pageTextOf  a page's joined text
   * @param {number} pageCount
   */
  constructor(pageTextOf, pageCount) {
    this.pageTextOf = pageTextOf;
    this.pageCount = pageCount;
    this.query = "";
    this.matches = []; // [{page, start, end}]
    this.index = -1;
    this._run = 0;
  }

  /**
   * Search every page; resolves to the matches, or null when a newer search replaced this one.
   * @param {string} query
   * @param {(done: number, total: number) => void} [onProgress]
   */
  async run(query, onProgress = () => {}) {
    const run = ++this._run;
    this.query = query;
    this.matches = [];
    this.index = -1;
    const found = [];
    for (let page = 1; page <= this.pageCount; page += 1) {
      const { text } = await this.pageTextOf(page);
      if (run !== this._run) {
        return null;
      }
      for (const range of findAll(text, query)) {
        found.push({ page, ...range });
      }
      onProgress(page, this.pageCount);
    }
    this.matches = found;
    return found;
  }

  /** Forget the query and its matches (and stop a search under way). */
  clear() {
    this._run += 1;
    this.query = "";
    this.matches = [];
    this.index = -1;
  }

  /** The selected match, or null. */
  get current() {
    return this.index >= 0 ? this.matches[this.index] : null;
  }

  /**
   * Select the first match on `page` or after it (wrapping to the start).
   * @param {number} page
   */
  selectFrom(page) {
    if (this.matches.length === 0) {
      this.index = -1;
      return null;
    }
    const at = this.matches.findIndex((match) => match.page >= page);
    this.index = at < 0 ? 0 : at;
    return this.current;
  }

  /** Select the next match (wrapping). */
  next() {
    if (this.matches.length === 0) {
      return null;
    }
    this.index = (this.index + 1) % this.matches.length;
    return this.current;
  }

  /** Select the previous match (wrapping). */
  previous() {
    if (this.matches.length === 0) {
      return null;
    }
    this.index = (this.index - 1 + this.matches.length) % this.matches.length;
    return this.current;
  }

  /**
   * The matches on one page, the selected one flagged.
   * @param {number} page
   * @returns {Array<{start: number, end: number, selected: boolean}>}
   */
  onPage(page) {
    const selected = this.current;
    return this.matches
      .filter((match) => match.page === page)
      .map((match) => ({ start: match.start, end: match.end, selected: match === selected }));
  }
}
