// Small DOM and formatting helpers shared by the secretary's console sections.
//
// Exports:
//   h(tag, props, ...children)     build an element: props set attributes, "class", "text",
//                                  "dataset", "on<event>" listeners, and the value/checked/
//                                  selected/disabled properties; null/false children are skipped
//   option(value, text, selected)  an <option>
//   field(label, input)            a .field: the <label for> of `input`, then `input`
//   fillSelect(select, options)    replace a <select>'s options, keeping its value if still there
//   showMessage(node, text)        put text in a notice/alert element, hiding it when empty
//   formatDateTime(iso), formatDate(isoDate), formatBytes(bytes)
//                                  in the current locale
//   agendaNumbers(items)           Map item id → "1", "1.2"... in reading order
//   agendaLabel(items, id)         "1.2. Title" of an agenda item, or "" if unknown
//   agendaOptions(items)           an <option> per agenda item, "1.2. Title", in reading order
//   numberOrNull(value)            a form value as a whole number, or null when it is none

import { locale } from "../i18n.js";

const PROPERTIES = new Set(["value", "checked", "selected", "disabled", "hidden"]);

/** Build an element; see the module comment. */
export function h(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  const late = [];
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null) {
      continue;
    }
    if (name === "class") {
      node.className = value;
    } else if (name === "text") {
      node.textContent = value;
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (PROPERTIES.has(name)) {
      late.push([name, value]); // after the children: a <select>'s value needs its options
    } else if (value !== false) {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  for (const [name, value] of late) {
    node[name] = value;
  }
  return node;
}

/** An <option>. */
export function option(value, text, selected = false) {
  return h("option", { value: String(value), text, selected });
}

/** A form field: the label of `input` (which must have an id), then the input. */
export function field(label, input) {
  return h("div", { class: "field" }, h("label", { for: input.id, text: label }), input);
}

/** Replace the options of `select`, keeping the chosen value when it is still offered. */
export function fillSelect(select, options) {
  const kept = select.value;
  select.replaceChildren(...options);
  if ([...select.options].some((o) => o.value === kept)) {
    select.value = kept;
  }
}

/** Show `text` in `node` (a .notice or .error), or hide it when there is nothing to say. */
export function showMessage(node, text) {
  node.textContent = text || "";
  node.hidden = !text;
}

/** A date and time in the current locale ("24/11/2026 08:00"). */
export function formatDateTime(iso) {
  if (!iso) {
    return "";
  }
  return new Intl.DateTimeFormat(locale(), { dateStyle: "short", timeStyle: "short" }).format(
    new Date(iso),
  );
}

/** A calendar date ("2026-12-31" from the API) in the current locale, without time zones. */
export function formatDate(isoDate) {
  if (!isoDate) {
    return "";
  }
  const [year, month, day] = isoDate.split("-").map(Number);
  return new Intl.DateTimeFormat(locale(), { dateStyle: "medium", timeZone: "UTC" }).format(
    new Date(Date.UTC(year, month - 1, day)),
  );
}

/** A size in bytes as "12 KB", "3,4 MB". */
export function formatBytes(bytes) {
  const units = ["B", "KB", "MB", "GB"];
  let value = Number(bytes) || 0;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  const number = new Intl.NumberFormat(locale(), { maximumFractionDigits: digits }).format(value);
  return `${number} ${units[unit]}`;
}

/** Numbers of the agenda items in reading order: "1", "2", "2.1"... */
export function agendaNumbers(items) {
  const numbers = new Map();
  const counters = new Map(); // parent id (or "top") → items seen at that level
  for (const item of items) {
    const level = item.parent_id ?? "top";
    const count = (counters.get(level) || 0) + 1;
    counters.set(level, count);
    const prefix = item.parent_id === null ? "" : `${numbers.get(item.parent_id) || "?"}.`;
    numbers.set(item.id, `${prefix}${count}`);
  }
  return numbers;
}

/** "2.1. Title" for an agenda item id, or "" when it is not (or no longer) on the agenda. */
export function agendaLabel(items, id) {
  if (id === null || id === undefined) {
    return "";
  }
  const item = items.find((i) => i.id === id);
  if (!item) {
    return "";
  }
  return `${agendaNumbers(items).get(id)}. ${item.title}`;
}

/** The agenda items as <option>s ("2.1. Title"), for choosing the item something belongs to. */
export function agendaOptions(items) {
  const numbers = agendaNumbers(items);
  return items.map((item) => option(item.id, `${numbers.get(item.id)}. ${item.title}`));
}

/** A form value ("12", "") as a whole number, or null when it holds none. */
export function numberOrNull(value) {
  const number = Number.parseInt(value, 10);
  return Number.isFinite(number) ? number : null;
}
