// Translation for every page of the browser client: Vietnamese first and by default, English
// switchable; the choice is remembered in localStorage. Catalogues are flat JSON objects,
// web/static/i18n/<lang>.json, sorted by key; a test checks both hold the same keys and that
// every key used in web/static exists.
//
// Exports:
//   LANGUAGES                      ["vi", "en"], the first is the default
//   initI18n()                     load the remembered language's catalogue, apply it to the page
//   t(key, params)                 the string for key in the current language, "{name}" replaced
//   hasKey(key)                    whether the current catalogue has key
//   getLanguage()                  "vi" | "en"
//   setLanguage(lang)              load, remember, set <html lang>, re-apply, notify listeners
//   applyTranslations(root)        fill data-i18n (text) and data-i18n-<attribute> (for
//                                  aria-label, title, placeholder, alt) below root
//   onLanguageChange(listener)     call listener(lang) after each switch; returns an unsubscribe
//   locale()                       the BCP 47 locale for Intl formatting ("vi-VN", "en-GB")
//   bindLanguageSelect(select)     make a <select> list the languages and switch on change

export const LANGUAGES = Object.freeze(["vi", "en"]);
const STORAGE_KEY = "phonghop.lang";
const LOCALES = Object.freeze({ vi: "vi-VN", en: "en-GB" });
// Attributes that can carry a translated value: data-i18n-<attribute>="key".
const ATTRIBUTES = Object.freeze(["aria-label", "title", "placeholder", "alt"]);

let language = LANGUAGES[0];
let catalogue = {};
const cache = new Map();
const listeners = new Set();

function remembered() {
  try {
    const value = localStorage.getItem(STORAGE_KEY);
    return LANGUAGES.includes(value) ? value : LANGUAGES[0];
  } catch {
    return LANGUAGES[0]; // storage disabled: the default every time
  }
}

async function load(lang) {
  if (!cache.has(lang)) {
    const response = await fetch(`/static/i18n/${lang}.json`, { credentials: "same-origin" });
    if (!response.ok) {
      throw new Error(`catalogue ${lang}: HTTP ${response.status}`);
    }
    cache.set(lang, await response.json());
  }
  return cache.get(lang);
}

/** The string for `key` in the current language, with `{name}` placeholders filled. */
export function t(key, params = {}) {
  const template = catalogue[key];
  if (template === undefined) {
    console.warn(`i18n: missing key ${key} (${language})`);
    return key;
  }
  return template.replace(/\{(\w+)\}/g, (whole, name) =>
    Object.prototype.hasOwnProperty.call(params, name) ? String(params[name]) : whole,
  );
}

/** Whether the current catalogue has `key` (for optional, code-derived keys). */
export function hasKey(key) {
  return Object.prototype.hasOwnProperty.call(catalogue, key);
}

/** The current language code. */
export function getLanguage() {
  return language;
}

/** The locale for Intl date and number formatting in the current language. */
export function locale() {
  return LOCALES[language];
}

/** `iso` as a short local date and time ("24/11/2026, 08:00" in Vietnamese). */
export function formatDateTime(iso) {
  return new Intl.DateTimeFormat(locale(), {
    day: "2-digit",
    month: "2-digit",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  }).format(new Date(iso));
}

/** Fill every element below `root` that names a key in data-i18n or data-i18n-<attribute>. */
export function applyTranslations(root = document) {
  for (const element of root.querySelectorAll("[data-i18n]")) {
    element.textContent = t(element.dataset.i18n);
  }
  for (const attribute of ATTRIBUTES) {
    for (const element of root.querySelectorAll(`[data-i18n-${attribute}]`)) {
      element.setAttribute(attribute, t(element.getAttribute(`data-i18n-${attribute}`)));
    }
  }
}

/** Call `listener(lang)` after every language switch; returns a function that unsubscribes. */
export function onLanguageChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** Switch to `lang`: load its catalogue, remember it, re-translate the page, notify. */
export async function setLanguage(lang) {
  if (!LANGUAGES.includes(lang)) {
    throw new Error(`unknown language ${lang}`);
  }
  catalogue = await load(lang);
  language = lang;
  try {
    localStorage.setItem(STORAGE_KEY, lang);
  } catch {
    // storage disabled: the switch still holds for this page
  }
  document.documentElement.lang = lang;
  applyTranslations(document);
  for (const select of document.querySelectorAll("select[data-language-select]")) {
    select.value = lang;
  }
  for (const listener of listeners) {
    listener(lang);
  }
}

/** Load the remembered (or default) language and translate the page. */
export async function initI18n() {
  await setLanguage(remembered());
}

/** Make `select` offer every language (each named in its own language) and switch on change. */
export function bindLanguageSelect(select) {
  select.dataset.languageSelect = "";
  select.replaceChildren(
    ...LANGUAGES.map((lang) => {
      const option = document.createElement("option");
      option.value = lang;
      option.lang = lang;
      option.dataset.i18n = `lang.${lang}`;
      option.textContent = hasKey(`lang.${lang}`) ? t(`lang.${lang}`) : lang;
      return option;
    }),
  );
  select.value = language;
  select.addEventListener("change", () => {
    setLanguage(select.value).catch((error) => console.error("i18n:", error));
  });
}
