// Entry point of the meeting room page (/meetings/<id>): log in check, join through the SFU
// client, lay out the stage, the controls and the side panels, and keep everything alive
// across network drops (socket.io reconnects and joins again; an ICE failure gets a new
// transport; panels reload their state after either).
//
// Panels are separate modules mounted with (root, room) — see context.js for `room`. They are
// imported one by one so that a panel failing to load leaves the video and the other panels
// working.

import { RtcClient, SIMULCAST_ENCODINGS } from "../../rtc-client.js";
import { accessToken, apiGet, errorMessage, hasCredentials, whoAmI } from "../api.js";
import { bindLanguageSelect, initI18n, onLanguageChange, t } from "../i18n.js";
import { RoomContext } from "./context.js";
import { mountControls } from "./controls.js";
import { mountPeople } from "./people.js";
import { mountRecording } from "./recording.js";
import { mountStage } from "./stage.js";
import { mountTabs } from "./tabs.js";

const $ = (id) => document.getElementById(id);

const PANELS = [
  ["documents", "./documents.js"],
  ["speakers", "./speakers.js"],
  ["voting", "./voting.js"],
];

function meetingIdFromPath() {
  const match = location.pathname.match(/^\/meetings\/(\d+)\/?$/);
  return match ? Number(match[1]) : null;
}

/** Camera and microphone if there are both, else what there is, else nothing (receive only). */
async function captureMedia() {
  const attempts = [
    { audio: true, video: { width: 1280, height: 720 } },
    { audio: true, video: false },
    { audio: false, video: { width: 1280, height: 720 } },
  ];
  for (const constraints of attempts) {
    try {
      return await navigator.mediaDevices.getUserMedia(constraints);
    } catch (error) {
      console.warn("getUserMedia:", constraints, error.name);
    }
  }
  return new MediaStream();
}

function showBootError(text) {
  $("boot-status").hidden = true;
  const error = $("boot-error");
  error.textContent = text;
  error.hidden = false;
}

async function start() {
  await initI18n();
  bindLanguageSelect($("lang-top"));
  const meetingId = meetingIdFromPath();
  if (meetingId === null) {
    showBootError(t("error.not_found"));
    return;
  }
  if (!hasCredentials()) {
    location.replace(`/?next=${encodeURIComponent(location.pathname)}`);
    return;
  }
  $("boot-status").textContent = t("room.joining");
  let who;
  let meeting;
  try {
    who = await whoAmI();
    if (who === null) {
      location.replace(`/?next=${encodeURIComponent(location.pathname)}`);
      return;
    }
    meeting = await apiGet(`/meetings/${meetingId}`);
  } catch (error) {
    showBootError(errorMessage(error));
    return;
  }
  renderMeeting(meeting);

  const stream = await captureMedia();
  const client = new RtcClient({
    token: await accessToken(),
    meetingId,
    stream,
    audio: stream.getAudioTracks().length > 0,
    video: stream.getVideoTracks().length > 0,
    simulcast: true,
    encodings: SIMULCAST_ENCODINGS,
    slots: { audio: 3, video: 2 },
  });
  // The join ack carries the TURN credentials; the peer connection is made after it.
  client.addEventListener("joined", (event) => {
    client.options.iceServers = event.detail.ack.ice_servers || [];
  });
  try {
    await client.start();
  } catch (error) {
    await client.close();
    showBootError(joinErrorText(error));
    return;
  }
  if (stream.getTracks().length === 0) {
    toast(t("room.no_devices"));
  }

  const page = pageServices();
  const room = new RoomContext({ client, meeting: client.joinInfo.meeting || meeting, page });
  $("boot-status").hidden = true;
  $("room").hidden = false;
  renderMeeting(room.meeting, room.locked);

  const stage = mountStage(
    {
      spotlight: $("spotlight"),
      grid: $("grid"),
      gridHead: $("grid-head"),
      gridPage: $("grid-page"),
      audio: ensureAudioSink(),
    },
    room,
  );
  $("grid-prev").addEventListener("click", () => stage.setGridPage(-1).catch(report));
  $("grid-next").addEventListener("click", () => stage.setGridPage(1).catch(report));
  const people = mountPeople($("panel-people"), room, stage);
  const controls = mountControls(room, { onLeave: () => leave(client) });
  const recording = mountRecording(room, {
    indicator: $("recording-indicator"),
    button: $("record"),
    link: $("recordings-link"),
    endedLink: $("ended-recordings"),
  });
  const panels = [people, controls, recording];
  for (const [name, url] of PANELS) {
    const root = $(`panel-${name}`);
    try {
      const module = await import(url);
      panels.push(module.mount(root, room) || {});
    } catch (error) {
      console.error(`room: the ${name} panel failed`, error);
      root.textContent = t("room.panel_failed");
    }
  }

  // Presence and meeting state.
  // Presence changes come coalesced: {participants: [...], count} per event.
  for (const event of ["participant.joined", "participant.updated"]) {
    room.on(event, (data) => {
      for (const p of data.participants || []) room.participants.set(p.key, p);
      stage.render();
    });
  }
  room.on("participant.left", (data) => {
    for (const p of data.participants || []) room.participants.delete(p.key);
    stage.render();
  });
  for (const event of ["meeting.started", "meeting.updated"]) {
    room.on(event, (data) => {
      room.meeting = { ...room.meeting, ...(data.meeting || data) };
      renderMeeting(room.meeting, room.locked);
    });
  }
  room.on("meeting.locked", (data) => {
    room.locked = Boolean(data.locked);
    renderMeeting(room.meeting, room.locked);
    toast(t(room.locked ? "room.locked_now" : "room.unlocked_now"));
  });
  room.on("meeting.ended", () => {
    room.meeting = { ...room.meeting, state: "ended" };
    renderMeeting(room.meeting, room.locked);
    client.close();
    showEnded();
  });
  room.on("meeting.cancelled", () => {
    client.close();
    showEnded();
  });
  room.on("session.revoked", () => {
    client.close();
    showBootError(t("error.unauthenticated"));
    $("room").hidden = true;
  });

  // Network: a visible state while anything is down; panels reload after a new session.
  const network = { socket: "connected", media: "connected" };
  client.addEventListener("socket", (event) => {
    if (event.detail.state === "disconnected") network.socket = "down";
    if (event.detail.state === "connected" || event.detail.state === "reconnected") {
      network.socket = "connected";
    }
    // A new session publishes on a new peer connection: media is back when that connects.
    if (event.detail.state === "reconnected") network.media = "connecting";
    renderNetwork(network);
  });
  client.addEventListener("connection", (event) => {
    const state = event.detail.state;
    network.media = state === "connected" ? "connected" : state === "new" || state === "connecting" ? "connecting" : "down";
    renderNetwork(network);
  });
  client.addEventListener("media", (event) => {
    network.media = event.detail.state === "restarting" ? "down" : network.media;
    renderNetwork(network);
  });
  client.addEventListener("joined", (event) => {
    if (!event.detail.again) return;
    room.applyJoin(event.detail.ack);
    renderMeeting(room.meeting, room.locked);
    for (const panel of panels) {
      if (panel && typeof panel.resync === "function") {
        Promise.resolve(panel.resync()).catch((error) => console.warn("resync:", error));
      }
    }
    stage.render();
    toast(t("room.reconnected"));
  });
  client.addEventListener("error", (event) => console.warn("rtc:", event.detail.during, event.detail.error));
  onLanguageChange(() => {
    renderMeeting(room.meeting, room.locked);
    renderNetwork(network);
  });
  renderNetwork(network);
  // A handle for diagnostics from the browser console (and the end-to-end tests), as
  // Jitsi Meet's APP: the room context, through which the RtcClient and its statistics.
  window.phonghop = { room, stage };
  document.body.dataset.joined = "true";
}

function joinErrorText(error) {
  const known = {
    room_locked: "room.error.locked",
    conflict: "room.error.not_joinable",
    forbidden: "error.forbidden",
    not_found: "error.not_found",
  };
  return t(known[error.code] || "room.error.join");
}

function renderMeeting(meeting, locked = false) {
  $("meeting-title").textContent = meeting.title;
  document.title = `${meeting.title} – ${t("app.name")}`;
  const state = $("meeting-state");
  state.textContent = t(`state.${meeting.state}`);
  state.dataset.state = meeting.state;
  $("meeting-locked").hidden = !locked;
}

function renderNetwork(network) {
  const banner = $("net-banner");
  const indicator = $("net-state");
  let key = null;
  if (network.socket !== "connected") key = "room.net.reconnecting";
  else if (network.media === "down") key = "room.net.media_restoring";
  else if (network.media === "connecting") key = "room.net.connecting";
  banner.hidden = key === null || key === "room.net.connecting";
  banner.textContent = key ? t(key) : "";
  indicator.dataset.state = key === null ? "ok" : "down";
  indicator.textContent = key === null ? t("room.net.ok") : t(key);
}

function showEnded() {
  $("room").hidden = true;
  const status = $("boot-status");
  status.hidden = false;
  status.textContent = t("room.ended");
}

function ensureAudioSink() {
  const sink = document.createElement("div");
  sink.className = "audio-sink";
  sink.hidden = true;
  document.body.append(sink);
  return sink;
}

let toastTimer = null;
function toast(text) {
  const node = $("toast");
  node.textContent = text;
  node.classList.add("shown");
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => node.classList.remove("shown"), 6000);
}

function report(error) {
  toast(errorMessage(error));
}

function pageServices() {
  const tabs = mountTabs(document.querySelector(".side"));
  return {
    viewerArea: $("viewer-area"),
    attention: (panel, options) => tabs.attention(panel, options),
    openViewer() {
      $("viewer-area").hidden = false;
      document.body.classList.add("viewing");
    },
    closeViewer() {
      $("viewer-area").hidden = true;
      document.body.classList.remove("viewing");
    },
    toast,
  };
}

async function leave(client) {
  // Leave at once (a dropped socket keeps the seat for the reconnect grace period).
  await client.request("leave", { meeting_id: client.meetingId }).catch(() => {});
  await client.close();
  location.assign("/");
}

start().catch((error) => {
  console.error("phonghop room:", error);
  showBootError(t("room.error.join"));
});
