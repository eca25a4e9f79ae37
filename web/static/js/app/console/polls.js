// The console's polls section (biểu quyết): drafts, open and closed polls with their options,
// live ballot count and, once closed, the result. The chair and the secretary (poll.prepare)
// prepare and delete drafts; the chair (poll.conduct) opens and closes them, here or in the room.
//
// Exports:
//   mount(section, ctx)            wire the section; returns {load()} (false: not readable)

import { api, apiGet } from "../api.js";
import { t } from "../i18n.js";
import { Message, changer, required, whileBusy } from "./changes.js";
import { agendaLabel, agendaOptions, fillSelect, h, numberOrNull, option } from "./dom.js";
import { RowControls } from "./rows.js";
import { loadSection } from "./section.js";

function stateText(state) {
  switch (state) {
    case "open":
      return t("console.polls.state.open");
    case "closed":
      return t("console.polls.state.closed");
    default:
      return t("console.polls.state.draft");
  }
}

function kindText(kind) {
  switch (kind) {
    case "single":
      return t("console.polls.kind.single");
    case "multiple":
      return t("console.polls.kind.multiple");
    default:
      return t("console.polls.kind.yes_no_abstain");
  }
}

function majorityText(majority) {
  switch (majority) {
    case "present":
      return t("console.polls.majority.present");
    case "all_members":
      return t("console.polls.majority.all_members");
    case "two_thirds_cast":
      return t("console.polls.majority.two_thirds_cast");
    case "two_thirds_all":
      return t("console.polls.majority.two_thirds_all");
    default:
      return t("console.polls.majority.simple_cast");
  }
}

function outcomeText(outcome) {
  switch (outcome) {
    case "passed":
      return t("console.polls.outcome.passed");
    case "failed":
      return t("console.polls.outcome.failed");
    default:
      return t("console.polls.outcome.invalid");
  }
}

/** Yes/no/abstain options are codes the client names; choice polls carry their own labels. */
function optionLabel(poll, label) {
  if (poll.kind !== "yes_no_abstain") {
    return label;
  }
  switch (label) {
    case "yes":
      return t("console.polls.option.yes");
    case "no":
      return t("console.polls.option.no");
    case "abstain":
      return t("console.polls.option.abstain");
    default:
      return label;
  }
}

/** Wire the polls section; see the module comment. */
export function mount(section, ctx) {
  const list = section.querySelector("#polls-list");
  const empty = section.querySelector("#polls-empty");
  const form = section.querySelector("#poll-form");
  const kind = section.querySelector("#poll-kind");
  const optionsField = section.querySelector("#poll-options-field");
  const limits = section.querySelector("#poll-limits");
  const agendaSelect = section.querySelector("#poll-agenda");
  const submit = section.querySelector("#poll-submit");
  const canPrepare = ctx.can("poll.prepare");
  const canConduct = ctx.can("poll.conduct");
  const failure = new Message(section.querySelector("#polls-error"), () => ({
    conflict: t("console.polls.error.conflict"),
  }));
  const formFailure = new Message(section.querySelector("#poll-form-error"), () => ({
    invalid_input: t("console.polls.error.invalid"),
    conflict: t("console.polls.error.conflict"),
  }));
  const rows = new RowControls(list, "pollId", render);
  const change = changer(reload, render, ctx.announce);

  let polls = [];

  function optionsList(poll) {
    const showVotes = poll.options.some((o) => o.votes !== null) && poll.state !== "draft";
    const total = poll.options.reduce((sum, o) => sum + (o.votes || 0), 0);
    return h(
      "ul",
      { class: "poll-options" },
      poll.options.map((o) => {
        const label = optionLabel(poll, o.label);
        if (!showVotes) {
          return h("li", { text: label });
        }
        const share = total > 0 ? Math.round((o.votes / total) * 100) : 0;
        const bar = h("span", { class: "bar" });
        bar.style.width = `${share}%`;
        return h(
          "li",
          { class: "with-votes" },
          h("span", { class: "option-label", text: label }),
          h("span", { class: "bar-track", "aria-hidden": "true" }, bar),
          h("span", {
            class: "option-votes",
            text: t("console.polls.votes", { votes: o.votes, share }),
          }),
        );
      }),
    );
  }

  function pollRow(poll) {
    const facts = [
      kindText(poll.kind),
      poll.secret ? t("console.polls.secret") : t("console.polls.named"),
      majorityText(poll.majority),
    ];
    if (poll.kind === "multiple") {
      facts.push(t("console.polls.limits", { min: poll.min_choices, max: poll.max_choices }));
    }
    const where = agendaLabel(ctx.agenda, poll.agenda_item_id);
    const row = h(
      "li",
      { class: "poll", dataset: { pollId: String(poll.id), state: poll.state } },
      h(
        "div",
        { class: "row-main" },
        h(
          "div",
          { class: "row-text" },
          h("span", { class: "row-title", text: poll.title }),
          h("span", { class: "row-meta", text: facts.join(" · ") }),
          where
            ? h("span", {
                class: "row-meta",
                text: t("console.documents.for_item", { item: where }),
              })
            : null,
        ),
        h(
          "span",
          { class: "badges" },
          poll.state === "closed" && poll.outcome
            ? h("span", { class: `badge outcome-${poll.outcome}`, text: outcomeText(poll.outcome) })
            : null,
          h("span", { class: `badge poll-${poll.state}`, text: stateText(poll.state) }),
        ),
      ),
      optionsList(poll),
    );
    if (poll.state !== "draft") {
      row.append(
        h("p", {
          class: "row-meta",
          text: t("console.polls.ballots", {
            ballots: poll.ballot_count,
            eligible: poll.present_count,
          }),
        }),
      );
    }
    const button = rows.buttons(poll.id);
    const actions = h("div", { class: "row-actions" });
    if (poll.state === "draft" && canConduct) {
      actions.append(
        button(
          "open",
          t("console.polls.open"),
          t("console.polls.open_label", { title: poll.title }),
          () =>
            change(failure, () => api("POST", `/meetings/${ctx.meetingId}/polls/${poll.id}/open`), {
              after: () => t("console.polls.opened", { title: poll.title }),
            }),
          { class: "small primary" },
        ),
      );
    }
    if (poll.state === "open" && canConduct) {
      actions.append(
        button(
          "close",
          t("console.polls.close"),
          t("console.polls.close_label", { title: poll.title }),
          () =>
            change(
              failure,
              () => api("POST", `/meetings/${ctx.meetingId}/polls/${poll.id}/close`),
              { after: () => t("console.polls.closed", { title: poll.title }) },
            ),
        ),
      );
    }
    let confirm = [];
    if (poll.state === "draft" && canPrepare) {
      const [remove, ...group] = rows.deleteStep(
        poll.id,
        t("console.polls.delete_label", { title: poll.title }),
        t("console.polls.delete_confirm", { title: poll.title }),
        () =>
          change(failure, () => api("DELETE", `/meetings/${ctx.meetingId}/polls/${poll.id}`), {
            after: () => t("console.polls.deleted", { title: poll.title }),
          }),
      );
      actions.append(remove);
      confirm = group;
    }
    if (actions.childElementCount > 0) {
      row.append(actions);
    }
    row.append(...confirm);
    return row;
  }

  function renderForm() {
    optionsField.hidden = kind.value === "yes_no_abstain";
    limits.hidden = kind.value !== "multiple";
    fillSelect(agendaSelect, [
      option("", t("console.documents.whole_meeting")),
      ...agendaOptions(ctx.agenda),
    ]);
  }

  function render() {
    list.replaceChildren(...polls.map(pollRow));
    empty.hidden = polls.length > 0;
    failure.render();
    formFailure.render();
    renderForm();
    rows.restoreFocus();
  }

  async function reload() {
    polls = await apiGet(`/meetings/${ctx.meetingId}/polls`);
    render();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const title = form.elements.title;
    if (!required(title, formFailure, () => t("console.polls.error.title_required"), render)) {
      return;
    }
    const body = {
      title: title.value.trim(),
      kind: kind.value,
      majority: form.elements.majority.value,
      agenda_item_id: numberOrNull(agendaSelect.value),
      secret: form.elements.secret.checked,
      quorum_required: form.elements.quorum_required.checked,
      allow_change: form.elements.allow_change.checked,
    };
    if (kind.value !== "yes_no_abstain") {
      body.options = form.elements.options.value
        .split("\n")
        .map((line) => line.trim())
        .filter(Boolean);
    }
    if (kind.value === "multiple") {
      const min = numberOrNull(form.elements.min_choices.value);
      const max = numberOrNull(form.elements.max_choices.value);
      if (min !== null) {
        body.min_choices = min;
      }
      if (max !== null) {
        body.max_choices = max;
      }
    }
    await whileBusy(submit, () =>
      change(
        formFailure,
        async () => {
          await api("POST", `/meetings/${ctx.meetingId}/polls`, body);
          form.reset();
        },
        { after: () => t("console.polls.added", { title: body.title }) },
      ),
    );
  });

  kind.addEventListener("change", renderForm);
  ctx.onLanguage(render);
  ctx.onAgenda(render);
  form.hidden = !canPrepare;

  return { load: () => loadSection(reload, failure, render) };
}
