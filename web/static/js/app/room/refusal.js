// Why the server refused something a room panel asked for, as a sentence in the current
// language: a REST answer (ApiError) or a socket.io acknowledgement's error ({code, message};
// "no_ack" and "not_connected" when no answer came back).
//
// Exports:
//   refusalText(error, overrides)  the sentence; overrides maps an error code to the
//                                  (translated) sentence the panel prefers for it

import { ApiError, errorMessage } from "../api.js";
import { t } from "../i18n.js";

/**
 * A refusal of the server (socket ack or REST) as a sentence in the current language.
 * @param {unknown} error
 * @param {Object<string, string>} [overrides]
 * @returns {string}
 */
export function refusalText(error, overrides = {}) {
  if (error instanceof ApiError) {
    return errorMessage(error, overrides);
  }
  if (!error || !error.code || error.code === "no_ack" || error.code === "not_connected") {
    return t("error.network"); // no ack: the connection dropped or timed out
  }
  return errorMessage(new ApiError(409, error.code, error.message || ""), overrides);
}
