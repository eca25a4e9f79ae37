// The meeting room's list of speakers (đăng ký phát biểu), a side panel.
//
// Everyone sees who has the floor, with a timer counted from the server's grant time (the
// server's clock, corrected by the offset measured from the list's `now`, so the chair's and
// the delegates' timers agree), and the queue. Those allowed to ask (speaker.request) ask
// with an optional topic, see their place in the queue and withdraw while waiting; when the
// floor is theirs they are told so plainly (the page unmutes their microphone on the
// server's media.unmute). The chair (speaker.manage) grants the floor, ends a speech,
// removes a request and moves requests up or down with buttons (keyboard operable).
//
// State comes from REST (GET /meetings/{id}/speakers) on mount and resync, then from
// `speakers.changed` (the whole list) and the chair's acks; a list older than the one shown
// (by the server's `now`) is ignored, so a late event never undoes a newer answer.
//
// Exports:
//   formatDuration(seconds)        "mm:ss" (or "h:mm:ss" from one hour on)
//   mount(root, room)              render into root; returns {resync()}

import { t } from "../i18n.js";
import { button, element } from "./elements.js";
import { refusalText } from "./refusal.js";

const TICK_MS = 1000;
let instances = 0; // ids stay unique if the panel is mounted more than once on a page

/**
 * A speaking time as the timer shows it.
 * @param {number} seconds
 * @returns {string} "mm:ss", or "h:mm:ss" from one hour on
 */
export function formatDuration(seconds) {
  const total = Math.max(0, Math.floor(seconds));
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = String(total % 60).padStart(2, "0");
  return hours > 0
    ? `${hours}:${String(minutes).padStart(2, "0")}:${secs}`
    : `${String(minutes).padStart(2, "0")}:${secs}`;
}

/**
 * Render the list of speakers into `root`.
 * @param {HTMLElement} root the panel's (empty) tabpanel
 * @param {object} room the RoomContext (see room_contract: meetingId, self, can, on, call, api)
 * @returns {{resync: () => Promise<void>}}
 */
export function mount(root, room) {
  const id = `speakers-${++instances}`;
  const canRequest = room.can("speaker.request");
  const canManage = room.can("speaker.manage");
  let listing = null; // SpeakerListOut
  let offsetMs = 0; // server clock − this clock, from the list's `now`
  let busy = false; // one chair operation at a time: the queue cannot move under a click
  let failure = null; // {error, overrides: () => {code: text}} of the last refused operation
  let focusAfter = null; // data-focus key to restore after a re-render
  let ticker = null;

  // ---- the skeleton (built once; translated texts also carry data-i18n) ----
  root.classList.add("proceedings", "speakers-panel");
  const heading = element("h2", "visually-hidden", t("speakers.heading"));
  heading.id = `${id}-heading`;
  heading.dataset.i18n = "speakers.heading";

  const now = element("section", "speakers-now");
  now.setAttribute("aria-labelledby", `${id}-now`);
  const nowHeading = element("h3", "", t("speakers.now.heading"));
  nowHeading.id = `${id}-now`;
  nowHeading.dataset.i18n = "speakers.now.heading";
  const nowBody = element("div", "speakers-now-body");
  now.append(nowHeading, nowBody);

  const mine = element("section", "speakers-mine");
  mine.setAttribute("aria-labelledby", `${id}-mine`);
  const mineHeading = element("h3", "", t("speakers.mine.heading"));
  mineHeading.id = `${id}-mine`;
  mineHeading.dataset.i18n = "speakers.mine.heading";
  const mineStatus = element("p", "speakers-mine-status");
  mineStatus.setAttribute("role", "status");
  const form = element("form", "speakers-request");
  form.noValidate = true;
  const topicLabel = element("label", "", t("speakers.topic.label"));
  topicLabel.htmlFor = `${id}-topic`;
  topicLabel.dataset.i18n = "speakers.topic.label";
  const topic = element("input");
  topic.id = `${id}-topic`;
  topic.type = "text";
  topic.maxLength = 500;
  topic.autocomplete = "off";
  topic.placeholder = t("speakers.topic.placeholder");
  topic.dataset.i18nPlaceholder = "speakers.topic.placeholder";
  const field = element("div", "field");
  field.append(topicLabel, topic);
  const ask = element("button", "primary", t("speakers.request"));
  ask.type = "submit";
  ask.dataset.i18n = "speakers.request";
  form.append(field, ask);
  const withdraw = button(t("speakers.withdraw"), "speakers-withdraw");
  withdraw.dataset.i18n = "speakers.withdraw";
  mine.append(mineHeading, mineStatus, form, withdraw);
  mine.hidden = !canRequest;

  const error = element("p", "error");
  error.setAttribute("role", "alert");
  error.hidden = true;

  const queue = element("section", "speakers-queue");
  queue.setAttribute("aria-labelledby", `${id}-queue`);
  const queueHeading = element("h3");
  queueHeading.id = `${id}-queue`;
  const queueList = element("ol", "speakers-list");
  queueList.setAttribute("aria-labelledby", `${id}-queue`);
  const queueEmpty = element("p", "empty", t("speakers.queue.empty"));
  queueEmpty.dataset.i18n = "speakers.queue.empty";
  queue.append(queueHeading, queueList, queueEmpty);

  const finished = element("details", "speakers-finished");
  const finishedSummary = element("summary");
  const finishedList = element("ol", "speakers-list finished");
  finished.append(finishedSummary, finishedList);

  const loading = element("p", "notice", t("speakers.loading"));
  loading.setAttribute("role", "status");
  root.replaceChildren(heading, loading, now, mine, error, queue, finished);

  // ---- state ----

  function accept(list) {
    if (!list || (listing !== null && Date.parse(list.now) < Date.parse(listing.now))) {
      return; // an older list than the one shown
    }
    listing = list;
    offsetMs = Date.parse(list.now) - Date.now();
    render();
  }

  function myRequest() {
    if (listing === null) {
      return null;
    }
    if (listing.speaking && listing.speaking.speaker_key === room.self.key) {
      return listing.speaking;
    }
    return listing.waiting.find((r) => r.speaker_key === room.self.key) || null;
  }

  function elapsed(request) {
    return (Date.now() + offsetMs - Date.parse(request.granted_at)) / 1000;
  }

  function showFailure(caught, overrides = () => ({})) {
    failure = caught === null ? null : { error: caught, overrides };
    error.textContent = failure === null ? "" : refusalText(caught, overrides());
    error.hidden = failure === null;
  }

  async function run(operation, overrides = () => ({})) {
    busy = true;
    render();
    try {
      showFailure(null);
      return await operation();
    } catch (caught) {
      showFailure(caught, overrides);
      resync(); // a refusal usually means the list moved on: show where it is now
      return null;
    } finally {
      busy = false;
      render();
    }
  }

  // ---- rendering ----

  function tick() {
    const timer = nowBody.querySelector(".speaker-timer");
    if (timer && listing && listing.speaking) {
      timer.textContent = formatDuration(elapsed(listing.speaking));
    }
  }

  function renderNow() {
    const speaking = listing && listing.speaking;
    clearInterval(ticker);
    ticker = null;
    now.classList.toggle("active", Boolean(speaking));
    if (!speaking) {
      nowBody.replaceChildren(element("p", "empty", t("speakers.now.nobody")));
      return;
    }
    const name = element("p", "speakers-now-name", speaking.speaker_name);
    const parts = [name];
    if (speaking.topic) {
      parts.push(element("p", "speakers-topic", speaking.topic));
    }
    const time = element("p", "speakers-now-time");
    const label = element("span", "", t("speakers.now.elapsed"));
    const timer = element("span", "speaker-timer", formatDuration(elapsed(speaking)));
    timer.setAttribute("role", "timer"); // not announced every second
    timer.dataset.grantedAt = speaking.granted_at;
    time.append(label, " ", timer);
    parts.push(time);
    if (canManage) {
      const end = button(t("speakers.end"), "speakers-end", { focus: "end" });
      end.disabled = busy;
      end.addEventListener("click", endSpeech);
      parts.push(end);
    }
    nowBody.replaceChildren(...parts);
    ticker = setInterval(tick, TICK_MS);
  }

  function renderMine() {
    if (!canRequest) {
      return;
    }
    const request = myRequest();
    const waiting = request !== null && request.state === "waiting";
    const speaking = request !== null && request.state === "speaking";
    form.hidden = request !== null || listing === null;
    ask.disabled = busy;
    withdraw.hidden = !waiting;
    withdraw.disabled = busy;
    mine.classList.toggle("speaking", speaking);
    if (speaking) {
      mineStatus.textContent = t("speakers.mine.speaking");
    } else if (waiting) {
      const position = listing.waiting.indexOf(request) + 1;
      mineStatus.textContent = request.topic
        ? t("speakers.mine.waiting_topic", { position, topic: request.topic })
        : t("speakers.mine.waiting", { position });
    } else {
      mineStatus.textContent = "";
    }
  }

  function queueItem(request, index, count) {
    const item = element("li", "speakers-item");
    item.dataset.requestId = String(request.id);
    if (request.speaker_key === room.self.key) {
      item.classList.add("mine");
    }
    const position = element("span", "speakers-position", String(index + 1));
    position.setAttribute("aria-hidden", "true"); // the <ol> numbers it for screen readers
    const body = element("div", "speakers-item-body");
    body.append(element("span", "speakers-name", request.speaker_name));
    if (request.topic) {
      body.append(element("span", "speakers-topic", request.topic));
    }
    item.append(position, body);
    if (canManage) {
      const name = request.speaker_name;
      const actions = element("div", "speakers-actions");
      const grant = button(t("speakers.grant"), "primary", {
        aria: t("speakers.grant_label", { name }),
        focus: `grant:${request.id}`,
      });
      const up = button("↑", "", {
        aria: t("speakers.up_label", { name }),
        focus: `up:${request.id}`,
      });
      const down = button("↓", "", {
        aria: t("speakers.down_label", { name }),
        focus: `down:${request.id}`,
      });
      up.title = up.getAttribute("aria-label"); // the arrows alone, for a mouse user
      down.title = down.getAttribute("aria-label");
      const remove = button(t("speakers.remove"), "", {
        aria: t("speakers.remove_label", { name }),
        focus: `remove:${request.id}`,
      });
      grant.disabled = busy;
      up.disabled = busy || index === 0;
      down.disabled = busy || index === count - 1;
      remove.disabled = busy;
      grant.addEventListener("click", () => grantFloor(request));
      up.addEventListener("click", () => move(request, -1));
      down.addEventListener("click", () => move(request, +1));
      remove.addEventListener("click", () => removeRequest(request));
      actions.append(grant, up, down, remove);
      item.append(actions);
    }
    return item;
  }

  function finishedItem(request) {
    const item = element("li", "speakers-item");
    item.dataset.requestId = String(request.id);
    const body = element("div", "speakers-item-body");
    body.append(element("span", "speakers-name", request.speaker_name));
    if (request.topic) {
      body.append(element("span", "speakers-topic", request.topic));
    }
    item.append(body);
    if (request.seconds_spoken !== null && request.seconds_spoken !== undefined) {
      const spoken = element("span", "speakers-spoken", formatDuration(request.seconds_spoken));
      spoken.setAttribute(
        "aria-label",
        t("speakers.spoken_label", { time: formatDuration(request.seconds_spoken) }),
      );
      item.append(spoken);
    }
    return item;
  }

  function restoreFocus() {
    if (focusAfter === null) {
      return;
    }
    const [kind, requestId] = focusAfter.split(":");
    // A button that became disabled (moved to the top) hands focus to its sibling.
    const other = kind === "up" ? "down" : "up";
    const order = [focusAfter, `${other}:${requestId}`, `grant:${requestId}`];
    for (const key of order) {
      const target = root.querySelector(`[data-focus="${key}"]`);
      if (target && !target.disabled) {
        target.focus();
        focusAfter = null;
        return;
      }
    }
    if (!busy) {
      focusAfter = null; // its item is gone: leave focus where the browser puts it
    }
  }

  function render() {
    loading.hidden = listing !== null;
    const hadFocus = root.contains(document.activeElement) ? document.activeElement : null;
    if (hadFocus && hadFocus.dataset.focus && focusAfter === null) {
      focusAfter = hadFocus.dataset.focus; // keep the chair's place across re-renders
    }
    renderNow();
    renderMine();
    const waiting = listing ? listing.waiting : [];
    queueHeading.textContent = t("speakers.queue.heading", { count: waiting.length });
    queueList.replaceChildren(...waiting.map((r, i) => queueItem(r, i, waiting.length)));
    queueEmpty.hidden = waiting.length > 0;
    const done = listing ? listing.finished : [];
    finished.hidden = done.length === 0;
    finishedSummary.textContent = t("speakers.finished.heading", { count: done.length });
    finishedList.replaceChildren(...done.map(finishedItem));
    if (failure !== null) {
      error.textContent = refusalText(failure.error, failure.overrides());
    }
    restoreFocus();
  }

  // ---- actions ----

  const refusals = () => ({
    conflict: t("speakers.error.conflict"),
    forbidden: t("speakers.error.forbidden"),
  });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const ack = await run(
      () => room.call("speaker.request", { topic: topic.value.trim() }),
      () => ({ ...refusals(), conflict: t("speakers.error.already_requested") }),
    );
    if (ack && ack.request && listing !== null) {
      topic.value = "";
      // Shown at once; the coalesced speakers.changed confirms it a moment later.
      if (!listing.waiting.some((r) => r.id === ack.request.id)) {
        listing = { ...listing, waiting: [...listing.waiting, ack.request] };
      }
      render();
      withdraw.focus();
    }
  });

  withdraw.addEventListener("click", async () => {
    const ack = await run(() => room.call("speaker.withdraw", {}), refusals);
    if (ack && ack.request && listing !== null) {
      listing = { ...listing, waiting: listing.waiting.filter((r) => r.id !== ack.request.id) };
      render();
      topic.focus();
    }
  });

  async function grantFloor(request) {
    const ack = await run(
      () => room.call("speaker.grant", { request_id: request.id }),
      refusals,
    );
    if (ack) {
      accept(ack.speakers);
      const end = root.querySelector('[data-focus="end"]');
      if (end) {
        end.focus();
      }
    }
  }

  async function endSpeech() {
    const ack = await run(() => room.call("speaker.end", {}), refusals);
    if (ack) {
      accept(ack.speakers);
      const next = root.querySelector(".speakers-queue [data-focus^='grant:']");
      (next || nowHeading).focus();
    }
  }

  async function move(request, step) {
    if (listing === null) {
      return;
    }
    const ids = listing.waiting.map((r) => r.id);
    const from = ids.indexOf(request.id);
    const to = from + step;
    if (from < 0 || to < 0 || to >= ids.length) {
      return;
    }
    [ids[from], ids[to]] = [ids[to], ids[from]];
    focusAfter = `${step < 0 ? "up" : "down"}:${request.id}`;
    const ack = await run(() => room.call("speaker.reorder", { request_ids: ids }), refusals);
    if (ack) {
      accept(ack.speakers);
    }
  }

  async function removeRequest(request) {
    const done = await run(async () => {
      await room.api.api("DELETE", `/meetings/${room.meetingId}/speakers/${request.id}`);
      return true;
    }, refusals);
    if (done && listing !== null) {
      listing = { ...listing, waiting: listing.waiting.filter((r) => r.id !== request.id) };
      render();
    }
  }

  // ---- wiring ----

  async function resync() {
    try {
      const list = await room.api.apiGet(`/meetings/${room.meetingId}/speakers`);
      listing = null; // the REST answer is the truth after a gap, whatever its clock says
      accept(list);
    } catch (caught) {
      showFailure(caught);
    }
  }

  room.on("speakers.changed", accept);
  room.onLanguage(render);
  render();
  resync();
  return { resync };
}
