// How the recordings page writes times, durations and sizes, in the current language.
//
// Exports:
//   clock(seconds)            a position or a length as "mm:ss", "h:mm:ss" from an hour on
//   isoDuration(seconds)      the same for <time datetime>: "PT1M5.5S"
//   formatSize(bytes)         "1,2 MB" / "1.2 MB" (decimal units, as disks and networks count)
//   formatBytes(bytes)        the exact count, "1.234.567 byte" / "1,234,567 bytes"
//   formatDateTime(iso)       a start or an end: date and time of day
//   fact(dl, labelKey, ...)   one <dt> label / <dd> value pair appended to a <dl>

import { locale, t } from "../i18n.js";

export { formatDateTime } from "../i18n.js";

const UNITS = ["B", "kB", "MB", "GB", "TB"];

/** Seconds as "mm:ss", or "h:mm:ss" from an hour on (fractions dropped). */
export function clock(seconds) {
  const whole = Math.max(0, Math.floor(Number(seconds) || 0));
  const hours = Math.floor(whole / 3600);
  const minutes = String(Math.floor((whole % 3600) / 60)).padStart(2, "0");
  const secs = String(whole % 60).padStart(2, "0");
  return hours > 0 ? `${hours}:${minutes}:${secs}` : `${minutes}:${secs}`;
}

/** Seconds as an ISO 8601 duration, the machine-readable value of a <time> element. */
export function isoDuration(seconds) {
  const value = Math.max(0, Number(seconds) || 0);
  const minutes = Math.floor(value / 60);
  const rest = Math.round((value - minutes * 60) * 10) / 10;
  return minutes > 0 ? `PT${minutes}M${rest}S` : `PT${rest}S`;
}

/** A size in the largest decimal unit that keeps it at 1 or more, one decimal. */
export function formatSize(bytes) {
  let value = Math.max(0, Number(bytes) || 0);
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit += 1;
  }
  const number = new Intl.NumberFormat(locale(), { maximumFractionDigits: unit === 0 ? 0 : 1 });
  return `${number.format(value)} ${UNITS[unit]}`;
}

/** The exact number of bytes, grouped as the language groups digits. */
export function formatBytes(bytes) {
  return t("recordings.bytes", { count: new Intl.NumberFormat(locale()).format(bytes) });
}


/** One labelled fact of a recording or a track: a <dt>/<dd> pair appended to ``facts``. */
export function fact(facts, labelKey, ...content) {
  const term = document.createElement("dt");
  term.textContent = t(labelKey);
  const value = document.createElement("dd");
  value.append(...content);
  facts.append(term, value);
}
