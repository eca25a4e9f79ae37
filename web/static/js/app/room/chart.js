// The result of a closed poll as horizontal bars: one row per option with its count and its
// share of the ballots. Hand-written HTML (a bar is a <div> whose width is set from script,
// which the CSP allows), because bars need no charting library and nothing may load from
// outside the server. The bars are hidden from screen readers; they read a visually hidden
// table with the same numbers instead.
//
// Exports:
//   percentOf(count, base)         count / base as a fraction in [0, 1] (0 when base is 0)
//   renderChart(spec)              the chart element (see its JSDoc); each bar row carries
//                                  data-option-id and data-count for tests and tools

import { locale, t } from "../i18n.js";

/**
 * The share of `base` that `count` is (0 when nothing was cast, never NaN).
 * @param {number} count
 * @param {number} base
 * @returns {number}
 */
export function percentOf(count, base) {
  return base > 0 ? count / base : 0;
}

function percentText(fraction) {
  return new Intl.NumberFormat(locale(), { style: "percent", maximumFractionDigits: 1 }).format(
    fraction,
  );
}

function cell(tag, text) {
  const element = document.createElement(tag);
  element.textContent = text;
  return element;
}

/**
 * Horizontal bars for a poll's result.
 * @param {object} spec
 * @param {string} spec.caption      what the chart shows (the poll's question)
 * @param {number} spec.base         what percentages are of (the ballots cast)
 * @param {{id: number, label: string, count: number, passed?: boolean}[]} spec.rows
 * @returns {HTMLElement} a <figure class="poll-chart">
 */
export function renderChart({ caption, base, rows }) {
  const figure = document.createElement("figure");
  figure.className = "poll-chart";
  const bars = document.createElement("div");
  bars.className = "poll-chart-bars";
  bars.setAttribute("aria-hidden", "true"); // the table below says the same to screen readers
  // Wrapped: a table box ignores width and overflow, so hiding the table itself would still
  // widen the page.
  const hidden = document.createElement("div");
  hidden.className = "visually-hidden";
  const table = document.createElement("table");
  table.append(cell("caption", caption));
  const head = document.createElement("tr");
  head.append(
    cell("th", t("voting.chart.option")),
    cell("th", t("voting.chart.votes")),
    cell("th", t("voting.chart.percent")),
  );
  head.querySelectorAll("th").forEach((th) => th.setAttribute("scope", "col"));
  table.append(head);

  for (const row of rows) {
    const fraction = percentOf(row.count, base);
    const line = document.createElement("div");
    line.className = "poll-chart-row";
    line.dataset.optionId = String(row.id);
    line.dataset.count = String(row.count);
    if (row.passed) {
      line.classList.add("passed");
    }
    const label = cell("span", row.label);
    label.className = "poll-chart-label";
    const track = document.createElement("span");
    track.className = "poll-chart-track";
    const fill = document.createElement("span");
    fill.className = "poll-chart-fill";
    fill.style.width = `${(fraction * 100).toFixed(1)}%`;
    track.append(fill);
    const value = cell(
      "span",
      t("voting.chart.value", { count: row.count, percent: percentText(fraction) }),
    );
    value.className = "poll-chart-value";
    line.append(label, track, value);
    bars.append(line);

    const tr = document.createElement("tr");
    const name = cell("th", row.passed ? `${row.label} (${t("voting.chart.passed")})` : row.label);
    name.setAttribute("scope", "row");
    tr.append(name, cell("td", String(row.count)), cell("td", percentText(fraction)));
    table.append(tr);
  }
  hidden.append(table);
  figure.append(bars, hidden);
  return figure;
}
