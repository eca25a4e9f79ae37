// The console's agenda section: the items in reading order with their numbers, presenter,
// time budget and state; hosts (agenda.edit) add, edit, delete and move items within their
// level. Every change reloads the agenda and hands it to the other sections (ctx.setAgenda).
//
// Exports:
//   mount(section, ctx)            wire the section; returns {load()}: fetch and render,
//                                  resolving to false when the user may not read the agenda

import { api, apiGet } from "../api.js";
import { t } from "../i18n.js";
import { Message, changer, required, whileBusy } from "./changes.js";
import { agendaNumbers, agendaOptions, field, fillSelect, h, numberOrNull, option } from "./dom.js";
import { RowControls } from "./rows.js";
import { loadSection } from "./section.js";

function stateText(state) {
  switch (state) {
    case "current":
      return t("console.agenda.state.current");
    case "done":
      return t("console.agenda.state.done");
    default:
      return t("console.agenda.state.pending");
  }
}

/** Wire the agenda section; see the module comment. */
export function mount(section, ctx) {
  const list = section.querySelector("#agenda-list");
  const empty = section.querySelector("#agenda-empty");
  const form = section.querySelector("#agenda-form");
  const parent = section.querySelector("#agenda-parent");
  const canEdit = ctx.can("agenda.edit");
  const failure = new Message(section.querySelector("#agenda-error"), () => ({
    conflict: t("console.agenda.error.conflict"),
  }));
  const formFailure = new Message(section.querySelector("#agenda-form-error"));
  const rows = new RowControls(list, "itemId", render);
  const change = changer(reload, render, ctx.announce);

  let items = [];

  function editForm(item, draft) {
    const bind = (input, key) => {
      input.addEventListener("input", () => {
        draft[key] = input.value;
      });
      return input;
    };
    const prefix = `agenda-edit-${item.id}`;
    return rows.editForm(
      item.id,
      [
        field(
          t("console.agenda.title_label"),
          bind(h("input", { id: `${prefix}-title`, maxlength: 500, value: draft.title }), "title"),
        ),
        h(
          "div",
          { class: "field-row" },
          field(
            t("console.agenda.presenter_label"),
            bind(
              h("input", {
                id: `${prefix}-presenter`,
                maxlength: 200,
                value: draft.presenter_name,
              }),
              "presenter_name",
            ),
          ),
          field(
            t("console.agenda.budget_label"),
            bind(
              h("input", {
                id: `${prefix}-budget`,
                type: "number",
                min: 1,
                max: 1440,
                inputmode: "numeric",
                value: draft.minutes_budget,
              }),
              "minutes_budget",
            ),
          ),
        ),
        field(
          t("console.agenda.description_label"),
          bind(
            h("textarea", {
              id: `${prefix}-description`,
              rows: 2,
              maxlength: 4000,
              value: draft.description,
            }),
            "description",
          ),
        ),
      ],
      () => save(item, draft),
    );
  }

  function itemRow(item, numbers) {
    const siblings = items.filter((i) => i.parent_id === item.parent_id);
    const index = siblings.indexOf(item);
    const meta = [];
    if (item.presenter_name) {
      meta.push(t("console.agenda.presenter", { name: item.presenter_name }));
    }
    if (item.minutes_budget) {
      meta.push(t("console.agenda.budget", { minutes: item.minutes_budget }));
    }
    const row = h(
      "li",
      {
        class: item.parent_id === null ? "agenda-item" : "agenda-item sub",
        dataset: { itemId: String(item.id), state: item.state },
      },
      h(
        "div",
        { class: "row-main" },
        h("span", { class: "num", text: `${numbers.get(item.id)}.` }),
        h(
          "div",
          { class: "row-text" },
          h("span", { class: "row-title", text: item.title }),
          meta.length ? h("span", { class: "row-meta", text: meta.join(" · ") }) : null,
          item.description ? h("span", { class: "row-meta", text: item.description }) : null,
        ),
        h("span", { class: `badge agenda-${item.state}`, text: stateText(item.state) }),
      ),
    );
    if (!canEdit) {
      return row;
    }
    const draft = rows.draftOf(item.id);
    if (draft) {
      row.append(editForm(item, draft));
      return row;
    }
    const button = rows.buttons(item.id);
    const [remove, ...confirm] = rows.deleteStep(
      item.id,
      t("console.agenda.delete_label", { title: item.title }),
      t("console.agenda.delete_confirm", { title: item.title }),
      () => removeItem(item),
    );
    row.append(
      h(
        "div",
        { class: "row-actions" },
        button(
          "up",
          t("console.agenda.move_up"),
          t("console.agenda.move_up_label", { title: item.title }),
          () => move(item, -1),
          { disabled: index === 0 },
        ),
        button(
          "down",
          t("console.agenda.move_down"),
          t("console.agenda.move_down_label", { title: item.title }),
          () => move(item, 1),
          { disabled: index === siblings.length - 1 },
        ),
        rows.editButton(
          item.id,
          t("console.agenda.edit_label", { title: item.title }),
          {
            title: item.title,
            presenter_name: item.presenter_name,
            minutes_budget: item.minutes_budget ?? "",
            description: item.description,
          },
          `agenda-edit-${item.id}-title`,
        ),
        remove,
      ),
      ...confirm,
    );
    return row;
  }

  function render() {
    const numbers = agendaNumbers(items);
    list.replaceChildren(...items.map((item) => itemRow(item, numbers)));
    empty.hidden = items.length > 0;
    failure.render();
    formFailure.render();
    fillSelect(parent, [option("", t("console.agenda.parent_none")), ...agendaOptions(items)]);
    rows.restoreFocus();
  }

  async function reload() {
    items = await apiGet(`/meetings/${ctx.meetingId}/agenda`);
    ctx.setAgenda(items);
    render();
  }

  function move(item, step) {
    const siblings = items.filter((i) => i.parent_id === item.parent_id).map((i) => i.id);
    const from = siblings.indexOf(item.id);
    const to = from + step;
    if (to < 0 || to >= siblings.length) {
      return;
    }
    [siblings[from], siblings[to]] = [siblings[to], siblings[from]];
    // An item moved to the top or bottom of its level cannot move further that way: keep
    // the focus on the item, on its other move button.
    rows.focusAfter(item.id, ...(step < 0 ? ["up", "down"] : ["down", "up"]));
    return change(
      failure,
      () =>
        api("POST", `/meetings/${ctx.meetingId}/agenda/reorder`, {
          parent_id: item.parent_id,
          item_ids: siblings,
        }),
      { after: () => t("console.agenda.moved", { title: item.title }) },
    );
  }

  function save(item, draft) {
    const body = {
      title: draft.title.trim(),
      presenter_name: draft.presenter_name.trim(),
      minutes_budget: numberOrNull(draft.minutes_budget),
      description: draft.description,
    };
    return change(
      failure,
      async () => {
        await api("PATCH", `/meetings/${ctx.meetingId}/agenda/${item.id}`, body);
        rows.endEdit(item.id);
      },
      { after: () => t("console.agenda.saved", { title: body.title }) },
    );
  }

  function removeItem(item) {
    return change(failure, () => api("DELETE", `/meetings/${ctx.meetingId}/agenda/${item.id}`), {
      after: () => t("console.agenda.deleted", { title: item.title }),
    });
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = form.elements.title;
    if (!required(title, formFailure, () => t("console.agenda.error.title_required"), render)) {
      return;
    }
    const body = {
      title: title.value.trim(),
      presenter_name: form.elements.presenter_name.value.trim(),
      description: form.elements.description.value,
      minutes_budget: numberOrNull(form.elements.minutes_budget.value),
      parent_id: numberOrNull(form.elements.parent_id.value),
    };
    const added = await whileBusy(form.querySelector("#agenda-submit"), () =>
      change(
        formFailure,
        async () => {
          await api("POST", `/meetings/${ctx.meetingId}/agenda`, body);
          form.reset();
        },
        { after: () => t("console.agenda.added", { title: body.title }) },
      ),
    );
    if (added) {
      title.focus();
    }
  });

  ctx.onLanguage(render);
  form.hidden = !canEdit;

  return { load: () => loadSection(reload, failure, render) };
}
