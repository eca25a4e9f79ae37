// The console's minutes section (biên bản): the draft pre-filled from the meeting, where the
// chair and the secretary (minutes.edit) fill in the heading fields and the account of the
// meeting, save (naming the version they started from) and submit it; the chair
// (minutes.approve) approves submitted minutes; approved minutes offer their PDF and, for hosts
// (minutes.archive), the meeting's archive ZIP. The state is shared through ctx.setMinutes.
//
// Exports:
//   mount(section, ctx)            wire the section; returns {load()} (false: not readable)

import { API_BASE, api, apiGet } from "../api.js";
import { t } from "../i18n.js";
import { Message } from "./changes.js";
import { formatBytes, formatDateTime, h } from "./dom.js";
import { loadSection } from "./section.js";

const HEADING_FIELDS = ["organisation", "location", "chair", "secretary"];

function stateText(state) {
  switch (state) {
    case "submitted":
      return t("console.minutes.state.submitted");
    case "approved":
      return t("console.minutes.state.approved");
    default:
      return t("console.minutes.state.draft");
  }
}

function overrides() {
  return {
    conflict: t("console.minutes.error.conflict"),
    minutes_locked: t("console.minutes.error.locked"),
  };
}

/** Wire the minutes section; see the module comment. */
export function mount(section, ctx) {
  const stateLine = section.querySelector("#minutes-state");
  const status = section.querySelector("#minutes-status");
  const links = section.querySelector("#minutes-links");
  const pdf = section.querySelector("#minutes-pdf");
  const archive = section.querySelector("#minutes-archive");
  const hash = section.querySelector("#minutes-hash");
  const form = section.querySelector("#minutes-form");
  const text = section.querySelector("#minutes-text");
  const summary = section.querySelector("#minutes-summary");
  const prefillLive = section.querySelector("#minutes-prefill-live");
  const prefillFrozen = section.querySelector("#minutes-prefill-frozen");
  const saveButton = section.querySelector("#minutes-save");
  const submitButton = section.querySelector("#minutes-submit");
  const approveBox = section.querySelector("#minutes-approve-box");
  const approveButton = section.querySelector("#minutes-approve");
  const canEdit = ctx.can("minutes.edit");
  const canApprove = ctx.can("minutes.approve");
  const failure = new Message(section.querySelector("#minutes-error"), overrides);

  let minutes = null;
  let dirty = false;
  let busy = false;
  let outcome = null; // () => the last action's result, re-translated on a language switch

  function fill() {
    const info = minutes.sections.meeting;
    for (const name of HEADING_FIELDS) {
      form.elements[name].value = info[name] || "";
    }
    text.value = minutes.free_text;
    dirty = false;
  }

  function summaryItems() {
    const s = minutes.sections;
    return [
      t("console.minutes.summary.attendance", {
        present: s.attendance.present,
        members: s.attendance.members,
      }),
      t("console.minutes.summary.agenda", { count: s.agenda.length }),
      t("console.minutes.summary.documents", { count: s.documents.length }),
      t("console.minutes.summary.speakers", { count: s.speakers.length }),
      t("console.minutes.summary.polls", { count: s.polls.length }),
      t("console.minutes.summary.conclusions", { count: s.conclusions.length }),
    ].map((line) => h("li", { text: line }));
  }

  function render() {
    failure.render();
    status.textContent = outcome ? outcome() : "";
    if (minutes === null) {
      return;
    }
    const parts = [
      h("span", { class: `badge minutes-${minutes.state}`, text: stateText(minutes.state) }),
    ];
    if (minutes.version === 0) {
      parts.push(h("span", { text: t("console.minutes.unsaved") }));
    } else {
      parts.push(h("span", { text: t("console.minutes.version", { version: minutes.version }) }));
      if (minutes.updated_at) {
        parts.push(
          h("span", {
            text: t("console.minutes.updated_at", { time: formatDateTime(minutes.updated_at) }),
          }),
        );
      }
    }
    if (minutes.state === "approved" && minutes.approved_at) {
      parts.push(
        h("span", {
          text: t("console.minutes.approved_at", { time: formatDateTime(minutes.approved_at) }),
        }),
      );
    }
    stateLine.replaceChildren(...parts);

    const approved = minutes.state === "approved";
    form.hidden = !canEdit || approved;
    summary.replaceChildren(...summaryItems());
    prefillLive.hidden = minutes.version !== 0;
    prefillFrozen.hidden = minutes.version === 0;
    saveButton.disabled = busy;
    submitButton.disabled = busy || minutes.state !== "draft";
    approveBox.hidden = !(canApprove && minutes.state === "submitted");
    approveButton.disabled = busy;

    links.hidden = !approved;
    hash.hidden = !approved;
    if (approved) {
      pdf.href = `${API_BASE}/meetings/${ctx.meetingId}/minutes/pdf`;
      archive.href = `${API_BASE}/meetings/${ctx.meetingId}/archive.zip`;
      archive.hidden = !ctx.can("minutes.archive");
      hash.textContent = t("console.minutes.hash", {
        sha256: minutes.pdf_sha256 || "",
        size: formatBytes(minutes.pdf_size || 0),
      });
      if (minutes.signed) {
        const signed = t("console.minutes.signed", { subject: minutes.signer_subject || "" });
        hash.textContent += ` · ${signed}`;
      }
    }
  }

  function show(answer) {
    minutes = answer;
    ctx.setMinutes(minutes.state);
    render();
  }

  async function reload() {
    show(await apiGet(`/meetings/${ctx.meetingId}/minutes`));
    fill();
  }

  function draftBody() {
    const sections = structuredClone(minutes.sections);
    for (const name of HEADING_FIELDS) {
      sections.meeting[name] = form.elements[name].value.trim();
    }
    return { version: minutes.version, sections, free_text: text.value };
  }

  async function save() {
    if (minutes.version === 0) {
      // The first save stores the pre-filled sections: take them from the meeting as it is
      // now (agenda, documents, conclusions... added since this page loaded), not as it was.
      const fresh = await apiGet(`/meetings/${ctx.meetingId}/minutes`);
      if (fresh.version === 0) {
        minutes = { ...minutes, sections: fresh.sections };
      }
    }
    const saved = await api("PUT", `/meetings/${ctx.meetingId}/minutes`, draftBody());
    dirty = false;
    show(saved);
    return saved;
  }

  async function run(work, done) {
    busy = true;
    failure.say(null);
    outcome = null;
    render();
    try {
      await work();
      outcome = done;
    } catch (error) {
      failure.fail(error);
    } finally {
      busy = false;
      render();
    }
  }

  form.addEventListener("input", () => {
    dirty = true;
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    run(save, () => t("console.minutes.saved", { version: minutes.version }));
  });

  submitButton.addEventListener("click", () =>
    run(
      async () => {
        if (dirty || minutes.version === 0) {
          await save();
        }
        show(
          await api("POST", `/meetings/${ctx.meetingId}/minutes/submit`, {
            version: minutes.version,
          }),
        );
      },
      () => t("console.minutes.submitted"),
    ),
  );

  approveButton.addEventListener("click", async () => {
    await run(
      async () =>
        show(
          await api("POST", `/meetings/${ctx.meetingId}/minutes/approve`, {
            version: minutes.version,
          }),
        ),
      () => t("console.minutes.approved"),
    );
    if (minutes.state === "approved") {
      pdf.focus(); // the approve button is gone; the PDF is what the chair wants next
    }
  });

  ctx.onLanguage(render);

  return { load: () => loadSection(reload, failure, render) };
}
