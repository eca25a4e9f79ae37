// The "Đơn vị" tab: the units as a tree (province → district → commune) with how many
// accounts and endpoints each has, and the form that creates a unit under a parent of a
// fitting level (a district under a province, a commune under a district or a province).
//
// Exports:
//   mountUnits(directory)   render the tree from the directory store and wire the form

import { apiPost } from "../api.js";
import { onLanguageChange, t } from "../i18n.js";
import { fillUnitSelect } from "./directory.js";
import { formErrors, numberOrNull, whileBusy } from "./forms.js";
import { kindLabel } from "./labels.js";

const $ = (id) => document.getElementById(id);

// Which levels a new unit of each level may hang under (mirrors meetings/units.py).
const PARENT_KINDS = Object.freeze({
  province: [],
  district: ["province"],
  commune: ["district", "province"],
});
// The level a child of each level normally has ("add a unit under this one").
const CHILD_KIND = Object.freeze({ province: "district", district: "commune" });

function count(list, unitId) {
  return list.filter((item) => item.unit_id === unitId).length;
}

/** Render the unit tree and wire the unit form; see the module comment. */
export function mountUnits(directory) {
  const tree = $("unit-tree");
  const empty = $("units-empty");
  const form = $("unit-form");
  const name = $("unit-name");
  const kind = $("unit-kind");
  const parent = $("unit-parent");
  const code = $("unit-code");
  const status = $("unit-form-status");
  const submit = $("unit-submit");
  let statusMessage = null;

  const errors = formErrors({
    fields: {
      name: { input: name, error: $("unit-name-error") },
      kind: { input: kind, error: $("unit-kind-error") },
      parent_id: { input: parent, error: $("unit-parent-error") },
      code: { input: code, error: $("unit-code-error") },
    },
    summary: $("unit-form-error"),
    rules: [
      (error) =>
        error.code === "invalid_input" && error.details && "parent_id" in error.details
          ? { field: "parent_id", message: () => t("admin.units.error.parent_missing") }
          : null,
      (error) =>
        error.code === "invalid_input" && /cannot be placed under/.test(error.message)
          ? { field: "parent_id", message: () => t("admin.units.error.parent_level") }
          : null,
      (error) =>
        error.code === "conflict" && error.details && "code" in error.details
          ? { field: "code", message: () => t("admin.units.error.code_taken") }
          : null,
    ],
  });

  function node(unit) {
    const item = document.createElement("li");
    item.className = "unit";
    item.dataset.unitId = String(unit.id);

    const row = document.createElement("div");
    row.className = "unit-row";
    const title = document.createElement("span");
    title.className = "unit-name";
    title.textContent = unit.name;
    const level = document.createElement("span");
    level.className = `badge kind kind-${unit.kind}`;
    level.textContent = kindLabel(unit.kind);
    const counts = document.createElement("span");
    counts.className = "unit-counts";
    counts.textContent = t("admin.units.counts", {
      accounts: count(directory.accounts, unit.id),
      endpoints: count(directory.endpoints, unit.id),
    });
    row.append(title, level);
    if (unit.code) {
      const unitCode = document.createElement("span");
      unitCode.className = "unit-code";
      unitCode.textContent = t("admin.units.code_value", { code: unit.code });
      row.append(unitCode);
    }
    row.append(counts);
    if (CHILD_KIND[unit.kind]) {
      const add = document.createElement("button");
      add.type = "button";
      add.className = "small";
      add.textContent = t("admin.units.add_child");
      add.setAttribute("aria-label", t("admin.units.add_child_label", { name: unit.name }));
      add.addEventListener("click", () => startChild(unit));
      row.append(add);
    }
    item.append(row);

    const children = directory.childrenOf(unit.id);
    if (children.length > 0) {
      const list = document.createElement("ul");
      list.append(...children.map(node));
      item.append(list);
    }
    return item;
  }

  function renderTree() {
    const roots = directory.unitOptions().filter(({ depth }) => depth === 0);
    tree.replaceChildren(...roots.map(({ unit }) => node(unit)));
    empty.hidden = roots.length > 0;
  }

  function renderParents() {
    const allowed = PARENT_KINDS[kind.value] || [];
    const topLevel = allowed.length === 0;
    fillUnitSelect(parent, topLevel ? [] : directory.unitOptions(), {
      placeholder: topLevel ? t("admin.units.parent_none") : t("admin.units.parent_choose"),
      allowed: (unit) => allowed.includes(unit.kind),
    });
    parent.disabled = topLevel;
  }

  function renderStatus() {
    status.textContent = statusMessage === null ? "" : statusMessage();
  }

  function render() {
    renderTree();
    renderParents();
    renderStatus();
  }

  /** "Add a unit under this one": preset level and parent, then type the name. */
  function startChild(unit) {
    kind.value = CHILD_KIND[unit.kind];
    renderParents();
    parent.value = String(unit.id);
    errors.clear();
    statusMessage = null;
    renderStatus();
    form.scrollIntoView({ block: "nearest" });
    name.focus();
  }

  kind.addEventListener("change", renderParents);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    statusMessage = null;
    renderStatus();
    const body = { name: name.value, kind: kind.value, parent_id: numberOrNull(parent.value) };
    if (code.value.trim()) {
      body.code = code.value;
    }
    await whileBusy(submit, async () => {
      try {
        const unit = await apiPost("/units", body);
        errors.clear();
        directory.put("units", unit);
        // Clear name and code but keep level and parent: the next commune of the same
        // district is typed straight away.
        form.reset();
        kind.value = body.kind;
        renderParents();
        parent.value = body.parent_id === null ? "" : String(body.parent_id);
        statusMessage = () => t("admin.units.created", { name: unit.name });
        renderStatus();
        name.focus();
      } catch (caught) {
        errors.report(caught);
      }
    });
  });

  directory.subscribe(render);
  onLanguageChange(render);
  render();
}
