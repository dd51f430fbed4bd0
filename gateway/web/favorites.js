// The user's favorite courses (the Sider): loading, adding, removing and reordering, with the
// toasts that confirm each change. Views redraw on the "favorites" event.

import { api } from "./api.js";
import { requestLogin } from "./dialogs.js";
import { h } from "./dom.js";
import { emit, isFavorite, state } from "./state.js";
import { toast } from "./toast.js";

let loadToken = 0;
const pendingAdds = new Set();
const justAdded = new Set();

export async function loadFavorites() {
  const token = ++loadToken;
  if (!state.user) {
    state.favorites = null;
    state.favoritesError = null;
    state.favoritesLoading = false;
    emit("favorites");
    return;
  }
  state.favoritesLoading = true;
  state.favoritesError = null;
  emit("favorites");
  try {
    const entries = await api.favorites();
    if (token !== loadToken) return;
    state.favorites = Array.isArray(entries) ? entries : [];
  } catch (error) {
    if (token !== loadToken) return;
    state.favorites = null;
    state.favoritesError = error;
  } finally {
    if (token === loadToken) {
      state.favoritesLoading = false;
      emit("favorites");
    }
  }
}

function courseName(courseId) {
  return state.courses.get(courseId)?.name || `Курс №${courseId}`;
}

/** Asks for a login first when nobody is logged in. */
export async function addFavorite(courseId) {
  if (!state.user) {
    const loggedIn = await requestLogin("Войдите, чтобы добавлять курсы в избранное.");
    if (!loggedIn) return;
    if (state.favoritesLoading || state.favorites === null) await loadFavorites();
  }
  if (state.user && state.user.email_verified === false) {
    toast("Подтвердите почту по ссылке из письма — и курс можно будет добавить в избранное.", {
      kind: "error",
    });
    return;
  }
  if (isFavorite(courseId) || pendingAdds.has(courseId)) return;
  pendingAdds.add(courseId);
  emit("favorites");
  try {
    const entry = await api.addFavorite(courseId);
    const course = entry?.course || state.courses.get(courseId) || null;
    const added = { ...entry, course_id: courseId, course };
    if (!isFavorite(courseId)) state.favorites = [...(state.favorites || []), added];
    justAdded.add(courseId);
    setTimeout(() => justAdded.delete(courseId), 1000);
    toast(`Курс «${courseName(courseId)}» добавлен в избранное`);
  } catch (error) {
    toast(addErrorMessage(error), { kind: "error" });
    if (error.status === 401) requestLogin("Сессия истекла. Войдите снова.");
  } finally {
    pendingAdds.delete(courseId);
    emit("favorites");
  }
}

function addErrorMessage(error) {
  if (error.status === 404) return "Этот курс больше недоступен.";
  if (error.status === 409) return "В избранном уже слишком много курсов (максимум 100).";
  if (error.status === 401) return "Чтобы добавить курс, войдите в систему.";
  if (error.unavailable) return "Не удалось добавить курс: сервис временно недоступен.";
  return `Не удалось добавить курс. ${error.message}`;
}

export async function removeFavorite(courseId) {
  const before = state.favorites || [];
  const entry = before.find((item) => item.course_id === courseId);
  const name = entry?.course?.name || courseName(courseId);
  state.favorites = before.filter((item) => item.course_id !== courseId);
  emit("favorites");
  try {
    await api.removeFavorite(courseId);
    toast(`Курс «${name}» удалён из избранного`);
  } catch (error) {
    if (!state.user) return;
    state.favorites = before; // put it back: the server still has it
    emit("favorites");
    toast(
      error.unavailable
        ? "Не удалось удалить курс: сервис избранного недоступен."
        : `Не удалось удалить курс. ${error.message}`,
      { kind: "error" },
    );
  }
}

// Orders are saved one at a time, and only the newest order matters, so moves made while a
// save is in flight are sent together once it finishes.
let saving = false;
let unsavedOrder = null;

export function moveFavorite(courseId, newIndex) {
  const list = [...(state.favorites || [])];
  const from = list.findIndex((item) => item.course_id === courseId);
  if (from === -1 || newIndex < 0 || newIndex >= list.length || newIndex === from) return false;
  const [moved] = list.splice(from, 1);
  list.splice(newIndex, 0, moved);
  state.favorites = list;
  emit("favorites");
  unsavedOrder = list.map((item) => item.course_id);
  saveOrder();
  return true;
}

async function saveOrder() {
  if (saving) return;
  saving = true;
  try {
    while (unsavedOrder) {
      const order = unsavedOrder;
      unsavedOrder = null;
      try {
        await api.reorderFavorites(order);
      } catch (error) {
        unsavedOrder = null;
        toast(
          error.unavailable
            ? "Не удалось сохранить порядок: сервис избранного недоступен."
            : "Не удалось сохранить порядок избранного.",
          { kind: "error" },
        );
        await loadFavorites(); // show what the server really has
      }
    }
  } finally {
    saving = false;
  }
}

/**
 * The "+" / "✔" button shown beside a course in the list and on its page.
 */
export function favoriteButton(course, { withText = false } = {}) {
  const button = h("button", {
    type: "button",
    class: withText ? "fav-btn with-text" : "fav-btn",
    dataset: { courseId: course.id, courseName: course.name },
  });
  button.addEventListener("click", (event) => {
    event.preventDefault();
    event.stopPropagation();
    if (isFavorite(course.id) || pendingAdds.has(course.id)) return;
    addFavorite(course.id);
  });
  updateFavoriteButton(button, course);
  return button;
}

export function updateFavoriteButton(button, course) {
  const added = isFavorite(course.id);
  const pending = pendingAdds.has(course.id);
  // A short pop when the user has just added the course, not whenever the button is drawn.
  if (added && button.dataset.state === "not-added" && justAdded.has(course.id)) {
    button.classList.add("just-added");
    button.addEventListener("animationend", () => button.classList.remove("just-added"), { once: true });
  }
  button.dataset.state = added ? "added" : "not-added";
  const symbol = added ? "✔" : "+";
  if (button.classList.contains("with-text")) {
    button.replaceChildren(
      h("span", { class: "fav-symbol", "aria-hidden": "true" }, symbol),
      added ? "В избранном" : "В избранное",
    );
  } else {
    button.textContent = symbol;
  }
  button.classList.toggle("is-added", added);
  button.classList.toggle("is-pending", pending);
  button.setAttribute("aria-disabled", String(added || pending));
  const label = added
    ? `«${course.name}» уже в избранном`
    : `Добавить «${course.name}» в избранное`;
  button.setAttribute("aria-label", label);
  button.title = added ? "Уже в избранном" : "Добавить в избранное";
}

export function refreshFavoriteButtons(root = document) {
  for (const button of root.querySelectorAll(".fav-btn[data-course-id]")) {
    const id = Number(button.dataset.courseId);
    const course = state.courses.get(id) || { id, name: button.dataset.courseName || `Курс №${id}` };
    updateFavoriteButton(button, course);
  }
}
