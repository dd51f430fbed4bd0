// Who is logged in: restored on page load from the refresh cookie (HttpOnly, so only the auth
// service can read it), changed by the login, registration and logout forms. Views listen for
// the "user" event.

import {
  abandonExpectedSession,
  acceptTokens,
  api,
  expectSession,
  forgetTokens,
  onSessionLost,
  refreshSession,
} from "./api.js";
import { emit, state } from "./state.js";

function setUser(user) {
  state.user = user;
  emit("user", user);
}

async function loadUser({ notify = true } = {}) {
  const user = await api.me();
  state.teacherCourseIds = new Set();
  const permissions = user.permissions || [];
  if (permissions.includes("materials:write")) {
    try {
      const courses = await api.teacherCourses();
      state.teacherCourseIds = new Set((courses || []).map((course) => course.id));
    } catch {
      // Without the list the teacher just sees no edit controls; nothing else depends on it.
    }
  }
  if (notify) setUser(user);
  else state.user = user;
  return user;
}

/**
 * On page load: the refresh cookie keeps the user logged in across reloads. Sets state.user
 * without announcing it; the caller emits "user" once start-up is done.
 */
export async function restoreSession() {
  state.user = null;
  if (!api.hasStoredSession()) return null;
  const renewed = await refreshSession(); // throws ApiError when auth cannot be reached
  if (!renewed) return null;
  return loadUser({ notify: false });
}

export async function login(email, password) {
  acceptTokens(await api.login(email, password));
  return loadUser();
}

/** The account again (after its address was verified: new permissions come with a new token). */
export async function reloadUser() {
  if (!(await refreshSession())) return null;
  return loadUser();
}

/** This browser's session ended elsewhere (a password reset ends them all). */
export function forgetUser() {
  forgetTokens();
  setUser(null);
}

export async function register(email, password, fullName) {
  await api.register(email, password, fullName);
  return login(email, password);
}

/** Ends the session; resolves to the provider's logout page when the login came through one. */
export async function logout() {
  forgetTokens();
  setUser(null);
  // Revoking (and clearing the cookie) is best effort: the page already forgot the session.
  const answer = await api.logout().catch(() => null);
  return answer?.end_session_url || null;
}

let providersLoaded = null;

/** The university sign-in providers (usually none or one), asked once per page load. */
export function signInProviders() {
  providersLoaded ||= api.providers().catch(() => {
    providersLoaded = null;
    return [];
  });
  return providersLoaded;
}

/** Off to the provider's sign-in page; the portal comes back at `next` (a route of this UI). */
export function signInWithProvider(provider, next = location.hash || "#/") {
  expectSession();
  location.assign(`${provider.login_url}?next=${encodeURIComponent("/" + next)}`);
}

/**
 * The outcome of a sign-in through the provider that came back with `signin_error` (and, for
 * an account to link, `provider`) in the address: taken out of the address, and returned.
 */
export function takeSignInError() {
  const [path, query = ""] = location.hash.split("?", 2);
  const params = new URLSearchParams(query);
  const code = params.get("signin_error");
  if (!code) return null;
  const provider = params.get("provider");
  params.delete("signin_error");
  params.delete("provider");
  const rest = params.toString();
  history.replaceState(null, "", `${location.pathname}${path || "#/"}${rest ? `?${rest}` : ""}`);
  abandonExpectedSession();
  return { code, provider };
}

/** Link a university account to the signed-in one: sign in at the provider, come back. */
export async function linkProvider(name, next = location.hash || "#/") {
  const { authorization_url: url } = await api.linkProvider(name, "/" + next);
  location.assign(url);
}

onSessionLost(() => {
  if (state.user) setUser(null);
});
