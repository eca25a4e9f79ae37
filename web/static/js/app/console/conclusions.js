// The console's conclusions section (kết luận): each conclusion with its agenda item and
// deadline; the chair and the secretary (conclusion.write) add, edit and delete them until the
// minutes are approved (the server then answers 409 minutes_locked, shown as such).
//
// Exports:
//   mount(section, ctx)            wire the section; returns {load()} (false: not readable)

import { api, apiGet } from "../api.js";
import { t } from "../i18n.js";
import { Message, changer, required, whileBusy } from "./changes.js";
import { agendaLabel, agendaOptions, field, fillSelect, formatDate, h } from "./dom.js";
import { RowControls } from "./rows.js";
import { loadSection } from "./section.js";

function overrides() {
  return {
    minutes_locked: t("console.conclusions.error.locked"),
    invalid_input: t("console.conclusions.error.invalid"),
  };
}

/** Wire the conclusions section; see the module comment. */
export function mount(section, ctx) {
  const list = section.querySelector("#conclusions-list");
  const empty = section.querySelector("#conclusions-empty");
  const locked = section.querySelector("#conclusions-locked");
  const form = section.querySelector("#conclusion-form");
  const agendaSelect = section.querySelector("#conclusion-agenda");
  const needsAgenda = section.querySelector("#conclusion-needs-agenda");
  const submit = section.querySelector("#conclusion-submit");
  const canWrite = ctx.can("conclusion.write");
  const failure = new Message(section.querySelector("#conclusions-error"), overrides);
  const formFailure = new Message(section.querySelector("#conclusion-form-error"), overrides);
  const rows = new RowControls(list, "conclusionId", render);
  const change = changer(reload, render, ctx.announce);

  let conclusions = [];

  function editForm(conclusion, draft) {
    const prefix = `conclusion-edit-${conclusion.id}`;
    const agenda = h(
      "select",
      {
        id: `${prefix}-agenda`,
        value: String(draft.agenda_item_id),
        onchange: () => {
          draft.agenda_item_id = Number(agenda.value);
        },
      },
      agendaOptions(ctx.agenda),
    );
    const content = h("textarea", {
      id: `${prefix}-content`,
      rows: 3,
      maxlength: 20000,
      value: draft.content,
      oninput: () => {
        draft.content = content.value;
      },
    });
    const deadline = h("input", {
      id: `${prefix}-deadline`,
      type: "date",
      value: draft.deadline,
      oninput: () => {
        draft.deadline = deadline.value;
      },
    });
    return rows.editForm(
      conclusion.id,
      [
        field(t("console.conclusions.agenda_label"), agenda),
        field(t("console.conclusions.content_label"), content),
        field(t("console.conclusions.deadline_label"), deadline),
      ],
      () => save(conclusion, draft),
    );
  }

  function conclusionRow(conclusion) {
    const item = agendaLabel(ctx.agenda, conclusion.agenda_item_id);
    const row = h(
      "li",
      { class: "conclusion", dataset: { conclusionId: String(conclusion.id) } },
      h(
        "div",
        { class: "row-text" },
        h("span", { class: "row-meta", text: item || t("console.conclusions.unknown_item") }),
        h("span", { class: "row-body", text: conclusion.content }),
        conclusion.deadline
          ? h("span", {
              class: "row-meta",
              text: t("console.conclusions.deadline", { date: formatDate(conclusion.deadline) }),
            })
          : null,
      ),
    );
    if (!canWrite) {
      return row;
    }
    const draft = rows.draftOf(conclusion.id);
    if (draft) {
      row.append(editForm(conclusion, draft));
      return row;
    }
    const short =
      conclusion.content.length > 40 ? `${conclusion.content.slice(0, 40)}…` : conclusion.content;
    const [remove, ...confirm] = rows.deleteStep(
      conclusion.id,
      t("console.conclusions.delete_label", { text: short }),
      t("console.conclusions.delete_confirm"),
      () =>
        change(
          failure,
          () => api("DELETE", `/meetings/${ctx.meetingId}/conclusions/${conclusion.id}`),
          { after: () => t("console.conclusions.deleted") },
        ),
    );
    row.append(
      h(
        "div",
        { class: "row-actions" },
        rows.editButton(
          conclusion.id,
          t("console.conclusions.edit_label", { text: short }),
          {
            agenda_item_id: conclusion.agenda_item_id,
            content: conclusion.content,
            deadline: conclusion.deadline || "",
          },
          `conclusion-edit-${conclusion.id}-content`,
        ),
        remove,
      ),
      ...confirm,
    );
    return row;
  }

  function render() {
    list.replaceChildren(...conclusions.map(conclusionRow));
    empty.hidden = conclusions.length > 0;
    failure.render();
    formFailure.render();
    locked.hidden = ctx.minutesState !== "approved";
    fillSelect(agendaSelect, agendaOptions(ctx.agenda));
    needsAgenda.hidden = ctx.agenda.length > 0;
    agendaSelect.disabled = ctx.agenda.length === 0;
    submit.disabled = ctx.agenda.length === 0;
    rows.restoreFocus();
  }

  async function reload() {
    conclusions = await apiGet(`/meetings/${ctx.meetingId}/conclusions`);
    render();
  }

  function save(conclusion, draft) {
    return change(
      failure,
      async () => {
        await api("PATCH", `/meetings/${ctx.meetingId}/conclusions/${conclusion.id}`, {
          agenda_item_id: draft.agenda_item_id,
          content: draft.content.trim(),
          deadline: draft.deadline || null,
        });
        rows.endEdit(conclusion.id);
      },
      { after: () => t("console.conclusions.saved") },
    );
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const content = form.elements.content;
    const missing = () => t("console.conclusions.error.content_required");
    if (!required(content, formFailure, missing, render)) {
      return;
    }
    await whileBusy(submit, () =>
      change(
        formFailure,
        async () => {
          await api("POST", `/meetings/${ctx.meetingId}/conclusions`, {
            agenda_item_id: Number(agendaSelect.value),
            content: content.value.trim(),
            deadline: form.elements.deadline.value || null,
          });
          content.value = "";
          form.elements.deadline.value = "";
        },
        { after: () => t("console.conclusions.added") },
      ),
    );
    submit.disabled = ctx.agenda.length === 0; // no agenda item: nothing to attach one to
  });

  ctx.onLanguage(render);
  ctx.onAgenda(render);
  ctx.onMinutes(render);
  form.hidden = !canWrite;

  return { load: () => loadSection(reload, failure, render) };
}
