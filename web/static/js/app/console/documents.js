// The console's documents section: the meeting's documents (drafts too for hosts) with their
// current version; hosts (document.manage) upload a PDF to an agenda item or the whole meeting
// and new versions of a document (with a progress bar), publish now or at a time, cancel a
// scheduled publication, and see who has opened each document (read receipts).
//
// Exports:
//   mount(section, ctx)            wire the section; returns {load()} (false: not readable)

import { API_BASE, api, apiGet, errorMessage } from "../api.js";
import { t } from "../i18n.js";
import { Message, changer } from "./changes.js";
import {
  agendaLabel,
  agendaOptions,
  field,
  fillSelect,
  formatBytes,
  formatDateTime,
  h,
  option,
  showMessage,
} from "./dom.js";
import { RowControls } from "./rows.js";
import { loadSection } from "./section.js";
import { uploadErrorMessage, uploadPdf } from "./upload.js";

function stateText(state) {
  switch (state) {
    case "published":
      return t("console.documents.state.published");
    case "scheduled":
      return t("console.documents.state.scheduled");
    default:
      return t("console.documents.state.draft");
  }
}

/** Wire the documents section; see the module comment. */
export function mount(section, ctx) {
  const list = section.querySelector("#documents-list");
  const empty = section.querySelector("#documents-empty");
  const form = section.querySelector("#upload-form");
  const fileInput = section.querySelector("#upload-file");
  const agendaSelect = section.querySelector("#upload-agenda");
  const submit = section.querySelector("#upload-submit");
  const progress = section.querySelector("#upload-progress");
  const progressLabel = section.querySelector("#upload-label");
  const bar = section.querySelector("#upload-bar");
  const percent = section.querySelector("#upload-percent");
  const uploadStatus = section.querySelector("#upload-status");
  const uploadError = section.querySelector("#upload-error");
  const canManage = ctx.can("document.manage");
  const failure = new Message(section.querySelector("#documents-error"));
  const rows = new RowControls(list, "documentId", render);
  const change = changer(reload, render, ctx.announce);

  let documents = [];
  let upload = null; // {label: () => text, fraction} while or after an upload
  let uploadOutcome = null; // {ok: bool, text: () => string}
  let busy = false; // one upload at a time
  const receipts = new Map(); // document id → receipts answer, "loading" or {error}
  const scheduling = new Map(); // document id → the datetime-local value being chosen

  function renderUpload() {
    progress.hidden = upload === null;
    if (upload !== null) {
      const value = Math.round(upload.fraction * 100);
      progressLabel.textContent =
        busy && upload.fraction >= 1 ? t("console.upload.checking") : upload.label();
      bar.value = value;
      percent.textContent = `${value} %`;
    }
    uploadStatus.textContent = uploadOutcome && uploadOutcome.ok ? uploadOutcome.text() : "";
    showMessage(uploadError, uploadOutcome && !uploadOutcome.ok ? uploadOutcome.text() : "");
    submit.disabled = busy;
  }

  function receiptsPanel(doc) {
    const answer = receipts.get(doc.id);
    const panel = h("div", { class: "receipts", id: `receipts-${doc.id}` });
    if (answer === "loading") {
      panel.append(h("p", { class: "notice", text: t("console.loading") }));
      return panel;
    }
    if (answer.error) {
      panel.append(h("p", { class: "error", role: "alert", text: errorMessage(answer.error) }));
      return panel;
    }
    const current = answer.opened.filter((o) => o.version === answer.current_version);
    const readers = new Set(current.map((o) => o.reader));
    const total = readers.size + answer.not_opened.length;
    panel.append(
      h("p", {
        class: "receipts-summary",
        text: t("console.documents.receipts_summary", {
          opened: readers.size,
          total,
          version: answer.current_version,
        }),
      }),
    );
    if (answer.opened.length > 0) {
      panel.append(
        h("h4", { text: t("console.documents.opened_heading") }),
        h(
          "ul",
          { class: "receipts-opened" },
          answer.opened.map((o) =>
            h("li", {
              text: t("console.documents.opened_entry", {
                name: o.name,
                version: o.version,
                time: formatDateTime(o.opened_at),
              }),
            }),
          ),
        ),
      );
    }
    if (answer.not_opened.length > 0) {
      panel.append(
        h("h4", { text: t("console.documents.not_opened_heading") }),
        h(
          "ul",
          { class: "receipts-missing" },
          answer.not_opened.map((r) =>
            h("li", { text: r.unit_name ? `${r.name} (${r.unit_name})` : r.name }),
          ),
        ),
      );
    }
    return panel;
  }

  function documentRow(doc) {
    const version = doc.version;
    const where = agendaLabel(ctx.agenda, doc.agenda_item_id);
    const facts = [
      t("console.documents.version", { version: doc.current_version }),
      t("console.documents.pages", { pages: version.pages }),
      formatBytes(version.size),
      version.filename,
    ];
    let when = "";
    if (doc.state === "published" && doc.published_at) {
      when = t("console.documents.published_at", { time: formatDateTime(doc.published_at) });
    } else if (doc.state === "scheduled" && doc.publish_at) {
      when = t("console.documents.publish_at", { time: formatDateTime(doc.publish_at) });
    }
    const row = h(
      "li",
      {
        class: "document",
        dataset: { documentId: String(doc.id), state: doc.state },
      },
      h(
        "div",
        { class: "row-main" },
        h(
          "div",
          { class: "row-text" },
          h("span", { class: "row-title", text: doc.title }),
          h("span", { class: "row-meta", text: facts.join(" · ") }),
          h("span", {
            class: "row-meta",
            text: where
              ? t("console.documents.for_item", { item: where })
              : t("console.documents.whole_meeting"),
          }),
          when ? h("span", { class: "row-meta", text: when }) : null,
        ),
        h(
          "span",
          { class: "badges" },
          doc.confidential
            ? h("span", { class: "badge confidential", text: t("console.documents.confidential") })
            : null,
          h("span", { class: `badge doc-${doc.state}`, text: stateText(doc.state) }),
        ),
      ),
    );
    const actions = h(
      "div",
      { class: "row-actions" },
      h("a", {
        class: "button small",
        href: `${API_BASE}/meetings/${ctx.meetingId}/documents/${doc.id}/file`,
        target: "_blank",
        rel: "noopener",
        text: t("console.documents.open"),
        "aria-label": t("console.documents.open_label", { title: doc.title }),
      }),
    );
    row.append(actions);
    if (!canManage) {
      return row;
    }
    const button = rows.buttons(doc.id);
    if (doc.state !== "published") {
      actions.append(
        button(
          "publish",
          t("console.documents.publish"),
          t("console.documents.publish_label", { title: doc.title }),
          () =>
            change(
              failure,
              () => api("POST", `/meetings/${ctx.meetingId}/documents/${doc.id}/publish`, {}),
              { after: () => t("console.documents.published", { title: doc.title }) },
            ),
        ),
      );
    }
    if (doc.state === "draft") {
      actions.append(
        button(
          "schedule",
          t("console.documents.schedule"),
          t("console.documents.schedule_label", { title: doc.title }),
          () => {
            if (scheduling.has(doc.id)) {
              scheduling.delete(doc.id);
            } else {
              scheduling.set(doc.id, "");
            }
            render();
            const input = list.querySelector(`#schedule-${doc.id}`);
            if (input) {
              input.focus();
            }
          },
          { "aria-expanded": String(scheduling.has(doc.id)) },
        ),
      );
    }
    if (doc.state === "scheduled") {
      actions.append(
        button(
          "unpublish",
          t("console.documents.unschedule"),
          t("console.documents.unschedule_label", { title: doc.title }),
          () =>
            change(
              failure,
              () => api("DELETE", `/meetings/${ctx.meetingId}/documents/${doc.id}/publish`),
              { after: () => t("console.documents.unscheduled", { title: doc.title }) },
            ),
        ),
      );
    }
    const versionInput = h("input", {
      type: "file",
      accept: ".pdf,application/pdf",
      class: "visually-hidden",
      tabindex: "-1",
      "aria-hidden": "true",
      dataset: { versionFor: String(doc.id) },
      onchange: () => {
        const file = versionInput.files[0];
        if (file) {
          send(
            `/meetings/${ctx.meetingId}/documents/${doc.id}/versions`,
            file,
            {},
            () => t("console.upload.progress_version", { name: file.name, title: doc.title }),
            (answer) =>
              t("console.upload.done_version", {
                title: doc.title,
                version: answer.current_version,
              }),
          );
        }
      },
    });
    actions.append(
      button(
        "version",
        t("console.documents.new_version"),
        t("console.documents.new_version_label", { title: doc.title }),
        () => versionInput.click(),
        { disabled: busy },
      ),
      versionInput,
      button(
        "receipts",
        t("console.documents.receipts"),
        t("console.documents.receipts_label", { title: doc.title }),
        () => toggleReceipts(doc),
        {
          "aria-expanded": String(receipts.has(doc.id)),
          "aria-controls": `receipts-${doc.id}`,
        },
      ),
    );
    if (scheduling.has(doc.id)) {
      const id = `schedule-${doc.id}`;
      const input = h("input", {
        id,
        type: "datetime-local",
        value: scheduling.get(doc.id),
        oninput: () => scheduling.set(doc.id, input.value),
      });
      row.append(
        h(
          "form",
          {
            class: "inline-form schedule-form",
            novalidate: true,
            onsubmit: (event) => {
              event.preventDefault();
              if (!input.value) {
                input.focus();
                return;
              }
              const at = new Date(input.value).toISOString();
              scheduling.delete(doc.id);
              change(
                failure,
                () =>
                  api("POST", `/meetings/${ctx.meetingId}/documents/${doc.id}/publish`, {
                    publish_at: at,
                  }),
                { after: () => t("console.documents.scheduled", { title: doc.title }) },
              );
            },
          },
          field(t("console.documents.schedule_at"), input),
          h("button", { type: "submit", class: "primary", text: t("console.documents.schedule") }),
        ),
      );
    }
    if (receipts.has(doc.id)) {
      row.append(receiptsPanel(doc));
    }
    return row;
  }

  function render() {
    list.replaceChildren(...documents.map(documentRow));
    empty.hidden = documents.length > 0;
    failure.render();
    fillSelect(agendaSelect, [
      option("", t("console.documents.whole_meeting")),
      ...agendaOptions(ctx.agenda),
    ]);
    renderUpload();
    rows.restoreFocus();
  }

  async function reload() {
    documents = await apiGet(`/meetings/${ctx.meetingId}/documents`);
    render();
  }

  async function toggleReceipts(doc) {
    if (receipts.has(doc.id)) {
      receipts.delete(doc.id);
      render();
      return;
    }
    receipts.set(doc.id, "loading");
    render();
    try {
      receipts.set(doc.id, await apiGet(`/meetings/${ctx.meetingId}/documents/${doc.id}/receipts`));
    } catch (error) {
      receipts.set(doc.id, { error });
    }
    rows.show(doc.id, "receipts");
  }

  async function send(path, file, fields, label, done) {
    if (busy) {
      return;
    }
    busy = true;
    upload = { label, fraction: 0 };
    uploadOutcome = null;
    renderUpload();
    render();
    try {
      const answer = await uploadPdf(path, file, fields, (fraction) => {
        upload.fraction = Math.max(upload.fraction, fraction);
        renderUpload();
      });
      upload.label = () => t("console.upload.sent", { name: file.name });
      uploadOutcome = { ok: true, text: () => done(answer) };
      busy = false;
      await reload();
      ctx.announce(done(answer));
    } catch (error) {
      upload = null;
      uploadOutcome = { ok: false, text: () => uploadErrorMessage(error) };
    } finally {
      busy = false;
      render();
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = fileInput.files[0];
    fileInput.removeAttribute("aria-invalid");
    if (!file) {
      upload = null;
      uploadOutcome = { ok: false, text: () => t("console.upload.error.no_file") };
      fileInput.setAttribute("aria-invalid", "true");
      renderUpload();
      fileInput.focus();
      return;
    }
    const fields = {
      title: form.elements.title.value.trim(),
      agenda_item_id: form.elements.agenda_item_id.value,
      confidential: form.elements.confidential.checked ? "true" : "",
    };
    await send(
      `/meetings/${ctx.meetingId}/documents`,
      file,
      fields,
      () => t("console.upload.progress", { name: file.name }),
      (answer) => t("console.upload.done", { title: answer.title }),
    );
    if (uploadOutcome && uploadOutcome.ok) {
      form.reset();
    }
  });

  ctx.onLanguage(render);
  ctx.onAgenda(render);
  form.hidden = !canManage;

  return { load: () => loadSection(reload, failure, render) };
}
