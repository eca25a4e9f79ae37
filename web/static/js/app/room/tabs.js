// The side column's tabs (WAI-ARIA tabs pattern: arrow keys move between tabs, Home/End jump,
// the selected tab's panel is shown). Panels may ask for attention: a dot on their tab, or a
// switch to it (a poll opening for a voter, a presentation starting).
//
// Exports:
//   mountTabs(container)  → {select(name, focus), attention(name, {show}), selected()}

export function mountTabs(container) {
  const tabs = [...container.querySelectorAll('[role="tab"]')];
  let current = null;

  function select(name, focus = false) {
    for (const tab of tabs) {
      const chosen = tab.dataset.panel === name;
      tab.setAttribute("aria-selected", String(chosen));
      tab.tabIndex = chosen ? 0 : -1;
      document.getElementById(tab.getAttribute("aria-controls")).hidden = !chosen;
      if (chosen) {
        tab.querySelector(".dot").hidden = true;
        if (focus) tab.focus();
      }
    }
    current = name;
  }

  function attention(name, options = {}) {
    if (options.show) {
      select(name);
      return;
    }
    if (name === current) return;
    const tab = tabs.find((t) => t.dataset.panel === name);
    if (tab) tab.querySelector(".dot").hidden = false;
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab.dataset.panel));
    tab.addEventListener("keydown", (event) => {
      const index = tabs.indexOf(tab);
      const moves = {
        ArrowRight: index + 1,
        ArrowLeft: index - 1,
        Home: 0,
        End: tabs.length - 1,
      };
      if (!(event.key in moves)) return;
      event.preventDefault();
      const next = tabs[(moves[event.key] + tabs.length) % tabs.length];
      select(next.dataset.panel, true);
    });
  }
  select(tabs[0].dataset.panel);
  return { select, attention, selected: () => current };
}
