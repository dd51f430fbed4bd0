// The main area: the start page, a course's materials with type chips, and one material's
// details. Each render checks it is still the current one before drawing what it fetched.

import { api } from "./api.js";
import { setCatalogOpen } from "./catalog.js";
import { confirmAction, editMaterial } from "./dialogs.js";
import { errorBox, h, loading, replaceChildren, safeHttpUrl } from "./dom.js";
import { favoriteButton } from "./favorites.js";
import { courseTypes, groupTitle, typeClass, typeCode, typeLabel } from "./materialTypes.js";
import { navigate, routeHref } from "./router.js";
import { canEditCourse, state } from "./state.js";
import { coursesText } from "./text.js";
import { toast } from "./toast.js";

const SITE_TITLE = "Учебные материалы";

let view;
let renderToken = 0;

export function initViews() {
  view = document.getElementById("view");
}

function current(token) {
  return token === renderToken;
}

function setTitle(...parts) {
  document.title = [...parts.filter(Boolean), SITE_TITLE].join(" — ");
}

function typeBadge(material) {
  return h("span", { class: `type-badge ${typeClass(material.material_type_code)}` }, typeLabel(material));
}

function lessonText(number) {
  return number === null || number === undefined ? "" : `Занятие ${number}`;
}

function ofType(materials, code) {
  return materials.filter((material) => material.material_type_code === code);
}

function pageTitle(text) {
  return h("h1", { class: "page-title", tabindex: -1 }, text);
}

function breadcrumbs(last) {
  return h(
    "nav",
    { class: "breadcrumbs", "aria-label": "Навигация по разделам" },
    h("a", { href: "#/" }, "Главная"),
    h("span", { "aria-hidden": "true" }, " / "),
    last,
  );
}

/** The materials list a material belongs to, with the chip it was opened from. */
function courseRoute(route) {
  return { name: "course", courseId: route.courseId, type: route.type };
}

// ---- start page --------------------------------------------------------------------------

export function renderHome() {
  renderToken += 1;
  setTitle();
  replaceChildren(
    view,
    h(
      "section",
      { class: "hero", "aria-labelledby": "hero-title" },
      h("h1", { id: "hero-title", class: "page-title", tabindex: -1 }, "Материалы курсов в одном месте"),
      h(
        "p",
        { class: "lead" },
        "Лекции, семинары и лабораторные работы по всем курсам, разложенные по семестрам. ",
        "Откройте «ВСЕ КУРСЫ», найдите нужный курс и добавьте его в избранное кнопкой «+».",
      ),
      heroActions(state.courses.size),
      featureList(),
    ),
  );
}

function heroActions(count) {
  return h(
    "div",
    { class: "hero-actions" },
    h(
      "button",
      { type: "button", class: "btn btn-primary btn-lg", onclick: () => setCatalogOpen(true) },
      "Открыть все курсы",
    ),
    count ? h("span", { class: "muted" }, `${coursesText(count)} в каталоге`) : null,
  );
}

function featureList() {
  return h(
    "ul",
    { class: "feature-list" },
    h("li", {}, h("strong", {}, "Поиск"), " — фильтр по названию и описанию прямо при вводе."),
    h("li", {}, h("strong", {}, "Фильтры"), " — только лекции, семинары или лабораторные."),
    h("li", {}, h("strong", {}, "Избранное"), " — свои курсы под рукой, в удобном порядке."),
  );
}

function notFoundPanel(title, text) {
  return h(
    "section",
    { class: "panel empty-state" },
    pageTitle(title),
    h("p", {}, text),
    h("a", { class: "btn btn-secondary", href: "#/" }, "На главную"),
  );
}

export function renderNotFound() {
  renderToken += 1;
  setTitle("Страница не найдена");
  replaceChildren(view, notFoundPanel("Страница не найдена", "Такого адреса в портале нет."));
}

function pageError(error, onRetry, notFoundText) {
  if (error.status === 404) return notFoundPanel(notFoundText, "Возможно, его удалили или ссылка устарела.");
  const message = error.unavailable
    ? "Не удалось загрузить данные: сервис каталога временно недоступен."
    : `Не удалось загрузить данные. ${error.message}`;
  return h("section", { class: "panel" }, pageTitle("Ошибка загрузки"), errorBox(message, onRetry));
}

function showLoadError(error, onRetry, notFoundText) {
  setTitle(error.status === 404 ? notFoundText : "Ошибка");
  replaceChildren(view, pageError(error, onRetry, notFoundText));
}

// ---- a course's materials ----------------------------------------------------------------

// Switching chips re-renders the same course: reuse what was just fetched instead of
// flashing a spinner.
let lastMaterials = null;

export async function renderCourse(route, { previousRoute, reuse = false } = {}) {
  const token = ++renderToken;
  const knownName = state.courses.get(route.courseId)?.name;
  const chipFocused = Boolean(document.activeElement?.classList.contains("chip"));
  setTitle(knownName);
  const data = await courseMaterials(route, { previousRoute, reuse }, token);
  if (!data) return;
  const courseName = data.course_name || knownName || `Курс №${route.courseId}`;
  setTitle(courseName);
  const materials = Array.isArray(data.materials) ? data.materials : [];
  replaceChildren(view, coursePage(route, courseName, materials));
  if (chipFocused) view.querySelector(".chip[aria-current]")?.focus();
}

/** The course's materials answer, or null when it failed (the error is shown) or is stale. */
async function courseMaterials(route, { previousRoute, reuse }, token) {
  const sameCourse = previousRoute?.name === "course" && previousRoute.courseId === route.courseId;
  if ((sameCourse || reuse) && lastMaterials?.courseId === route.courseId) return lastMaterials.data;
  replaceChildren(view, loading("Загрузка материалов…"));
  let data;
  try {
    data = await api.materials(route.courseId);
  } catch (error) {
    if (!current(token)) return null;
    lastMaterials = null;
    showLoadError(error, () => renderCourse(route), "Курс не найден");
    return null;
  }
  if (!current(token)) return null;
  lastMaterials = { courseId: route.courseId, data };
  return data;
}

function coursePage(route, courseName, materials) {
  const activeType = typeCode(route.type);
  const editable = canEditCourse(route.courseId);
  const types = courseTypes(materials);
  return h(
    "article",
    { class: "course-page" },
    courseHeader(route.courseId, courseName),
    h(
      "div",
      { class: "toolbar" },
      typeChips(route, types, materials, activeType),
      editable ? addMaterialButton(route) : null,
    ),
    materialList(route, { materials, types, activeType, editable }),
  );
}

function courseHeader(courseId, courseName) {
  const course = state.courses.get(courseId) || { id: courseId, name: courseName };
  const description = (course.description || "").trim();
  return h(
    "header",
    { class: "course-header" },
    breadcrumbs(course.semester ? h("span", {}, `${course.semester}-й семестр`) : h("span", {}, "Курс")),
    h(
      "div",
      { class: "course-title-row" },
      pageTitle(courseName),
      h("div", { class: "course-actions" }, favoriteButton({ ...course, name: courseName }, { withText: true })),
    ),
    description ? h("p", { class: "lead" }, description) : null,
  );
}

function typeChips(route, types, materials, activeType) {
  const chip = (code, label, count) =>
    h(
      "a",
      {
        class: "chip",
        href: routeHref({ name: "course", courseId: route.courseId, type: code }),
        "aria-current": (code || null) === activeType ? "true" : null,
      },
      label,
      h("span", { class: "chip-count" }, String(count)),
    );
  return h(
    "nav",
    { class: "chips", "aria-label": "Тип материала" },
    chip(null, "Все", materials.length),
    types.map(({ code, label }) => chip(code, label, ofType(materials, code).length)),
  );
}

function addMaterialButton(route) {
  return h("button", { type: "button", class: "btn btn-primary", onclick: () => createMaterial(route) }, "+ Добавить материал");
}

/** "Все" groups the materials under their type; a chip shows one type's plain list. */
function materialList(route, { materials, types, activeType, editable }) {
  const shown = activeType ? ofType(materials, activeType) : materials;
  if (!shown.length) {
    const text = materials.length ? "Материалов этого типа пока нет" : "Материалов пока нет";
    return h("div", { class: "empty-state" }, h("p", { class: "empty-title" }, text));
  }
  const listOf = (items) =>
    h("ul", { class: "material-list" }, items.map((material) => materialRow(route, material, editable)));
  if (activeType) return [h("h2", { class: "visually-hidden" }, "Материалы"), listOf(shown)];
  return types
    .map((type) => ({ title: groupTitle(type), items: ofType(shown, type.code) }))
    .filter(({ items }) => items.length)
    .map(({ title, items }) =>
      h(
        "section",
        { class: "material-group", "aria-label": title },
        h("h2", { class: "group-title" }, title, h("span", { class: "group-count" }, String(items.length))),
        listOf(items),
      ),
    );
}

function materialRow(route, material, editable) {
  const href = routeHref({ name: "material", courseId: route.courseId, materialId: material.id, type: route.type });
  return h(
    "li",
    { class: "material-row", dataset: { materialId: material.id } },
    h(
      "a",
      { class: "material-link", href },
      h("span", { class: "lesson-number", "aria-label": lessonText(material.lesson_number) }, String(material.lesson_number ?? "—")),
      h(
        "span",
        { class: "material-main" },
        h("span", { class: "material-title" }, material.title),
        h("span", { class: "material-meta" }, typeBadge(material), h("span", {}, lessonText(material.lesson_number))),
      ),
      h("span", { class: "row-arrow", "aria-hidden": "true" }, "›"),
    ),
    editable ? materialControls(route, material) : null,
  );
}

// ---- a teacher's changes -----------------------------------------------------------------

function materialControls(route, material) {
  return h(
    "div",
    { class: "material-controls" },
    h(
      "button",
      {
        type: "button",
        class: "btn btn-secondary btn-sm",
        "aria-label": `Изменить «${material.title}»`,
        onclick: () => changeMaterial(route, material),
      },
      "Изменить",
    ),
    h(
      "button",
      {
        type: "button",
        class: "btn btn-danger-ghost btn-sm",
        "aria-label": `Удалить «${material.title}»`,
        onclick: () => deleteMaterial(route, material),
      },
      "Удалить",
    ),
  );
}

async function createMaterial(route) {
  const saved = await editMaterial({ save: (fields) => api.createMaterial(route.courseId, fields) });
  if (!saved) return;
  toast(`Материал «${saved.title}» добавлен`);
  rerender();
}

async function changeMaterial(route, material) {
  // The list lacks the description: edit the full record.
  let full = material;
  try {
    full = await api.material(route.courseId, material.id);
  } catch (error) {
    toast(`Не удалось открыть материал. ${error.message}`, { kind: "error" });
    return;
  }
  const saved = await editMaterial({
    material: full,
    save: (fields) => api.updateMaterial(route.courseId, material.id, fields),
  });
  if (!saved) return;
  toast(`Материал «${saved.title}» сохранён`);
  rerender();
}

async function deleteMaterial(route, material) {
  if (!(await confirmAction(`Удалить материал «${material.title}»? Это действие нельзя отменить.`))) return;
  try {
    await api.deleteMaterial(route.courseId, material.id);
  } catch (error) {
    toast(
      error.status === 403 ? "Вы не можете изменять материалы этого курса." : `Не удалось удалить материал. ${error.message}`,
      { kind: "error" },
    );
    return;
  }
  toast(`Материал «${material.title}» удалён`);
  if (route.name === "material") navigate(courseRoute(route));
  else rerender();
}

let rerender = () => {};
export function setRerender(callback) {
  rerender = () => {
    lastMaterials = null;
    callback();
  };
}

// ---- one material ------------------------------------------------------------------------

export async function renderMaterial(route, { previousRoute } = {}) {
  const token = ++renderToken;
  setTitle("Материал");
  replaceChildren(view, loading("Загрузка материала…"));
  let material;
  try {
    material = await api.material(route.courseId, route.materialId);
  } catch (error) {
    if (!current(token)) return;
    showLoadError(error, () => renderMaterial(route), "Материал не найден");
    return;
  }
  if (!current(token)) return;
  const courseName = state.courses.get(route.courseId)?.name;
  setTitle(material.title, courseName);
  replaceChildren(
    view,
    h(
      "article",
      { class: "material-page" },
      materialNav(route, previousRoute, courseName),
      materialCard(route, material, courseName),
    ),
  );
}

function materialNav(route, previousRoute, courseName) {
  return h(
    "div",
    { class: "material-nav" },
    backButton(route, previousRoute),
    breadcrumbs(h("a", { href: routeHref(courseRoute(route)) }, courseName || "Материалы курса")),
  );
}

function backButton(route, previousRoute) {
  const goBack = () => {
    // Coming from the list, "Назад" is the browser's back, so its scroll position returns.
    const cameFromList = previousRoute?.name === "course" && previousRoute.courseId === route.courseId;
    if (cameFromList) history.back();
    else navigate(courseRoute(route));
  };
  return h(
    "button",
    { type: "button", class: "btn btn-secondary back-btn", onclick: goBack },
    h("span", { "aria-hidden": "true" }, "← "),
    "Назад",
  );
}

function materialCard(route, material, courseName) {
  const description = (material.description || "").trim();
  return h(
    "div",
    { class: "panel material-card" },
    h(
      "div",
      { class: "material-meta" },
      typeBadge(material),
      h("span", {}, lessonText(material.lesson_number)),
      courseName ? h("span", { class: "eyebrow-course" }, courseName) : null,
    ),
    pageTitle(material.title),
    materialFacts(material),
    h("h2", { class: "section-title" }, "Описание"),
    h("p", { class: description ? "material-description" : "muted" }, description || "Описание не добавлено."),
    h(
      "div",
      { class: "material-actions" },
      fileLink(material.file_url),
      canEditCourse(route.courseId) ? materialControls(route, material) : null,
    ),
  );
}

function materialFacts(material) {
  const fact = (term, value) => h("div", {}, h("dt", {}, term), h("dd", {}, value));
  const updated = material.updated_at ? new Date(material.updated_at) : null;
  return h(
    "dl",
    { class: "details" },
    fact("Тип", typeLabel(material)),
    fact("Номер занятия", String(material.lesson_number ?? "—")),
    updated && !Number.isNaN(updated.getTime())
      ? fact("Обновлено", updated.toLocaleDateString("ru-RU", { day: "numeric", month: "long", year: "numeric" }))
      : null,
  );
}

function fileLink(url) {
  const href = safeHttpUrl(url);
  if (!href) return h("p", { class: "muted" }, "Ссылка на файл недоступна.");
  return h(
    "a",
    { class: "btn btn-primary", href, target: "_blank", rel: "noopener noreferrer" },
    "Открыть файл",
    h("span", { class: "visually-hidden" }, " (в новой вкладке)"),
    h("span", { "aria-hidden": "true" }, " ↗"),
  );
}
