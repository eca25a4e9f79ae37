// The agenda of the meeting room with each item's published documents under it: items in
// reading order (sub-items nested and numbered 1, 1.1, ...), the current item highlighted,
// each document a button that opens it, flagged "Mới" / "Cập nhật". Documents attached to no
// item (or to an item no longer on the agenda) are listed first as "general documents".
// Pure rendering: the documents panel (documents.js) owns the data and the events.
//
// Exports:
//   renderAgenda(list, model)      replace the content of the <ol> `list`; see the JSDoc
//   numberItems(items)             Map item id → "1", "1.2", ... in reading order

import { t } from "../i18n.js";

/**
 * Number the items as the agenda reads: top level 1, 2, ...; sub-items 1.1, 1.2, ...
 * @param {Array<{id: number, parent_id: number | null}>} items  in reading order
 * @returns {Map<number, string>}
 */
export function numberItems(items) {
  const numbers = new Map();
  const counters = new Map(); // parent id (or "top") → children numbered so far
  for (const item of items) {
    const parent = item.parent_id ?? "top";
    const next = (counters.get(parent) || 0) + 1;
    counters.set(parent, next);
    const prefix = item.parent_id !== null && numbers.has(item.parent_id)
      ? `${numbers.get(item.parent_id)}.`
      : "";
    numbers.set(item.id, `${prefix}${next}`);
  }
  return numbers;
}

function documentEntry(document, model) {
  const entry = window.document.createElement("li");
  entry.className = "docs-doc";
  entry.dataset.documentId = String(document.id);
  const flag = model.flagOf(document);
  entry.dataset.flag = flag;

  const open = window.document.createElement("button");
  open.type = "button";
  open.className = "docs-open";
  open.dataset.documentId = String(document.id);
  if (model.openId === document.id) {
    open.setAttribute("aria-current", "true");
  }
  const title = window.document.createElement("span");
  title.className = "docs-title";
  title.textContent = document.title;
  open.append(title);

  const badges = window.document.createElement("span");
  badges.className = "docs-badges";
  if (flag === "new") {
    badges.append(badge("docs-flag docs-flag-new", t("docs.flag.new")));
  } else if (flag === "updated") {
    badges.append(badge("docs-flag docs-flag-updated", t("docs.flag.updated")));
  }
  if (document.confidential) {
    badges.append(badge("docs-flag docs-flag-confidential", t("docs.flag.confidential")));
  }
  if (model.presentingId === document.id) {
    badges.append(badge("docs-flag docs-flag-presenting", t("docs.flag.presenting")));
  }
  open.append(badges);

  const meta = window.document.createElement("span");
  meta.className = "docs-meta";
  meta.textContent = t("docs.meta", {
    pages: document.version.pages,
    version: document.current_version,
  });
  open.append(meta);
  open.addEventListener("click", () => model.onOpen(document));
  entry.append(open);
  return entry;
}

function badge(className, text) {
  const span = window.document.createElement("span");
  span.className = `badge ${className}`;
  span.textContent = text;
  return span;
}

function documentList(documents, model) {
  const list = window.document.createElement("ul");
  list.className = "docs-docs";
  list.append(...documents.map((document) => documentEntry(document, model)));
  return list;
}

function itemEntry(item, number, children, documents, model) {
  const entry = window.document.createElement("li");
  entry.className = "docs-item";
  entry.dataset.agendaItemId = String(item.id);
  entry.dataset.state = item.state;
  if (item.state === "current") {
    entry.setAttribute("aria-current", "step");
  }
  const head = window.document.createElement("div");
  head.className = "docs-item-head";
  const title = window.document.createElement("h3");
  title.className = "docs-item-title";
  const numberSpan = window.document.createElement("span");
  numberSpan.className = "docs-item-number";
  numberSpan.textContent = `${number}.`;
  title.append(numberSpan, ` ${item.title}`);
  head.append(title);
  if (item.state === "current") {
    head.append(badge("docs-state-current", t("docs.agenda.current")));
  } else if (item.state === "done") {
    head.append(badge("docs-state-done", t("docs.agenda.done")));
  }
  entry.append(head);
  if (item.presenter_name) {
    const presenter = window.document.createElement("p");
    presenter.className = "docs-item-presenter";
    presenter.textContent = t("docs.agenda.presenter", { name: item.presenter_name });
    entry.append(presenter);
  }
  if (documents.length > 0) {
    entry.append(documentList(documents, model));
  }
  if (children.length > 0) {
    const sub = window.document.createElement("ol");
    sub.className = "docs-agenda docs-sub";
    sub.append(...children);
    entry.append(sub);
  }
  return entry;
}

/**
 * Render the agenda with its documents into `list` (an <ol>), replacing what was there.
 * Focus on a document button survives the re-render.
 * @param {HTMLOListElement} list
 * @param {object} model
 * @param {Array} model.items          agenda items (AgendaItemOut) in reading order
 * @param {Array} model.documents      published documents (DocumentOut)
 * @param {(doc: object) => string} model.flagOf   "new" | "updated" | ""
 * @param {(doc: object) => void} model.onOpen
 * @param {number | null} model.openId       the document open in the viewer
 * @param {number | null} model.presentingId the document being presented
 */
export function renderAgenda(list, model) {
  const focused = window.document.activeElement;
  const focusedId = list.contains(focused) ? focused.dataset.documentId : undefined;

  const known = new Set(model.items.map((item) => item.id));
  const byItem = new Map();
  const general = [];
  for (const document of model.documents) {
    if (document.agenda_item_id !== null && known.has(document.agenda_item_id)) {
      const documents = byItem.get(document.agenda_item_id) || [];
      documents.push(document);
      byItem.set(document.agenda_item_id, documents);
    } else {
      general.push(document);
    }
  }

  const numbers = numberItems(model.items);
  const children = new Map(); // parent id → rendered child entries, built bottom-up
  const entries = [];
  for (const item of [...model.items].reverse()) {
    const entry = itemEntry(
      item,
      numbers.get(item.id),
      (children.get(item.id) || []).reverse(),
      byItem.get(item.id) || [],
      model,
    );
    if (item.parent_id !== null && known.has(item.parent_id)) {
      const siblings = children.get(item.parent_id) || [];
      siblings.push(entry);
      children.set(item.parent_id, siblings);
    } else {
      entries.push(entry);
    }
  }
  entries.reverse();

  const rendered = [];
  if (general.length > 0) {
    const entry = window.document.createElement("li");
    entry.className = "docs-item docs-general";
    const title = window.document.createElement("h3");
    title.className = "docs-item-title";
    title.textContent = t("docs.general");
    entry.append(title, documentList(general, model));
    rendered.push(entry);
  }
  list.replaceChildren(...rendered, ...entries);

  if (focusedId !== undefined) {
    list.querySelector(`button.docs-open[data-document-id="${focusedId}"]`)?.focus();
  }
}
