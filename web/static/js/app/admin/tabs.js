// The admin page's tabs (Đơn vị / Tài khoản / Điểm cầu), following the WAI-ARIA tabs pattern:
// one tab stop for the tab list, arrow keys (and Home/End) move between tabs and select them,
// each tab shows its panel. The chosen tab is kept in the address fragment (#accounts), so a
// reload or a bookmark opens the same section.
//
// Exports:
//   mountTabs(tablist)    wire the role="tab" buttons inside `tablist`; each names its panel
//                         in aria-controls and its fragment in data-tab. Returns {select(name)}.

/** Wire the tab list; see the module comment. */
export function mountTabs(tablist) {
  const tabs = [...tablist.querySelectorAll('[role="tab"]')];

  function select(tab, focus) {
    for (const other of tabs) {
      const selected = other === tab;
      other.setAttribute("aria-selected", String(selected));
      other.tabIndex = selected ? 0 : -1;
      document.getElementById(other.getAttribute("aria-controls")).hidden = !selected;
    }
    if (focus) {
      tab.focus();
    }
    history.replaceState(null, "", `#${tab.dataset.tab}`);
  }

  for (const tab of tabs) {
    tab.addEventListener("click", () => select(tab, false));
    tab.addEventListener("keydown", (event) => {
      const index = tabs.indexOf(tab);
      const target = {
        ArrowRight: tabs[(index + 1) % tabs.length],
        ArrowLeft: tabs[(index - 1 + tabs.length) % tabs.length],
        Home: tabs[0],
        End: tabs[tabs.length - 1],
      }[event.key];
      if (target) {
        event.preventDefault();
        select(target, true);
      }
    });
  }

  const initial = tabs.find((tab) => `#${tab.dataset.tab}` === location.hash) || tabs[0];
  select(initial, false);

  return {
    /** Show the tab whose data-tab is `name`. */
    select(name) {
      const tab = tabs.find((candidate) => candidate.dataset.tab === name);
      if (tab) {
        select(tab, false);
      }
    },
  };
}
