// The installation's directory as the admin page holds it: units, accounts and endpoints,
// loaded once from the API and updated from each answer the page gets, so every section
// (the unit tree, the unit pickers, the lists) shows the same state without reloading.
//
// Exports:
//   createDirectory()          a store: {units, accounts, endpoints, load(), put(kind, item),
//                              subscribe(listener), unit(id), unitOptions(), unitPath(id),
//                              descendants(id), childrenOf(parentId)}
//   fillUnitSelect(select, options, {placeholder, allowed})
//                              replace a <select>'s options by the units (indented by level),
//                              after an optional placeholder, keeping the chosen value

import { apiGet } from "../api.js";

const INDENT = "\u00a0\u00a0\u00a0"; // options cannot be styled per level: indent with spaces

function byName(a, b) {
  return a.name.localeCompare(b.name, "vi");
}

/** The admin page's copy of the directory; see the module comment. */
export function createDirectory() {
  const listeners = new Set();
  const store = {
    units: [],
    accounts: [],
    endpoints: [],

    /** Load all three lists (in parallel) and notify. */
    async load() {
      const [units, accounts, endpoints] = await Promise.all([
        apiGet("/units"),
        apiGet("/accounts"),
        apiGet("/endpoints"),
      ]);
      Object.assign(store, { units, accounts, endpoints });
      notify();
    },

    /** Insert or replace one item ("units" | "accounts" | "endpoints") by id and notify. */
    put(kind, item) {
      const list = store[kind];
      const index = list.findIndex((existing) => existing.id === item.id);
      if (index === -1) {
        list.push(item);
      } else {
        list[index] = item;
      }
      notify();
    },

    /** Call `listener()` after every change; returns an unsubscribe function. */
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    /** The unit with this id, or undefined. */
    unit(id) {
      return store.units.find((unit) => unit.id === id);
    },

    /** The units whose parent is `parentId` (null: the top level), by name. */
    childrenOf(parentId) {
      return store.units.filter((unit) => (unit.parent_id ?? null) === parentId).sort(byName);
    },

    /** Every unit in tree order: [{unit, depth}], parents before their children. */
    unitOptions() {
      const out = [];
      const seen = new Set();
      const walk = (parentId, depth) => {
        for (const unit of store.childrenOf(parentId)) {
          if (seen.has(unit.id)) {
            continue; // a cycle in bad data must not hang the page
          }
          seen.add(unit.id);
          out.push({ unit, depth });
          walk(unit.id, depth + 1);
        }
      };
      walk(null, 0);
      // Units whose parent is missing from the list still get listed, at the top level.
      for (const unit of store.units) {
        if (!seen.has(unit.id)) {
          out.push({ unit, depth: 0 });
        }
      }
      return out;
    },

    /** "Tỉnh Quảng Ninh › Huyện Ba Chẽ › Xã Thanh Sơn" for a unit id ("" if unknown). */
    unitPath(id) {
      const names = [];
      let unit = store.unit(id);
      while (unit && names.length < 8) {
        names.unshift(unit.name);
        unit = unit.parent_id == null ? undefined : store.unit(unit.parent_id);
      }
      return names.join(" › ");
    },

    /** The ids of `id` and of every unit below it. */
    descendants(id) {
      const ids = new Set([id]);
      let grew = true;
      while (grew) {
        grew = false;
        for (const unit of store.units) {
          if (unit.parent_id != null && ids.has(unit.parent_id) && !ids.has(unit.id)) {
            ids.add(unit.id);
            grew = true;
          }
        }
      }
      return ids;
    },
  };

  function notify() {
    for (const listener of listeners) {
      listener();
    }
  }

  return store;
}

/**
 * Fill `select` with the units of `options` (from unitOptions()), indented by level.
 * `placeholder` (text) adds a first option with an empty value; `allowed(unit)` leaves out
 * units that do not fit. The chosen value is kept when it is still offered.
 */
export function fillUnitSelect(select, options, { placeholder = null, allowed = () => true } = {}) {
  const previous = select.value;
  const items = [];
  if (placeholder !== null) {
    const empty = document.createElement("option");
    empty.value = "";
    empty.textContent = placeholder;
    items.push(empty);
  }
  for (const { unit, depth } of options) {
    if (!allowed(unit)) {
      continue;
    }
    const option = document.createElement("option");
    option.value = String(unit.id);
    option.textContent = INDENT.repeat(depth) + unit.name;
    items.push(option);
  }
  select.replaceChildren(...items);
  if ([...select.options].some((option) => option.value === previous)) {
    select.value = previous;
  }
}
