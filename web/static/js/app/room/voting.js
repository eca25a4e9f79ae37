// The meeting room's voting panel (biểu quyết).
//
// Everyone sees the meeting's open and closed polls (and, for those who prepare them, the
// drafts). An eligible voter (an account on the poll's voter list, taken from the members
// present when it opened) gets the question with its options, single or multiple choice as
// the poll says, "Biểu quyết", then a confirm step naming the choice, then a receipt with
// the time the server acknowledged the ballot; the server's refusals are translated. Others
// see the poll and its live progress only. Progress is counts only (ballots / eligible, from
// `poll.counts`), never who chose what. A closed poll shows its result as bars (chart.js) and
// its outcome. The chair (poll.conduct) opens drafts, closes the open poll after a confirm
// step, and may prepare a quick draft here (the secretary's console is the full editor).
//
// State comes from REST (GET /meetings/{id}/polls, and the voter list of an open poll to
// know whether this participant may vote) on mount and resync, then from poll.opened,
// poll.closed and poll.counts.
//
// Exports:
//   optionLabel(poll, option)      an option's label (yes/no/abstain codes translated)
//   choiceHint(poll)               "choose one" / "choose 1 to 3 options" in words
//   mount(root, room)              render into root; returns {resync()}

import { locale, t } from "../i18n.js";
import { renderChart } from "./chart.js";
import { button, element } from "./elements.js";
import { refusalText } from "./refusal.js";

const STATE_ORDER = { open: 0, draft: 1, closed: 2 };
let instances = 0;

/**
 * An option's label as voters read it: a yes/no/abstain poll's labels are codes.
 * @param {{kind: string}} poll
 * @param {{label: string}} option
 * @returns {string}
 */
export function optionLabel(poll, option) {
  if (poll.kind === "yes_no_abstain") {
    if (option.label === "yes") return t("voting.option.yes");
    if (option.label === "no") return t("voting.option.no");
    if (option.label === "abstain") return t("voting.option.abstain");
  }
  return option.label;
}

/**
 * How many options a ballot takes, in words.
 * @param {{kind: string, min_choices: number, max_choices: number}} poll
 * @returns {string}
 */
export function choiceHint(poll) {
  if (poll.kind !== "multiple") {
    return t("voting.hint.single");
  }
  if (poll.min_choices === poll.max_choices) {
    return t("voting.hint.exactly", { count: poll.max_choices });
  }
  if (poll.min_choices === 0) {
    return t("voting.hint.at_most", { max: poll.max_choices });
  }
  return t("voting.hint.range", { min: poll.min_choices, max: poll.max_choices });
}

function stateLabel(state) {
  if (state === "open") return t("voting.state.open");
  if (state === "draft") return t("voting.state.draft");
  return t("voting.state.closed");
}

function outcomeLabel(outcome) {
  if (outcome === "passed") return t("voting.outcome.passed");
  if (outcome === "failed") return t("voting.outcome.failed");
  return t("voting.outcome.invalid");
}

function majorityLabel(majority) {
  switch (majority) {
    case "present":
      return t("voting.majority.present");
    case "all_members":
      return t("voting.majority.all_members");
    case "two_thirds_cast":
      return t("voting.majority.two_thirds_cast");
    case "two_thirds_all":
      return t("voting.majority.two_thirds_all");
    default:
      return t("voting.majority.simple_cast");
  }
}

function timeText(date) {
  return new Intl.DateTimeFormat(locale(), {
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hour12: false,
  }).format(date);
}

/**
 * Render the voting panel into `root`.
 * @param {HTMLElement} root the panel's (empty) tabpanel
 * @param {object} room the RoomContext (see room_contract: meetingId, self, can, on, call, api)
 * @returns {{resync: () => Promise<void>}}
 */
export function mount(root, room) {
  const id = `voting-${++instances}`;
  const canConduct = room.can("poll.conduct");
  const canPrepare = room.can("poll.prepare");
  const mayVote = room.can("vote.cast") && room.self.kind === "account";
  const entries = new Map(); // poll id → entry (see track())
  let loaded = false;
  let listFailure = null;

  // ---- the skeleton ----
  root.classList.add("proceedings", "voting-panel");
  const heading = element("h2", "visually-hidden", t("voting.heading"));
  heading.id = `${id}-heading`;
  heading.dataset.i18n = "voting.heading";
  const status = element("p", "notice");
  status.setAttribute("role", "status");
  const listError = element("p", "error");
  listError.setAttribute("role", "alert");
  listError.hidden = true;
  const list = element("div", "voting-list");
  const empty = element("p", "empty", t("voting.empty"));
  empty.dataset.i18n = "voting.empty";
  empty.hidden = true;
  const parts = [heading, status, listError];
  if (canConduct && canPrepare) {
    parts.push(newPollForm());
  }
  parts.push(list, empty);
  root.replaceChildren(...parts);

  // ---- state ----

  /** The entry of a poll, made on first sight; later bodies update `poll` only. */
  function track(poll) {
    let entry = entries.get(poll.id);
    if (entry === undefined) {
      entry = {
        poll,
        ballots: poll.ballot_count,
        eligible: poll.present_count,
        voter: mayVote ? null : false, // null: not known yet
        voted: poll.has_voted === true,
        selection: new Set(),
        step: "choose", // "choose" | "confirm"
        changing: false, // re-voting a poll that allows a change
        receiptAt: null,
        failure: null, // {error, message()}: the last refusal, re-read on a language switch
        closing: false, // the chair's confirm step before closing
        busy: false,
        card: null,
        progress: null,
      };
      entries.set(poll.id, entry);
    } else {
      entry.poll = poll;
      if (poll.has_voted === true) {
        entry.voted = true;
      }
      if (poll.state !== "open" || entry.ballots < poll.ballot_count) {
        entry.ballots = poll.ballot_count;
      }
      entry.eligible = poll.present_count;
    }
    if (poll.state === "open" && poll.has_voted === true) {
      entry.voter = true;
    }
    return entry;
  }

  /** Whether this participant is on an open poll's voter list (and has voted). */
  async function checkVoter(entry) {
    if (!mayVote || entry.poll.state !== "open" || entry.voter === true) {
      return;
    }
    try {
      const voters = await room.api.apiGet(
        `/meetings/${room.meetingId}/polls/${entry.poll.id}/voters`,
      );
      const me = voters.find((v) => v.account_id === room.self.id);
      entry.voter = me !== undefined;
      entry.voted = entry.voted || (me !== undefined && me.has_voted);
    } catch (caught) {
      entry.voter = null;
      entry.failure = { error: caught, message: () => refusalText(caught) };
    }
  }

  // ---- rendering ----

  function sorted() {
    return [...entries.values()].sort((a, b) => {
      const order = STATE_ORDER[a.poll.state] - STATE_ORDER[b.poll.state];
      if (order !== 0) return order;
      // Closed: the latest first; the others in the order they were made.
      return a.poll.state === "closed" ? b.poll.id - a.poll.id : a.poll.id - b.poll.id;
    });
  }

  function renderList() {
    status.textContent = loaded ? "" : t("voting.loading");
    listError.hidden = listFailure === null;
    listError.textContent = listFailure === null ? "" : refusalText(listFailure);
    for (const entry of entries.values()) {
      if (entry.card === null) {
        renderCard(entry);
      }
    }
    const shown = sorted();
    const focused = list.contains(document.activeElement) ? document.activeElement : null;
    const moved = shown.some((entry, index) => list.children[index] !== entry.card);
    if (moved || list.children.length !== shown.length) {
      list.replaceChildren(...shown.map((entry) => entry.card));
    }
    if (focused !== null && focused.isConnected && document.activeElement !== focused) {
      focused.focus(); // moving a card in the list drops focus
    }
    empty.hidden = !loaded || shown.length > 0;
  }

  function renderAll() {
    for (const entry of entries.values()) {
      renderCard(entry);
    }
    renderList();
  }

  function updateProgress(entry) {
    if (entry.progress === null) {
      return;
    }
    const { text, bar } = entry.progress;
    text.textContent = t("voting.progress", { ballots: entry.ballots, eligible: entry.eligible });
    bar.max = Math.max(entry.eligible, 1);
    bar.value = Math.min(entry.ballots, bar.max);
  }

  /** (Re)build one poll's card, keeping keyboard focus on the same control if it survives. */
  function renderCard(entry, focusKey = null) {
    const old = entry.card;
    let keep = focusKey;
    if (keep === null && old && old.contains(document.activeElement)) {
      keep = document.activeElement.dataset.focus || null;
    }
    const card = buildCard(entry);
    entry.card = card;
    if (old && old.parentNode) {
      old.replaceWith(card);
    }
    if (keep !== null) {
      const target = card.querySelector(`[data-focus="${keep}"]`);
      if (target && !target.disabled) {
        target.focus();
      }
    }
  }

  function buildCard(entry) {
    const { poll } = entry;
    const card = element("article", "poll-card");
    card.dataset.pollId = String(poll.id);
    card.dataset.state = poll.state;
    const titleId = `${id}-poll-${poll.id}`;
    card.setAttribute("aria-labelledby", titleId);

    const head = element("div", "poll-head section-head");
    const title = element("h3", "poll-title", poll.title);
    title.id = titleId;
    title.tabIndex = -1; // focus lands here when the card changes under the chair's hand
    title.dataset.focus = "title";
    const badge = element("span", `badge poll-state-${poll.state}`, stateLabel(poll.state));
    head.append(title, badge);
    card.append(head);
    if (poll.description) {
      card.append(element("p", "poll-description", poll.description));
    }
    const meta = element("p", "poll-meta");
    meta.textContent = [
      poll.secret ? t("voting.secret") : t("voting.named"),
      choiceHint(poll),
    ].join(" · ");
    card.append(meta);

    entry.progress = null;
    if (poll.state === "draft") {
      card.append(draftBody(entry));
    } else if (poll.state === "open") {
      card.append(progressBody(entry), ...openBody(entry));
    } else {
      card.append(...closedBody(entry));
    }
    if (entry.failure !== null) {
      const error = element("p", "error", entry.failure.message());
      error.setAttribute("role", "alert");
      card.append(error);
    }
    return card;
  }

  function draftBody(entry) {
    const body = element("div", "poll-body");
    const options = element("ul", "poll-options-preview");
    for (const option of entry.poll.options) {
      options.append(element("li", "", optionLabel(entry.poll, option)));
    }
    body.append(options);
    if (canConduct) {
      const open = button(t("voting.open"), "primary", { focus: "open" });
      open.disabled = entry.busy;
      open.addEventListener("click", () => openPoll(entry));
      body.append(open);
    }
    return body;
  }

  function progressBody(entry) {
    const body = element("div", "poll-progress");
    const text = element("p", "poll-progress-text");
    text.setAttribute("role", "status"); // polite: a count changing is not an interruption
    text.setAttribute("aria-atomic", "true");
    const bar = element("progress");
    bar.setAttribute("aria-label", t("voting.progress_label"));
    body.append(text, bar);
    entry.progress = { text, bar };
    updateProgress(entry);
    return body;
  }

  function openBody(entry) {
    const parts = [];
    if (entry.voter === true && (!entry.voted || entry.changing)) {
      parts.push(entry.step === "confirm" ? confirmStep(entry) : ballotForm(entry));
    } else if (entry.voted) {
      parts.push(receipt(entry));
    } else if (entry.voter === false) {
      parts.push(element("p", "notice", t("voting.observer")));
    }
    if (canConduct) {
      parts.push(closeControls(entry));
    }
    return parts;
  }

  function ballotForm(entry) {
    const { poll } = entry;
    const form = element("form", "poll-ballot");
    form.noValidate = true;
    const fieldset = element("fieldset");
    const legend = element("legend", "", choiceHint(poll));
    fieldset.append(legend);
    const multiple = poll.kind === "multiple";
    for (const option of poll.options) {
      const inputId = `${id}-poll-${poll.id}-option-${option.id}`;
      const row = element("div", "poll-option");
      const input = element("input");
      input.type = multiple ? "checkbox" : "radio";
      input.name = `${id}-poll-${poll.id}`;
      input.id = inputId;
      input.value = String(option.id);
      input.checked = entry.selection.has(option.id);
      input.dataset.focus = `option:${option.id}`;
      input.addEventListener("change", () => {
        if (!multiple) {
          entry.selection.clear();
        }
        if (input.checked) {
          entry.selection.add(option.id);
        } else {
          entry.selection.delete(option.id);
        }
      });
      const label = element("label", "", optionLabel(poll, option));
      label.htmlFor = inputId;
      row.append(input, label);
      fieldset.append(row);
    }
    const actions = element("div", "poll-actions");
    const submit = element("button", "primary", t("voting.vote"));
    submit.type = "submit";
    submit.dataset.focus = "vote";
    submit.disabled = entry.busy;
    actions.append(submit);
    if (entry.changing) {
      const cancel = button(t("voting.back"), "", { focus: "cancel-change" });
      cancel.addEventListener("click", () => {
        entry.changing = false;
        entry.failure = null;
        renderCard(entry, "change");
      });
      actions.append(cancel);
    }
    form.append(fieldset, actions);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const count = entry.selection.size;
      const low = multiple ? poll.min_choices : 1;
      const high = multiple ? poll.max_choices : 1;
      if (count < low || count > high) {
        entry.failure = {
          error: null,
          message: () =>
            multiple
              ? t("voting.error.choose_range", { min: low, max: high })
              : t("voting.error.choose_one"),
        };
        renderCard(entry, "vote");
        return;
      }
      entry.failure = null;
      entry.step = "confirm";
      renderCard(entry, "confirm-question");
    });
    return form;
  }

  function chosenText(entry) {
    const labels = entry.poll.options
      .filter((o) => entry.selection.has(o.id))
      .map((o) => optionLabel(entry.poll, o));
    return labels.length > 0 ? labels.join(", ") : t("voting.blank");
  }

  /**
   * A confirm step's question, focusable by `focusKey` (the focus lands on it), and its
   * actions: `yes` and `back`, each [button, onClick], both off while a call is under way.
   * @returns {[HTMLElement, HTMLElement]} the question and the actions
   */
  function askFirst(entry, text, focusKey, yes, back) {
    const question = element("p", "poll-confirm-question", text);
    question.tabIndex = -1;
    question.dataset.focus = focusKey;
    const actions = element("div", "poll-actions");
    for (const [control, onClick] of [yes, back]) {
      control.disabled = entry.busy;
      control.addEventListener("click", onClick);
      actions.append(control);
    }
    return [question, actions];
  }

  function confirmStep(entry) {
    const box = element("div", "poll-confirm");
    box.setAttribute("role", "group");
    const [question, actions] = askFirst(
      entry,
      t("voting.confirm.question", { choice: chosenText(entry) }),
      "confirm-question",
      [button(t("voting.confirm.yes"), "primary", { focus: "confirm" }), () => castVote(entry)],
      [
        button(t("voting.back"), "", { focus: "back" }),
        () => {
          entry.step = "choose";
          renderCard(entry, "vote");
        },
      ],
    );
    question.id = `${id}-poll-${entry.poll.id}-confirm`;
    box.setAttribute("aria-labelledby", question.id);
    box.append(question, actions);
    return box;
  }

  function receipt(entry) {
    const box = element("div", "poll-receipt");
    const text = element("p", "poll-receipt-text");
    text.tabIndex = -1;
    text.dataset.focus = "receipt";
    text.setAttribute("role", "status");
    text.textContent =
      entry.receiptAt === null
        ? t("voting.receipt.voted")
        : t("voting.receipt.at", { time: timeText(entry.receiptAt) });
    box.append(text);
    if (entry.poll.allow_change && entry.voter === true) {
      const change = button(t("voting.change"), "", { focus: "change" });
      change.addEventListener("click", () => {
        entry.changing = true;
        entry.step = "choose";
        entry.failure = null;
        renderCard(entry, "vote");
      });
      box.append(change);
    }
    return box;
  }

  function closeControls(entry) {
    const box = element("div", "poll-conduct");
    if (!entry.closing) {
      const close = button(t("voting.close"), "danger", { focus: "close" });
      close.disabled = entry.busy;
      close.addEventListener("click", () => {
        entry.closing = true;
        renderCard(entry, "close-question");
      });
      box.append(close);
      return box;
    }
    box.append(
      ...askFirst(
        entry,
        t("voting.close_confirm"),
        "close-question",
        [button(t("voting.close_yes"), "danger", { focus: "close-yes" }), () => closePoll(entry)],
        [
          button(t("voting.back"), "", { focus: "close-back" }),
          () => {
            entry.closing = false;
            renderCard(entry, "close");
          },
        ],
      ),
    );
    return box;
  }

  function closedBody(entry) {
    const { poll } = entry;
    const result = poll.result;
    const parts = [];
    const ballots = result ? result.ballots : poll.ballot_count;
    const eligible = result ? result.eligible : poll.present_count;
    const rows = (result ? result.options : poll.options).map((o) => ({
      id: o.id,
      label: optionLabel(poll, o),
      count: o.votes ?? 0,
      passed: Boolean(o.passed),
    }));
    if (poll.outcome) {
      const outcome = element("p", `poll-outcome outcome-${poll.outcome}`);
      outcome.textContent = t("voting.outcome", { outcome: outcomeLabel(poll.outcome) });
      parts.push(outcome);
    }
    parts.push(
      element("p", "poll-tally", t("voting.tally", { ballots, eligible })),
      renderChart({
        caption: t("voting.chart.caption", { title: poll.title }),
        base: ballots,
        rows,
      }),
      element("p", "poll-rule", t("voting.rule", { rule: majorityLabel(poll.majority) })),
    );
    return parts;
  }

  // ---- actions ----

  const voteRefusals = () => ({
    already_voted: t("voting.error.already_voted"),
    not_eligible: t("voting.error.not_eligible"),
    poll_not_open: t("voting.error.poll_not_open"),
    invalid_input: t("voting.error.invalid_choice"),
    forbidden: t("voting.error.forbidden"),
  });

  async function act(entry, operation, overrides, focusKey) {
    entry.busy = true;
    entry.failure = null;
    renderCard(entry, focusKey);
    try {
      return await operation();
    } catch (caught) {
      entry.failure = { error: caught, message: () => refusalText(caught, overrides()) };
      return null;
    } finally {
      entry.busy = false;
    }
  }

  async function castVote(entry) {
    const choices = [...entry.selection];
    const ack = await act(
      entry,
      () => room.call("vote.cast", { poll_id: entry.poll.id, choices }),
      voteRefusals,
      "confirm",
    );
    entry.step = "choose";
    const refusal = entry.failure && entry.failure.error ? entry.failure.error.code : null;
    if (ack) {
      entry.voted = true;
      entry.changing = false;
      entry.receiptAt = new Date();
    } else if (refusal === "already_voted") {
      entry.voted = true; // from another device, say: the form goes, the refusal stays
      entry.changing = false;
    } else if (refusal === "not_eligible") {
      entry.voter = false;
    }
    renderCard(entry, entry.voted && !entry.changing ? "receipt" : "vote");
  }

  async function openPoll(entry) {
    const poll = await act(
      entry,
      () => room.api.apiPost(`/meetings/${room.meetingId}/polls/${entry.poll.id}/open`),
      () => ({
        conflict: t("voting.error.not_live"),
        poll_not_open: t("voting.error.not_draft"),
      }),
      "open",
    );
    if (poll) {
      await arrived(poll, false);
      renderCard(entry, "close");
    } else {
      renderCard(entry, "open");
    }
  }

  async function closePoll(entry) {
    const poll = await act(
      entry,
      () => room.api.apiPost(`/meetings/${room.meetingId}/polls/${entry.poll.id}/close`),
      () => ({ poll_not_open: t("voting.error.already_closed") }),
      "close-yes",
    );
    entry.closing = false;
    if (poll) {
      track(poll);
      renderList();
    }
    renderCard(entry, "title");
  }

  // ---- the chair's quick draft ----

  function newPollForm() {
    const details = element("details", "voting-new");
    const summary = element("summary", "", t("voting.new.heading"));
    summary.dataset.i18n = "voting.new.heading";
    const form = element("form", "voting-new-form");
    form.noValidate = true;

    function field(control) {
      const wrap = element("div", "field");
      const label = element("label");
      label.htmlFor = control.id;
      wrap.append(label, control);
      return wrap;
    }

    const title = element("input");
    title.id = `${id}-new-title`;
    title.type = "text";
    title.maxLength = 500;
    title.required = true;
    const titleField = field(title);
    const kind = element("select");
    kind.id = `${id}-new-kind`;
    for (const value of ["yes_no_abstain", "single", "multiple"]) {
      const option = element("option");
      option.value = value;
      kind.append(option);
    }
    const kindField = field(kind);
    const options = element("textarea");
    options.id = `${id}-new-options`;
    options.rows = 4;
    const optionsField = field(options);
    optionsField.hidden = true;
    const secretWrap = element("div", "checkbox-field");
    const secret = element("input");
    secret.type = "checkbox";
    secret.id = `${id}-new-secret`;
    const secretLabel = element("label");
    secretLabel.htmlFor = secret.id;
    secretWrap.append(secret, secretLabel);
    const error = element("p", "error");
    error.setAttribute("role", "alert");
    error.hidden = true;
    const submit = element("button", "primary");
    submit.type = "submit";
    let problem = null; // () => the form's complaint, re-read on a language switch

    function texts() {
      summary.textContent = t("voting.new.heading");
      titleField.querySelector("label").textContent = t("voting.new.title");
      kindField.querySelector("label").textContent = t("voting.new.kind");
      kind.options[0].textContent = t("voting.kind.yes_no_abstain");
      kind.options[1].textContent = t("voting.kind.single");
      kind.options[2].textContent = t("voting.kind.multiple");
      optionsField.querySelector("label").textContent = t("voting.new.options");
      secretLabel.textContent = t("voting.new.secret");
      submit.textContent = t("voting.new.submit");
      error.textContent = problem === null ? "" : problem();
      error.hidden = problem === null;
    }

    kind.addEventListener("change", () => {
      optionsField.hidden = kind.value === "yes_no_abstain";
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const labels = options.value
        .split("\n")
        .map((line) => line.trim())
        .filter(Boolean);
      problem = null;
      title.setAttribute("aria-invalid", String(!title.value.trim()));
      options.setAttribute(
        "aria-invalid",
        String(kind.value !== "yes_no_abstain" && labels.length < 2),
      );
      if (!title.value.trim()) {
        problem = () => t("voting.new.error.title");
      } else if (kind.value !== "yes_no_abstain" && labels.length < 2) {
        problem = () => t("voting.new.error.options");
      } else {
        submit.disabled = true;
        try {
          const poll = await room.api.apiPost(`/meetings/${room.meetingId}/polls`, {
            title: title.value.trim(),
            kind: kind.value,
            options: kind.value === "yes_no_abstain" ? [] : labels,
            secret: secret.checked,
          });
          track(poll);
          renderList();
          form.reset();
          optionsField.hidden = true;
          details.open = false;
          room.toast(t("voting.toast.drafted", { title: poll.title }));
          const open = entries.get(poll.id).card.querySelector('[data-focus="open"]');
          if (open) {
            open.focus();
          }
        } catch (caught) {
          problem = () => refusalText(caught);
        } finally {
          submit.disabled = false;
        }
      }
      texts();
    });
    form.append(titleField, kindField, optionsField, secretWrap, error, submit);
    texts();
    room.onLanguage(texts);
    details.append(summary, form);
    return details;
  }

  // ---- events ----

  /** A poll body from an event or an answer: track it, learn whether we vote, show it. */
  async function arrived(poll, announce) {
    const entry = track(poll);
    if (poll.state === "open") {
      await checkVoter(entry);
    }
    renderCard(entry);
    renderList();
    if (entry.poll.state !== poll.state) {
      return; // it moved on (closed) while we asked about the voter list: that one announces
    }
    if (announce && poll.state === "open") {
      room.toast(t("voting.toast.opened", { title: poll.title }));
      room.attention("voting", { show: entry.voter === true && !entry.voted });
    } else if (announce && poll.state === "closed") {
      room.toast(t("voting.toast.closed", { title: poll.title }));
      room.attention("voting", { show: false });
    }
  }

  room.on("poll.opened", (data) => arrived(data.poll, true));
  room.on("poll.closed", (data) => arrived(data.poll, true));
  room.on("poll.counts", (data) => {
    const entry = entries.get(data.poll_id);
    if (entry === undefined || entry.poll.state !== "open") {
      return;
    }
    entry.ballots = Math.max(entry.ballots, data.ballots); // counts only grow while open
    entry.eligible = data.eligible;
    updateProgress(entry);
  });
  room.onLanguage(renderAll);

  async function resync() {
    try {
      const polls = await room.api.apiGet(`/meetings/${room.meetingId}/polls`);
      const seen = new Set(polls.map((p) => p.id));
      for (const known of [...entries.keys()]) {
        if (!seen.has(known)) {
          entries.delete(known); // a draft deleted meanwhile
        }
      }
      const entriesNow = polls.map(track);
      await Promise.all(entriesNow.map(checkVoter));
      loaded = true;
      listFailure = null;
    } catch (caught) {
      listFailure = caught;
    }
    renderAll();
  }

  renderList();
  resync();
  return { resync };
}
