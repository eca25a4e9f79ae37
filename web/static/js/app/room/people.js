// The "participants" panel: who is in the meeting (presence), grouped as the chair's table,
// then delegates, then commune endpoints, with who is speaking and who is on air. The chair
// can put anyone on air (media.spotlight) or mute them (media.mute) from here.
//
// Exports:
//   mount / mountPeople(root, room, stage) → {resync()}

import { t } from "../i18n.js";

const ORDER = { chair: 0, secretary: 1, participant: 2, endpoint: 3 };

function button(labelKey, name, onClick) {
  const node = document.createElement("button");
  node.type = "button";
  node.className = "small";
  node.textContent = t(labelKey);
  node.setAttribute("aria-label", `${t(labelKey)}: ${name}`);
  node.addEventListener("click", onClick);
  return node;
}

export function mountPeople(root, room, stage) {
  const client = room.client;
  const heading = document.createElement("h3");
  const count = document.createElement("p");
  count.className = "muted";
  const list = document.createElement("ul");
  list.className = "people";
  root.append(heading, count, list);

  async function act(task) {
    try {
      await task();
    } catch (error) {
      room.toast(room.api.errorMessage(error));
    }
  }

  function render() {
    heading.textContent = t("people.heading");
    const people = [...room.participants.values()].sort(
      (a, b) =>
        (ORDER[a.meeting_role] ?? 9) - (ORDER[b.meeting_role] ?? 9) ||
        a.name.localeCompare(b.name, "vi"),
    );
    count.textContent = t("people.count", { count: people.length });
    const onAir = client.spotlight;
    const direct = room.can("media.direct");
    list.replaceChildren(
      ...people.map((person) => {
        const item = document.createElement("li");
        item.className = "person";
        item.dataset.participant = person.key;
        item.classList.toggle("speaking", person.key === client.speaker);
        item.classList.toggle("away", person.connected === false);
        const name = document.createElement("span");
        name.className = "person-name";
        name.textContent = person.key === room.self.key ? `${person.name} (${t("room.you")})` : person.name;
        const detail = document.createElement("span");
        detail.className = "muted";
        const role = t(`meeting_role.${person.meeting_role}`);
        detail.textContent = person.kind === "endpoint" ? role : `${role} · ${person.unit_name}`;
        item.append(name, detail);
        if (person.key === onAir) {
          const badge = document.createElement("span");
          badge.className = "badge on-air";
          badge.textContent = t("people.on_air");
          item.append(badge);
        }
        if (direct && person.key !== room.self.key) {
          const actions = document.createElement("span");
          actions.className = "person-actions";
          actions.append(
            person.key === onAir
              ? button("people.off_air", person.name, () =>
                  act(() => client.setSpotlight(null)),
                )
              : button("people.spotlight", person.name, () =>
                  act(() => client.setSpotlight(person.key)),
                ),
            button("people.mute", person.name, () =>
              act(async () => {
                await room.call("media.mute", { participant: person.key });
                room.toast(t("people.muted", { name: person.name }));
              }),
            ),
          );
          item.append(actions);
        }
        return item;
      }),
    );
  }

  for (const event of ["participant.joined", "participant.left", "participant.updated"]) {
    room.on(event, () => setTimeout(render));
  }
  client.addEventListener("speaker", render);
  client.addEventListener("spotlight", render);
  room.onLanguage(render);
  render();
  return { resync: render, render };
}

export { mountPeople as mount };
