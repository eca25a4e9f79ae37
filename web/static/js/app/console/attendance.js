// The console's attendance section (điểm danh): the sheet of members and other attendees with
// their state, the quorum line, and for the chair and the secretary (attendance.record) a
// control per account to record present (in person or online), absent or excused (with a
// reason), and the quorum rule.
//
// Exports:
//   mount(section, ctx)            wire the section; returns {load()} (false: not readable)

import { api, apiGet } from "../api.js";
import { t } from "../i18n.js";
import { Message, changer } from "./changes.js";
import { field, h, option } from "./dom.js";
import { loadSection } from "./section.js";

function choiceOf(row) {
  if (row.state === "present") {
    return row.mode === "online" ? "present_online" : "present_in_person";
  }
  return row.state;
}

function stateText(row) {
  switch (choiceOf(row)) {
    case "present_online":
      return t("console.attendance.present_online");
    case "present_in_person":
      return t("console.attendance.present_in_person");
    case "excused":
      return row.reason
        ? t("console.attendance.excused_because", { reason: row.reason })
        : t("console.attendance.excused");
    default:
      return t("console.attendance.absent");
  }
}

function kindText(row) {
  if (row.endpoint_id !== null) {
    return t("console.attendance.kind.endpoint");
  }
  return row.member ? t("console.attendance.kind.member") : t("console.attendance.kind.guest");
}

function choices() {
  return [
    ["present_in_person", t("console.attendance.present_in_person")],
    ["present_online", t("console.attendance.present_online")],
    ["absent", t("console.attendance.absent")],
    ["excused", t("console.attendance.excused")],
  ];
}

/** Wire the attendance section; see the module comment. */
export function mount(section, ctx) {
  const list = section.querySelector("#attendance-list");
  const empty = section.querySelector("#attendance-empty");
  const quorumLine = section.querySelector("#quorum-line");
  const ruleField = section.querySelector("#quorum-rule-field");
  const rule = section.querySelector("#quorum-rule");
  const canRecord = ctx.can("attendance.record");
  const failure = new Message(section.querySelector("#attendance-error"));
  const change = changer(reload, render, ctx.announce);

  let sheet = null;
  const drafts = new Map(); // attendee key → {choice, reason} being edited

  function quorumText(quorum) {
    const line = t("console.attendance.quorum", {
      present: quorum.present,
      members: quorum.members,
      required: quorum.required,
      excused: quorum.excused,
    });
    const verdict = quorum.met
      ? t("console.attendance.quorum_met")
      : t("console.attendance.quorum_not_met");
    return [line, verdict];
  }

  function recordForm(row) {
    const draft = drafts.get(row.attendee_key) || { choice: choiceOf(row), reason: row.reason };
    drafts.set(row.attendee_key, draft);
    const id = `attendance-${row.account_id}`;
    const select = h(
      "select",
      {
        id: `${id}-state`,
        value: draft.choice,
        onchange: () => {
          draft.choice = select.value;
          render();
          list.querySelector(`#${id}-${draft.choice === "excused" ? "reason" : "state"}`)?.focus();
        },
      },
      choices().map(([value, text]) => option(value, text)),
    );
    const reason = h("input", {
      id: `${id}-reason`,
      type: "text",
      maxlength: 500,
      value: draft.reason,
      oninput: () => {
        draft.reason = reason.value;
      },
    });
    return h(
      "form",
      {
        class: "inline-form record-form",
        novalidate: true,
        onsubmit: (event) => {
          event.preventDefault();
          record(row, draft);
        },
      },
      field(t("console.attendance.state_label", { name: row.name }), select),
      draft.choice === "excused" ? field(t("console.attendance.reason_label"), reason) : null,
      h("button", {
        type: "submit",
        class: "small",
        text: t("console.attendance.record"),
        "aria-label": t("console.attendance.record_label", { name: row.name }),
        dataset: { action: "record", attendee: row.attendee_key },
      }),
    );
  }

  function attendeeRow(row) {
    const item = h(
      "li",
      { class: "attendee", dataset: { attendee: row.attendee_key, state: row.state } },
      h(
        "div",
        { class: "row-main" },
        h(
          "div",
          { class: "row-text" },
          h("span", { class: "row-title", text: row.name }),
          h("span", { class: "row-meta", text: kindText(row) }),
        ),
        h("span", { class: `badge attendance-${row.state}`, text: stateText(row) }),
      ),
    );
    if (canRecord && row.account_id !== null) {
      item.append(recordForm(row));
    }
    return item;
  }

  function render() {
    failure.render();
    if (sheet === null) {
      return;
    }
    const [line, verdict] = quorumText(sheet.quorum);
    quorumLine.replaceChildren(
      h("span", { text: line }),
      h("span", {
        class: `badge ${sheet.quorum.met ? "quorum-met" : "quorum-not-met"}`,
        text: verdict,
      }),
    );
    rule.value = sheet.quorum.rule;
    ruleField.hidden = !canRecord;
    list.replaceChildren(...sheet.attendees.map(attendeeRow));
    empty.hidden = sheet.attendees.length > 0;
  }

  async function reload() {
    sheet = await apiGet(`/meetings/${ctx.meetingId}/attendance`);
    render();
  }

  async function record(row, draft) {
    const body =
      draft.choice === "present_in_person" || draft.choice === "present_online"
        ? { state: "present", mode: draft.choice === "present_online" ? "online" : "in_person" }
        : { state: draft.choice, reason: draft.choice === "excused" ? draft.reason.trim() : "" };
    const recorded = await change(
      failure,
      async () => {
        await api("PUT", `/meetings/${ctx.meetingId}/attendance/accounts/${row.account_id}`, body);
        drafts.delete(row.attendee_key);
      },
      {
        after: () => t("console.attendance.recorded", { name: row.name }),
        overrides: () => ({ invalid_input: t("console.attendance.error.invalid") }),
      },
    );
    if (recorded) {
      list.querySelector(`[data-action="record"][data-attendee="${row.attendee_key}"]`)?.focus();
    }
  }

  rule.addEventListener("change", () =>
    change(failure, () => api("PUT", `/meetings/${ctx.meetingId}/quorum`, { rule: rule.value }), {
      after: () => t("console.attendance.rule_saved"),
    }),
  );

  ctx.onLanguage(render);

  return { load: () => loadSection(reload, failure, render) };
}
