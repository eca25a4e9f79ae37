// Which of the console's write controls to show this user in this meeting.
//
// Only a guide for hiding controls: the server decides every request (meetings/permissions.py)
// and the sections show its 403 answer if the guess was wrong. The relations come from the
// meeting (chair_id, secretary_id) and the account's role; "organiser" (the account that
// scheduled the meeting) is not in the meeting's JSON, so a chair- or secretary-role account
// that is neither of the two is asked about with one read only hosts may make (the audit chain).
//
// Exports:
//   SECRETARY_ACTIONS              the actions that make the console more than read-only
//   capabilities(me, meeting)      resolves to a Set of the Action values (strings) shown

import { ApiError, apiGet } from "../api.js";

/** Actions the console offers controls for; the first group marks a host of the meeting. */
export const SECRETARY_ACTIONS = Object.freeze([
  "agenda.edit",
  "document.manage",
  "attendance.record",
  "conclusion.write",
  "poll.prepare",
  "poll.conduct",
  "minutes.edit",
  "minutes.approve",
]);

// Mirrors the rules of meetings/permissions.py for the actions above (and minutes.archive).
const HOSTS = ["agenda.edit", "document.manage", "minutes.archive"]; // admin role too
const CHAIR_OR_SECRETARY = [
  "attendance.record",
  "conclusion.write",
  "poll.prepare",
  "minutes.edit",
];
const CHAIR_ONLY = ["poll.conduct", "minutes.approve"];

async function isOrganiser(meetingId) {
  try {
    await apiGet(`/meetings/${meetingId}/audit?limit=1`);
    return true;
  } catch (error) {
    if (error instanceof ApiError && (error.status === 403 || error.status === 404)) {
      return false;
    }
    throw error;
  }
}

/** The console actions `me` (GET /auth/me) is shown in `meeting` (GET /meetings/{id}). */
export async function capabilities(me, meeting) {
  const allowed = new Set();
  if (me.kind !== "account") {
    return allowed; // endpoint devices only ever attend
  }
  const chair = me.id === meeting.chair_id;
  const secretary = me.id === meeting.secretary_id;
  let host = chair || secretary || me.role === "admin";
  if (!host && (me.role === "chair" || me.role === "secretary")) {
    host = await isOrganiser(meeting.id);
  }
  if (host) {
    HOSTS.forEach((action) => allowed.add(action));
  }
  if (chair || secretary) {
    CHAIR_OR_SECRETARY.forEach((action) => allowed.add(action));
  }
  if (chair) {
    CHAIR_ONLY.forEach((action) => allowed.add(action));
  }
  return allowed;
}
