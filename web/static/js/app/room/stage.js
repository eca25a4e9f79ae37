// The video stage of the meeting room: the spotlight large (a screen share first, else whoever
// the chair put on air, else the chair), the active speaker highlighted, the other received
// cameras in a grid (for the chair: the endpoints, a page at a time, at the low layer the SFU
// picks for grid tiles), this participant's own picture small, and every received audio slot
// playing. What each receive slot shows is decided by the server (media.slots); the stage only
// lays the slots out, tells the SFU how tall each is shown (media.view, so it can pick the
// simulcast layer) and shows a quality indicator per tile from WebRTC statistics.
//
// Exports:
//   mountStage(elements, room)  → {render(), setGridPage(delta), destroy()}

import { t } from "../i18n.js";
import { classifyInbound, classifyUplink } from "./quality.js";

const STATS_INTERVAL_MS = 2000;
const VIEW_STEP_PX = 60;
const GRID_PAGE_SIZE = 9; // the SFU's page of endpoint cameras (ConferenceCoordinator) // re-ask for a layer only when the shown height changes this much

function element(tag, className, attributes = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

/** A figure with a video, a caption and a quality mark; reused while its slot lives. */
class Tile {
  constructor(id) {
    this.root = element("figure", "tile", { "data-tile": id });
    this.video = element("video", "", { autoplay: "", playsinline: "" });
    this.video.muted = true; // sound goes through the audio slots' elements
    this.caption = element("figcaption", "tile-caption");
    this.name = element("span", "tile-name");
    this.quality = element("span", "quality", { role: "img" });
    this.caption.append(this.name, this.quality);
    this.root.append(this.video, this.caption);
    this.track = null;
    this.level = null;
  }

  show(track) {
    if (this.track === track) return;
    this.track = track;
    this.video.srcObject = track ? new MediaStream([track]) : null;
  }

  label(name, detail) {
    this.name.textContent = detail ? `${name} · ${detail}` : name;
    this.root.setAttribute("aria-label", this.name.textContent);
  }

  setQuality(level) {
    this.level = level;
    this.quality.dataset.level = level || "unknown";
    this.quality.setAttribute(
      "aria-label",
      level ? t(`room.quality.${level}`) : t("room.quality.unknown"),
    );
    this.quality.title = this.quality.getAttribute("aria-label");
  }
}

/**
 * @param {object} elements  {spotlight, grid, gridHead, gridPage, audio}
 * @param {import("./context.js").RoomContext} room
 */
export function mountStage(elements, room) {
  const client = room.client;
  const tiles = new Map(); // mid → Tile
  const audios = new Map(); // mid → <audio>
  const samples = new Map(); // mid → {stats, at}
  const asked = new Map(); // mid → height last sent with media.view
  const self = new Tile("self");
  self.root.classList.add("self");
  let page = 0;
  let pages = 1;

  function chairKey() {
    for (const participant of room.participants.values()) {
      if (participant.meeting_role === "chair") return participant.key;
    }
    return null;
  }

  function describe(key) {
    const participant = room.participants.get(key);
    if (!participant) return [key || "", ""];
    const detail = participant.kind === "endpoint" ? "" : participant.unit_name;
    return [participant.name, detail];
  }

  function endpointCount() {
    let count = 0;
    for (const participant of room.participants.values()) {
      if (participant.kind === "endpoint" && participant.key !== room.self.key) count += 1;
    }
    return count;
  }

  function videoSlots() {
    return client.slotList().filter((slot) => slot.kind === "video" && slot.participant);
  }

  function pickMain(slots) {
    const screen = slots.find((s) => s.source === "screen");
    if (screen) return screen;
    const onAir = client.spotlight || chairKey();
    return (
      slots.find((s) => s.participant === onAir) ||
      slots.find((s) => s.participant === client.speaker) ||
      slots[0] ||
      null
    );
  }

  function tileFor(mid) {
    if (!tiles.has(mid)) tiles.set(mid, new Tile(mid));
    return tiles.get(mid);
  }

  function renderAudio() {
    const live = new Set();
    for (const slot of client.slotList()) {
      if (slot.kind !== "audio") continue;
      live.add(slot.mid);
      if (!audios.has(slot.mid)) {
        const audio = element("audio", "", { autoplay: "", "data-mid": slot.mid });
        const track = client.trackFor(slot.mid);
        if (track) audio.srcObject = new MediaStream([track]);
        elements.audio.append(audio);
        audios.set(slot.mid, audio);
        audio.play().catch(() => {}); // autoplay policy: the Join click usually allows it
      }
    }
    for (const [mid, audio] of audios) {
      if (!live.has(mid)) {
        audio.srcObject = null;
        audio.remove();
        audios.delete(mid);
      }
    }
  }

  function render() {
    const slots = videoSlots();
    const main = pickMain(slots);
    const speaker = client.speaker;
    const live = new Set(slots.map((s) => s.mid));
    for (const [mid, tile] of tiles) {
      if (!live.has(mid)) {
        tile.show(null);
        tile.root.remove();
        tiles.delete(mid);
        samples.delete(mid);
        asked.delete(mid);
      }
    }
    const gridTiles = [];
    for (const slot of slots) {
      const tile = tileFor(slot.mid);
      tile.show(client.trackFor(slot.mid));
      const [name, detail] = describe(slot.participant);
      tile.label(slot.source === "screen" ? t("room.screen_of", { name }) : name, detail);
      tile.root.dataset.participant = slot.participant;
      tile.root.dataset.source = slot.source;
      tile.root.classList.toggle("speaking", slot.participant === speaker);
      tile.root.classList.toggle("on-air", slot.participant === (client.spotlight || chairKey()));
      if (slot === main) continue;
      gridTiles.push(tile.root);
    }
    if (main) {
      const tile = tiles.get(main.mid);
      if (tile.root.parentElement !== elements.spotlight) elements.spotlight.replaceChildren(tile.root);
    } else {
      const waiting = element("p", "waiting");
      waiting.textContent = t("room.waiting_video");
      elements.spotlight.replaceChildren(waiting);
    }
    self.show(client.localTrack("camera"));
    self.label(t("room.you"), "");
    self.root.classList.toggle("camera-off", !client.sending("camera"));
    elements.grid.replaceChildren(...gridTiles, self.root);
    const grid = room.can("media.direct");
    pages = Math.max(1, Math.ceil(endpointCount() / GRID_PAGE_SIZE));
    page = Math.min(page, pages - 1);
    elements.gridHead.hidden = !grid || pages <= 1;
    elements.gridPage.textContent = t("room.grid.page", { page: page + 1, pages });
    renderAudio();
    requestAnimationFrame(sendViews);
  }

  // Tell the SFU the height each slot is shown at, in device pixels (it picks the layer).
  function sendViews() {
    if (!client.mediaReady) return; // between sessions: the next negotiation re-renders
    for (const [mid, tile] of tiles) {
      const height = Math.round(tile.video.clientHeight * (window.devicePixelRatio || 1));
      if (!height) continue;
      const before = asked.get(mid);
      if (before !== undefined && Math.abs(before - height) < VIEW_STEP_PX) continue;
      asked.set(mid, height);
      client.view(mid, height).catch((error) => console.warn("media.view:", error));
    }
  }

  async function sampleQuality() {
    const now = performance.now();
    for (const [mid, tile] of tiles) {
      const stats = await client.inboundStats(mid).catch(() => null);
      const before = samples.get(mid);
      samples.set(mid, { stats, at: now });
      if (before && stats) {
        const quality = classifyInbound(before.stats, stats, (now - before.at) / 1000);
        if (quality) {
          tile.setQuality(quality.level);
          tile.root.dataset.fps = String(quality.fps);
        }
      }
    }
    if (client.pc) {
      const report = await client.pc.getStats().catch(() => null);
      if (report) {
        self.setQuality(classifyUplink(report).level);
      }
    }
  }

  async function setGridPage(delta) {
    const wanted = Math.max(0, Math.min(pages - 1, page + delta));
    const ack = await client.setPage(wanted);
    page = ack.page;
    pages = ack.pages;
    render();
  }

  const resize = new ResizeObserver(() => requestAnimationFrame(sendViews));
  resize.observe(elements.spotlight);
  resize.observe(elements.grid);
  const timer = setInterval(() => sampleQuality().catch(() => {}), STATS_INTERVAL_MS);
  // A new transport (reconnect, ICE restart) starts with no layer choices of ours.
  client.addEventListener("joined", () => asked.clear());
  client.addEventListener("media", () => asked.clear());
  for (const type of ["slots", "speaker", "spotlight", "negotiated", "local"]) {
    client.addEventListener(type, render);
  }
  room.onLanguage(render);
  render();

  return {
    render,
    setGridPage,
    destroy() {
      clearInterval(timer);
      resize.disconnect();
    },
  };
}
