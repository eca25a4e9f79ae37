// Errors of the admin forms, where the user looks for them: the server's answer to a submitted
// form is taken apart and each problem is shown under its own field (the field marked
// aria-invalid and described by the message), anything else in the form's alert. Messages are
// kept as functions so a language switch re-renders them.
//
// The server validates twice: the request schema (422 validation_error, details.errors[]
// with loc and type per field) and the domain (invalid_input / conflict, with details naming
// the offending value). Forms are `novalidate`: the server's rules are the only rules.
//
// Exports:
//   formErrors({fields, summary, rules})   a controller: {report(error), clear()}
//       fields: {apiName: {input, error, messages?: {pydanticType: () => string}}}
//       summary: the form's role="alert" element
//       rules: [(apiError) => ({field, message}) | null]  domain errors the form understands
//   numberOrNull(value)                     "" → null, "12" → 12 (select values)
//   whileBusy(button, task)                 run task() with the button disabled (no double submit)

import { ApiError, errorMessage } from "../api.js";
import { onLanguageChange, t } from "../i18n.js";

function genericMessage(type, input) {
  const empty = !String(input.value ?? "").trim();
  if (input.tagName === "SELECT") {
    return () => t("admin.error.choose");
  }
  if (type === "missing" || (empty && type === "string_too_short")) {
    return () => t("admin.error.required");
  }
  if (type === "string_too_long") {
    return () => t("admin.error.too_long");
  }
  if (type === "string_too_short") {
    return () => t("admin.error.too_short");
  }
  if (type === "string_pattern_mismatch") {
    return () => t("admin.error.format");
  }
  return () => t("admin.error.invalid");
}

/** A controller for one form's errors; see the module comment. */
export function formErrors({ fields, summary, rules = [] }) {
  const messages = new Map(); // field name → message function
  let summaryMessage = null;

  function render() {
    for (const [name, field] of Object.entries(fields)) {
      const message = messages.get(name);
      field.error.hidden = message === undefined;
      field.error.textContent = message === undefined ? "" : message();
      if (message === undefined) {
        field.input.removeAttribute("aria-invalid");
      } else {
        field.input.setAttribute("aria-invalid", "true");
      }
    }
    summary.hidden = summaryMessage === null;
    summary.textContent = summaryMessage === null ? "" : summaryMessage();
  }

  function fieldMessage(name, type) {
    const field = fields[name];
    const special = field.messages && field.messages[type];
    const empty = !String(field.input.value ?? "").trim();
    // An empty field is "required" whatever length rule it broke.
    return special && !(empty && type === "string_too_short")
      ? special
      : genericMessage(type, field.input);
  }

  onLanguageChange(render);

  return {
    /** Show `error` (an ApiError or anything thrown) on the form; focus the first problem. */
    report(error) {
      messages.clear();
      summaryMessage = null;
      const problems =
        error instanceof ApiError &&
        error.code === "validation_error" &&
        error.details &&
        Array.isArray(error.details.errors)
          ? error.details.errors
          : [];
      for (const problem of problems) {
        const name = Array.isArray(problem.loc) ? problem.loc[0] : undefined;
        if (name in fields && !messages.has(name)) {
          messages.set(name, fieldMessage(name, problem.type));
        }
      }
      if (messages.size === 0 && error instanceof ApiError && problems.length === 0) {
        for (const rule of rules) {
          const match = rule(error);
          if (match) {
            if (match.field && match.field in fields) {
              messages.set(match.field, match.message);
            } else {
              summaryMessage = match.message;
            }
            break;
          }
        }
      }
      if (messages.size === 0 && summaryMessage === null) {
        summaryMessage = () => errorMessage(error);
      }
      render();
      const first = Object.entries(fields).find(([name]) => messages.has(name));
      if (first) {
        first[1].input.focus();
      }
    },

    /** Forget every error. */
    clear() {
      messages.clear();
      summaryMessage = null;
      render();
    },
  };
}

/** A select's value as an id: "" → null. */
export function numberOrNull(value) {
  return value === "" || value === null || value === undefined ? null : Number(value);
}

/** Run `task()` with `button` disabled and aria-busy, so a double click sends one request. */
export async function whileBusy(button, task) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await task();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
