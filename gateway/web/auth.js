// Who is logged in: restored on page load from the refresh cookie (HttpOnly, so only the auth
// service can read it), changed by the login, registration and logout forms. Views listen for
// the "user" event.

import { api, acceptTokens, forgetTokens, onSessionLost, refreshSession } from "./api.js";
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

export async function register(email, password, fullName) {
  await api.register(email, password, fullName);
  return login(email, password);
}

export async function logout() {
  forgetTokens();
  setUser(null);
  // Revoking (and clearing the cookie) is best effort: the page already forgot the session.
  await api.logout().catch(() => {});
}

onSessionLost(() => {
  if (state.user) setUser(null);
});
