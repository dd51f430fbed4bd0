// Shared page state and a minimal publish/subscribe so views redraw when it changes.

export const state = {
  user: null, // GET /api/auth/me, or null when logged out
  restoringSession: false, // a stored session is being renewed on page load
  semesters: null, // GET /api/semesters once loaded
  courses: new Map(), // id -> course, from the semesters
  favorites: null, // GET /api/user/courses entries, null until loaded
  favoritesError: null,
  favoritesLoading: false,
  teacherCourseIds: new Set(), // courses whose materials this user may edit
};

const listeners = new Map();

export function on(event, listener) {
  if (!listeners.has(event)) listeners.set(event, new Set());
  listeners.get(event).add(listener);
}

export function emit(event, detail) {
  for (const listener of listeners.get(event) || []) listener(detail);
}

export function isFavorite(courseId) {
  return Boolean(state.favorites?.some((entry) => entry.course_id === courseId));
}

export function canEditCourse(courseId) {
  const permissions = state.user?.permissions || [];
  if (permissions.includes("courses:admin")) return true;
  return permissions.includes("materials:write") && state.teacherCourseIds.has(courseId);
}
