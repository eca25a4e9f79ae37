// The control bar under the video: microphone, camera and screen share for everyone, and the
// check-in (điểm danh) that puts a member on the attendance sheet — those present when a poll
// opens are its voters, so it is a deliberate act, as OpenSlides' "present" is; for the
// chair, start and end the meeting, the next agenda item, mute everyone, lock the room. Also
// obeys the server's media requests: "media.muted" (the chair muted us) turns the microphone
// off, "media.unmute" (the chair gave us the floor) turns it on.
//
// Exports:
//   mountControls(room, {onLeave})

import { t } from "../i18n.js";

const $ = (id) => document.getElementById(id);

function setToggle(button, on, labelOn, labelOff, warnWhenOff = false) {
  // The label says what pressing does; aria-pressed says the current state. A muted
  // microphone or a stopped camera is marked, so nobody talks into a muted mic unaware.
  button.setAttribute("aria-pressed", String(on));
  button.textContent = on ? t(labelOn) : t(labelOff);
  button.classList.toggle("off", warnWhenOff && !on);
}

export function mountControls(room, { onLeave }) {
  const client = room.client;
  const { api, apiPost, errorMessage } = room.api;
  const mic = $("mic");
  const camera = $("camera");
  const screen = $("screen");
  const chair = $("chair-controls");
  const lock = $("lock");
  const startButton = $("meeting-start");
  const checkIn = $("check-in");
  let checkedIn = null; // unknown until the sheet is read
  const hasMic = Boolean(client.localTrack("microphone"));
  const hasCamera = Boolean(client.localTrack("camera"));
  const canShare = Boolean(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);

  function render() {
    setToggle(mic, client.sending("microphone"), "room.mic.mute", "room.mic.unmute", true);
    setToggle(camera, client.sending("camera"), "room.camera.off", "room.camera.on", true);
    setToggle(screen, client.sending("screen"), "room.screen.stop", "room.screen.start");
    mic.disabled = !hasMic;
    camera.disabled = !hasCamera;
    screen.hidden = !canShare;
    checkIn.hidden = !room.can("attendance.check_in") || room.meeting.state !== "live";
    checkIn.disabled = checkedIn === true;
    checkIn.textContent = t(checkedIn ? "room.checked_in" : "room.check_in");
    const isChair = room.can("media.direct");
    chair.hidden = !isChair && !room.can("agenda.direct");
    startButton.hidden = !(room.can("meeting.start") && room.meeting.state === "scheduled");
    $("meeting-end").hidden = !(room.can("meeting.end") && room.meeting.state === "live");
    $("agenda-next").hidden = !room.can("agenda.direct");
    $("mute-all").hidden = !isChair;
    lock.hidden = !isChair;
    setToggle(lock, room.locked, "room.unlock", "room.lock");
    lock.setAttribute("aria-pressed", String(room.locked));
    const consoleLink = $("console-link");
    consoleLink.hidden = !(room.can("document.manage") || room.can("minutes.edit"));
    consoleLink.href = `/meetings/${room.meetingId}/console`;
  }

  async function guarded(task) {
    try {
      await task();
    } catch (error) {
      room.toast(errorMessage(error));
    }
    render();
  }

  async function readAttendance() {
    if (!room.can("attendance.view")) return;
    const sheet = await room.api.apiGet(`/meetings/${room.meetingId}/attendance`);
    const mine = sheet.attendees.find((a) => a.attendee_key === room.self.key);
    checkedIn = Boolean(mine && mine.state === "present");
    render();
  }

  checkIn.addEventListener("click", () =>
    guarded(async () => {
      await room.call("attendance.check_in", { mode: "online" });
      checkedIn = true;
      room.toast(t("room.checked_in_toast"));
    }),
  );
  mic.addEventListener("click", () => {
    client.setMicrophone(!client.sending("microphone"));
  });
  camera.addEventListener("click", () => {
    client.setCamera(!client.sending("camera"));
  });
  screen.addEventListener("click", () =>
    guarded(async () => {
      if (client.sending("screen")) await client.stopScreenShare();
      else await client.startScreenShare();
    }),
  );
  startButton.addEventListener("click", () =>
    guarded(async () => {
      room.meeting = await apiPost(`/meetings/${room.meetingId}/start`);
    }),
  );
  $("meeting-end").addEventListener("click", () =>
    guarded(async () => {
      if (!window.confirm(t("room.end.confirm"))) return;
      await apiPost(`/meetings/${room.meetingId}/end`);
    }),
  );
  $("agenda-next").addEventListener("click", () =>
    guarded(() => apiPost(`/meetings/${room.meetingId}/agenda/next`)),
  );
  $("mute-all").addEventListener("click", () =>
    guarded(async () => {
      const ack = await room.call("media.mute", { participant: null });
      room.toast(t("room.muted_all", { count: ack.muted ?? 0 }));
    }),
  );
  lock.addEventListener("click", () =>
    guarded(async () => {
      const path = `/meetings/${room.meetingId}/lock`;
      await api(room.locked ? "DELETE" : "POST", path);
    }),
  );
  $("leave").addEventListener("click", () => onLeave());

  room.on("media.muted", () => {
    client.setMicrophone(false);
    room.toast(t("room.muted_by_chair"));
  });
  room.on("media.unmute", () => {
    client.setMicrophone(true);
    room.toast(t("room.floor_granted"));
  });
  client.addEventListener("local", render);
  for (const event of ["meeting.started", "meeting.updated", "meeting.locked"]) {
    room.on(event, () => setTimeout(render));
  }
  client.addEventListener("joined", () => setTimeout(render));
  room.onLanguage(render);
  render();
  readAttendance().catch((error) => console.warn("attendance:", error));
  return { render, resync: readAttendance };
}
