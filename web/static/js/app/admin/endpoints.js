// The "Điểm cầu" tab: the endpoint devices with their unit and token state, the form that
// creates one, and per device "issue a new token" (the old one stops working at once) and
// "revoke" (the device is disconnected and cannot log in again), each behind a confirm step
// when it cuts off a working device. A new token is shown once, as the device login link
// /device#token=..., with a copy button.
//
// Exports:
//   deviceLink(loginPath)      the absolute device login link for the server's login_path
//   mountEndpoints(directory)  render the list from the directory store and wire the tab

import { api, apiPost, errorMessage } from "../api.js";
import { onLanguageChange, t } from "../i18n.js";
import { confirmAction } from "./dialogs.js";
import { fillUnitSelect } from "./directory.js";
import { formErrors, numberOrNull, whileBusy } from "./forms.js";
import { formatDateTime } from "./labels.js";
import { mountSecret } from "./secret.js";

const $ = (id) => document.getElementById(id);

/** `${location.origin}/device#token=...`: what the commune's device opens. */
export function deviceLink(loginPath) {
  return new URL(loginPath, location.origin).href;
}

/** Render and wire the endpoints tab; see the module comment. */
export function mountEndpoints(directory) {
  const form = $("endpoint-form");
  const name = $("endpoint-name");
  const unit = $("endpoint-unit");
  const submit = $("endpoint-submit");
  const body = $("endpoints-body");
  const empty = $("endpoints-empty");
  const status = $("endpoints-status");
  const failure = $("endpoints-error");
  const panel = $("device-link");
  const panelHeading = $("device-link-heading");
  let statusMessage = null;
  let failureMessage = null;
  let shownFor = null; // the endpoint whose link is on screen

  const errors = formErrors({
    fields: {
      name: { input: name, error: $("endpoint-name-error") },
      unit_id: { input: unit, error: $("endpoint-unit-error") },
    },
    summary: $("endpoint-form-error"),
    rules: [
      (error) =>
        error.code === "invalid_input" && error.details && "unit_id" in error.details
          ? { field: "unit_id", message: () => t("admin.error.unit_missing") }
          : null,
    ],
  });
  const secret = mountSecret({
    input: $("device-link-url"),
    copy: $("device-link-copy"),
    status: $("device-link-status"),
  });

  function renderMessages() {
    status.textContent = statusMessage === null ? "" : statusMessage();
    failure.hidden = failureMessage === null;
    failure.textContent = failureMessage === null ? "" : failureMessage();
    if (shownFor !== null) {
      panelHeading.textContent = t("admin.endpoints.link_heading", { name: shownFor.name });
    }
  }

  function say(message, problem = null) {
    statusMessage = message;
    failureMessage = problem;
    renderMessages();
  }

  function showLink(answer) {
    shownFor = answer.endpoint;
    secret.show(deviceLink(answer.login_path));
    panel.hidden = false;
    renderMessages();
    panelHeading.focus();
  }

  function hideLink() {
    shownFor = null;
    secret.clear();
    panel.hidden = true;
  }

  async function issue(endpoint) {
    if (
      endpoint.active &&
      !(await confirmAction({
        title: t("admin.endpoints.reissue_title"),
        message: t("admin.endpoints.reissue_message", { name: endpoint.name }),
        confirmLabel: t("admin.endpoints.reissue_confirm"),
      }))
    ) {
      return;
    }
    try {
      const answer = await apiPost(`/endpoints/${endpoint.id}/token`);
      directory.put("endpoints", answer.endpoint);
      say(() => t("admin.endpoints.issued", { name: answer.endpoint.name }));
      showLink(answer);
    } catch (caught) {
      say(null, () => errorMessage(caught));
    }
  }

  async function revoke(endpoint) {
    const confirmed = await confirmAction({
      title: t("admin.endpoints.revoke_title"),
      message: t("admin.endpoints.revoke_message", { name: endpoint.name }),
      confirmLabel: t("admin.endpoints.revoke_confirm"),
    });
    if (!confirmed) {
      return;
    }
    try {
      const answer = await api("DELETE", `/endpoints/${endpoint.id}/token`);
      if (shownFor !== null && shownFor.id === endpoint.id) {
        hideLink(); // that link is dead now
      }
      directory.put("endpoints", answer);
      say(() => t("admin.endpoints.revoked", { name: answer.name }));
    } catch (caught) {
      say(null, () => errorMessage(caught));
    }
  }

  function actionButton(text, label, onClick) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "small";
    button.textContent = text;
    button.setAttribute("aria-label", label);
    button.addEventListener("click", onClick);
    return button;
  }

  function cell(label, ...content) {
    const td = document.createElement("td");
    td.dataset.label = label;
    td.append(...content);
    return td;
  }

  function row(endpoint) {
    const tr = document.createElement("tr");
    tr.dataset.endpointId = String(endpoint.id);
    const title = document.createElement("th");
    title.scope = "row";
    title.dataset.label = t("admin.endpoints.col.name");
    title.textContent = endpoint.name;

    const state = document.createElement("span");
    state.className = `badge ${endpoint.active ? "token-active" : "token-revoked"}`;
    state.textContent = endpoint.active
      ? t("admin.endpoints.token.active")
      : t("admin.endpoints.token.revoked");
    const token = document.createElement("div");
    token.append(state);
    if (endpoint.active && endpoint.token_issued_at) {
      const when = document.createElement("span");
      when.className = "token-issued";
      when.textContent = t("admin.endpoints.token.issued_at", {
        time: formatDateTime(endpoint.token_issued_at),
      });
      token.append(when);
    }

    const actions = document.createElement("div");
    actions.className = "row-actions";
    actions.append(
      actionButton(
        t("admin.endpoints.issue"),
        t("admin.endpoints.issue_label", { name: endpoint.name }),
        () => issue(endpoint),
      ),
    );
    if (endpoint.active) {
      actions.append(
        actionButton(
          t("admin.endpoints.revoke"),
          t("admin.endpoints.revoke_label", { name: endpoint.name }),
          () => revoke(endpoint),
        ),
      );
    }

    tr.append(
      title,
      cell(t("admin.endpoints.col.unit"), directory.unitPath(endpoint.unit_id)),
      cell(t("admin.endpoints.col.token"), token),
      cell(t("admin.endpoints.col.actions"), actions),
    );
    return tr;
  }

  function render() {
    fillUnitSelect(unit, directory.unitOptions(), {
      placeholder: t("admin.unit_choose"),
    });
    const endpoints = [...directory.endpoints].sort((a, b) => a.name.localeCompare(b.name, "vi"));
    body.replaceChildren(...endpoints.map(row));
    empty.hidden = endpoints.length > 0;
    renderMessages();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    await whileBusy(submit, async () => {
      try {
        const answer = await apiPost("/endpoints", {
          name: name.value,
          unit_id: numberOrNull(unit.value),
        });
        errors.clear();
        form.reset();
        directory.put("endpoints", answer.endpoint);
        say(() => t("admin.endpoints.created", { name: answer.endpoint.name }));
        showLink(answer); // a new endpoint comes with its first token
      } catch (caught) {
        errors.report(caught);
      }
    });
  });
  $("device-link-close").addEventListener("click", () => {
    hideLink();
    name.focus();
  });

  directory.subscribe(render);
  onLanguageChange(render);
  render();
}
