// The page's session with the Orchestrator's API. Every `/v1/*` call carries a bearer token; the
// token lives in sessionStorage, so it survives a reload of the tab but not the tab itself, and
// is never in a URL the browser keeps (the one-time `?login=` token of `silverline up` is
// exchanged for a session token and removed from the address bar before anything else).
// EventSource cannot send headers, so the event stream gets the token as `?access_token=`.

const KEY = 'silverline.token';

/** Roles in increasing power; each can do what the ones before it can (docs/dashboard.md). */
const ROLES = ['viewer', 'operator', 'admin'];

/** An error answer of the API: `status` is the HTTP status, `code` the API's error code. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let current = { role: null, name: null };
let unauthenticated = () => {};

export const storedToken = () => sessionStorage.getItem(KEY);
export const storeToken = (token) => sessionStorage.setItem(KEY, token);
export const forgetToken = () => sessionStorage.removeItem(KEY);

/** Who the page acts as ({role, name} from `GET /v1/whoami`), once logged in. */
export const who = () => current;
export function setWho(w) {
  current = { role: w?.role ?? null, name: w?.name ?? null };
}

/**
 * Whether the current role includes `role`. The server decides in the end; this only keeps
 * controls a role cannot use off the page. An unknown role is allowed nothing.
 */
export function allows(role) {
  const have = ROLES.indexOf(current.role);
  return have >= 0 && have >= ROLES.indexOf(role);
}

/** Call `f(message)` when the API refuses the stored token (missing, revoked or expired). */
export function onUnauthenticated(f) {
  unauthenticated = f;
}

/** The event stream's URL with the stored token (EventSource cannot send an Authorization header). */
export function eventsUrl() {
  return `/v1/events?access_token=${encodeURIComponent(storedToken() || '')}`;
}

async function send(method, path, token, body) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (body) headers['content-type'] = 'application/json';
  const r = await fetch(path, { method, cache: 'no-store', headers, body });
  const text = await r.text();
  let value = null;
  try { value = text ? JSON.parse(text) : null; } catch { value = text; }
  if (!r.ok) throw new ApiError(r.status, value?.error?.code ?? null, value?.error?.message || `${method} ${path}: HTTP ${r.status}`);
  return value;
}

/** A JSON call with the stored token; API errors are thrown as ApiError, a 401 also ends the session. */
export async function request(method, path, body) {
  const token = storedToken();
  try {
    return await send(method, path, token, body);
  } catch (e) {
    // Only the token this call carried is known to be refused: an answer that arrives after a
    // log-out, or after logging in again, says nothing about the token stored now.
    if (e instanceof ApiError && e.status === 401 && token && token === storedToken()) {
      forgetToken();
      unauthenticated(e.message);
    }
    throw e;
  }
}

/** Who `token` belongs to: `{role, name}`; throws ApiError (401) when the API does not accept it. */
export function whoami(token) {
  return send('GET', '/v1/whoami', token);
}

/** Trade a token (a one-time login token, or any valid one) for a new session token. */
export async function exchange(token) {
  const s = await send('POST', '/v1/session', token);
  if (!s?.token) throw new ApiError(500, null, 'POST /v1/session: no token in the answer');
  return s.token;
}

/** Log out: forget the stored session token and ask the Orchestrator to revoke it. */
export async function endSession() {
  const token = storedToken();
  forgetToken();
  if (!token) return;
  // Logged out locally either way; an Orchestrator that cannot be reached lets the token expire.
  try { await send('DELETE', '/v1/session', token); } catch { /* see above */ }
}
