// The frame the assistant's pages share: what someone who may not build the course's
// assistant sees instead, the page for a failed load, the course's name and crumb, and a
// section of a page with its heading.

import { canBuildAssistant } from "./assistantApi.js";
import { problemText } from "./assistantParts.js";
import { requestLogin } from "./dialogs.js";
import { errorBox, h, loading, uniqueId } from "./dom.js";
import { routeHref } from "./router.js";
import { state } from "./state.js";
import { pageTitle } from "./views.js";

/** The page for someone who may not build this course's assistant, or null when they may. */
export function accessPanel(courseId) {
  if (state.restoringSession) return loading("Вход…");
  if (!state.user) {
    return h(
      "section",
      { class: "panel empty-state" },
      pageTitle("Ассистент курса"),
      h("p", {}, "Войдите как преподаватель курса, чтобы собирать примеры для его ассистента."),
      h("button", { type: "button", class: "btn btn-primary", onclick: () => requestLogin() }, "Войти"),
    );
  }
  if (!canBuildAssistant(courseId)) {
    return h(
      "section",
      { class: "panel empty-state" },
      pageTitle("Ассистент курса"),
      h("p", {}, "Ассистента курса собирают его преподаватели."),
      h("a", { class: "btn btn-secondary", href: routeHref({ name: "course", courseId }) }, "К материалам курса"),
    );
  }
  return null;
}

/** The page after a failed load: "not found" for a 404, else the error with a retry. */
export function loadErrorPanel(error, onRetry, notFoundText) {
  if (error.status === 404) {
    return h(
      "section",
      { class: "panel empty-state" },
      pageTitle(notFoundText),
      h("p", {}, "Возможно, его удалили или ссылка устарела."),
      h("a", { class: "btn btn-secondary", href: "#/" }, "На главную"),
    );
  }
  return h(
    "section",
    { class: "panel" },
    pageTitle("Ошибка загрузки"),
    errorBox(`Не удалось загрузить данные ассистента. ${problemText(error)}`, onRetry),
  );
}

export function courseName(course, courseId) {
  return course?.name || state.courses.get(courseId)?.name || `Курс №${courseId}`;
}

export function courseCrumb(courseId, name) {
  return h("a", { href: routeHref({ name: "course", courseId }) }, name);
}

/** A section of the page: its heading (with `actions` beside it, if any), then `children`. */
export function panel(title, children, actions = null) {
  const titleId = uniqueId("panel-title");
  return h(
    "section",
    { class: "panel assistant-panel", "aria-labelledby": titleId },
    h("div", { class: "panel-head" }, h("h2", { id: titleId, class: "panel-title" }, title), actions),
    children,
  );
}
