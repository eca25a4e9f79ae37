// The REST API (/api/v1) as the browser client uses it. Two kinds of callers:
//   people log in with a password: the server sets an HttpOnly session cookie and a readable
//     CSRF cookie; every state-changing request echoes the CSRF cookie in X-CSRF-Token;
//   endpoint devices exchange their device token (/device#token=phd_...) for a short-lived
//     bearer token, kept in sessionStorage (gone with the tab) and refreshed before it expires.
// Errors come back as ApiError (the server's {"error": {"code", "message"}} plus the status);
// errorMessage() turns one into a sentence in the current language.
//
// Exports:
//   ApiError                       Error with status, code, details (status 0: network failure)
//   api(method, path, body)        JSON request to /api/v1<path>; resolves to the decoded body
//   apiGet(path), apiPost(path, body)
//   login(username, password)      password login (cookie session); resolves to the account
//   logout()                       end the cookie session and forget any bearer token
//   deviceLogin(token)             device token → bearer token kept for this tab
//   whoAmI()                       GET /auth/me, or null when nobody is logged in
//   accessToken()                  a valid bearer token for socket.io (refreshed or minted)
//   hasCredentials()               whether a login may be live (bearer or session cookie)
//   hasBearer(), clearBearer()
//   API_BASE                       "/api/v1", for callers that cannot use fetch (upload progress)
//   authHeaders(method)            the credentials header a request needs: the bearer token, or
//                                  the CSRF token for a state-changing cookie-session request
//   errorMessage(error, overrides) the error in the current language; overrides maps an error
//                                  code to the (translated) sentence this call site prefers

import { hasKey, t } from "./i18n.js";

export const API_BASE = "/api/v1";
const BASE = API_BASE;
const CSRF_COOKIE = "phonghop_csrf";
const CSRF_HEADER = "X-CSRF-Token";
const BEARER_KEY = "phonghop.bearer";
const REFRESH_MARGIN_MS = 120_000; // refresh a bearer token two minutes before it expires
const SAFE_METHODS = new Set(["GET", "HEAD"]);

/** An error answer of the API, or status 0 when the server could not be reached. */
export class ApiError extends Error {
  constructor(status, code, message, details = undefined) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

function csrfToken() {
  for (const part of document.cookie.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === CSRF_COOKIE) {
      return decodeURIComponent(value.join("="));
    }
  }
  return null;
}

function storedBearer() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(BEARER_KEY) || "null");
    if (stored && typeof stored.token === "string" && stored.expiresAt > Date.now()) {
      return stored;
    }
  } catch {
    // unreadable: treat as absent
  }
  return null;
}

function storeBearer(token, expiresInSeconds) {
  sessionStorage.setItem(
    BEARER_KEY,
    JSON.stringify({ token, expiresAt: Date.now() + expiresInSeconds * 1000 }),
  );
}

/** Whether this tab holds a (not yet expired) bearer token, i.e. is an endpoint device. */
export function hasBearer() {
  return storedBearer() !== null;
}

/** Whether this tab may be logged in: a bearer token, or the session's CSRF cookie (set and
 *  deleted together with the HttpOnly session cookie, which the page cannot see). */
export function hasCredentials() {
  return hasBearer() || csrfToken() !== null;
}

/** Forget this tab's bearer token. */
export function clearBearer() {
  sessionStorage.removeItem(BEARER_KEY);
}

async function send(method, path, body, bearer) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
  }
  if (bearer) {
    headers.Authorization = `Bearer ${bearer}`;
  } else if (!SAFE_METHODS.has(method)) {
    const csrf = csrfToken();
    if (csrf) {
      headers[CSRF_HEADER] = csrf;
    }
  }
  let response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
  } catch (error) {
    throw new ApiError(0, "network", String(error));
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null; // a proxy's HTML error page: keep the status only
    }
  }
  if (!response.ok) {
    const error = data && data.error ? data.error : {};
    throw new ApiError(
      response.status,
      error.code || `http_${response.status}`,
      error.message || response.statusText,
      error.details,
    );
  }
  return data;
}

async function freshBearer() {
  const stored = storedBearer();
  if (stored === null) {
    return null;
  }
  if (stored.expiresAt - Date.now() > REFRESH_MARGIN_MS) {
    return stored.token;
  }
  const renewed = await send("POST", "/auth/refresh", undefined, stored.token);
  storeBearer(renewed.access_token, renewed.expires_in);
  return renewed.access_token;
}

/** The credentials header `method` needs, exactly as api() sends them (for XMLHttpRequest
 *  uploads, which need progress events fetch does not give): bearer, else CSRF if unsafe. */
export async function authHeaders(method) {
  const bearer = await freshBearer();
  if (bearer) {
    return { Authorization: `Bearer ${bearer}` };
  }
  const csrf = SAFE_METHODS.has(method) ? null : csrfToken();
  return csrf ? { [CSRF_HEADER]: csrf } : {};
}

/** A JSON request to the API; resolves to the decoded answer (null for 204). */
export async function api(method, path, body = undefined) {
  return send(method, path, body, await freshBearer());
}

/** GET `path` under /api/v1. */
export function apiGet(path) {
  return api("GET", path);
}

/** POST `body` as JSON to `path` under /api/v1. */
export function apiPost(path, body = undefined) {
  return api("POST", path, body);
}

/** Password login: the server sets the session and CSRF cookies. Resolves to the account. */
export async function login(username, password) {
  clearBearer(); // a person logging in on a device tab takes it over
  const answer = await send("POST", "/auth/login", { username, password }, null);
  return answer.account;
}

/** Log out: end the cookie session (if any) and forget the tab's bearer token. */
export async function logout() {
  try {
    await api("POST", "/auth/logout");
  } finally {
    clearBearer();
  }
}

/** Log out; a refusal is only logged, since the session may already be gone server-side
 * and the page forgets it regardless. */
export async function logoutQuietly() {
  try {
    await logout();
  } catch (caught) {
    console.warn("logout:", caught);
  }
}

/** Log out quietly, then go to the home page (pages other than the home page). */
export async function logoutAndLeave() {
  await logoutQuietly();
  location.assign("/");
}

/** Exchange a device token for a bearer token kept in this tab. */
export async function deviceLogin(token) {
  const answer = await send("POST", "/auth/device", { token }, null);
  storeBearer(answer.access_token, answer.expires_in);
  return answer;
}

/** Who is logged in (GET /auth/me), or null when nobody is. */
export async function whoAmI() {
  try {
    return await apiGet("/auth/me");
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      clearBearer();
      return null;
    }
    throw error;
  }
}

/** A bearer token for socket.io: the device's, or a short-lived one minted for the session. */
export async function accessToken() {
  const bearer = await freshBearer();
  if (bearer) {
    return bearer;
  }
  const minted = await send("POST", "/auth/refresh", undefined, null);
  return minted.access_token;
}

/** `error` as a sentence in the current language. */
export function errorMessage(error, overrides = {}) {
  if (!(error instanceof ApiError)) {
    // A socket.io acknowledgement's error (SfuError) has a code too.
    const code = error && typeof error.code === "string" ? error.code : null;
    if (code && Object.prototype.hasOwnProperty.call(overrides, code)) {
      return overrides[code];
    }
    return code && hasKey(`error.${code}`) ? t(`error.${code}`) : t("error.generic", { status: "?" });
  }
  if (error.status === 0) {
    return t("error.network");
  }
  if (Object.prototype.hasOwnProperty.call(overrides, error.code)) {
    return overrides[error.code];
  }
  const key = `error.${error.code}`;
  return hasKey(key) ? t(key) : t("error.generic", { status: error.status });
}
