// What every console section does when it loads: a 403 means the user may not read that part
// (the section stays hidden), a 401 means the session is gone (the page goes to the login
// page), anything else is shown in the section.
//
// Exports:
//   loadSection(reload, message, render)
//       run reload(); resolves to true (show the section) or false (forbidden); rethrows 401;
//       other errors go to `message` (a changes.js Message) and the section re-renders, shown

import { ApiError } from "../api.js";

/** Load a section; see the module comment. */
export async function loadSection(reload, message, render) {
  try {
    await reload();
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) {
      return false;
    }
    if (error instanceof ApiError && error.status === 401) {
      throw error;
    }
    message.fail(error, null); // the section's overrides word refused changes, not loads
    render();
    return true;
  }
}
