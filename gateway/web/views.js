// The main area: the start page, a course's materials with type chips, and one material's
// details. Each render checks it is still the current one before drawing what it fetched.

import { api } from "./api.js";
import { setCatalogOpen } from "./catalog.js";
import { confirmAction, editMaterial, MATERIAL_TYPES } from "./dialogs.js";
import { errorBox, h, loading, replaceChildren, safeHttpUrl } from "./dom.js";
import { favoriteButton } from "./favorites.js";
import { navigate, routeHref } from "./router.js";
import { canEditCourse, state } from "./state.js";
import { pluralRu } from "./text.js";
import { toast } from "./toast.js";

const SITE_TITLE = "Учебные материалы";
const TYPE_LABELS = Object.fromEntries(MATERIAL_TYPES.map(({ code, label }) => [code, label]));
const GROUP_TITLES = { lecture: "Лекции", seminar: "Семинары", lab: "Лабораторные работы" };
const TYPE_CLASSES = { lecture: "type-lecture", seminar: "type-seminar", lab: "type-lab" };

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

function typeLabel(material) {
  return material.material_type || TYPE_LABELS[material.material_type_code] || material.material_type_code || "Материал";
}

function typeBadge(material) {
  const className = TYPE_CLASSES[material.material_type_code] || "type-other";
  return h("span", { class: `type-badge ${className}` }, typeLabel(material));
}

function lessonText(number) {
  return number === null || number === undefined ? "" : `Занятие ${number}`;
}

/** Which chips to show: Все, the three standard types, then any other type the course has. */
function chipTypes(materials) {
  const types = MATERIAL_TYPES.map(({ code, label }) => ({ code, label }));
  for (const material of materials) {
    const code = material.material_type_code;
    if (code && !types.some((type) => type.code === code)) types.push({ code, label: typeLabel(material) });
  }
  return types;
}

function normaliseType(type) {
  if (!type) return null;
  const byLabel = MATERIAL_TYPES.find(({ label }) => label.toLowerCase() === type.toLowerCase());
  return byLabel ? byLabel.code : type;
}

// ---- start page --------------------------------------------------------------------------

export function renderHome() {
  renderToken += 1;
  setTitle();
  const count = state.courses.size;
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
      h(
        "div",
        { class: "hero-actions" },
        h(
          "button",
          {
            type: "button",
            class: "btn btn-primary btn-lg",
            onclick: () => setCatalogOpen(true),
          },
          "Открыть все курсы",
        ),
        count ? h("span", { class: "muted" }, `${count} ${pluralRu(count, "курс", "курса", "курсов")} в каталоге`) : null,
      ),
      h(
        "ul",
        { class: "feature-list" },
        h("li", {}, h("strong", {}, "Поиск"), " — фильтр по названию и описанию прямо при вводе."),
        h("li", {}, h("strong", {}, "Фильтры"), " — только лекции, семинары или лабораторные."),
        h("li", {}, h("strong", {}, "Избранное"), " — свои курсы под рукой, в удобном порядке."),
      ),
    ),
  );
}

export function renderNotFound() {
  renderToken += 1;
  setTitle("Страница не найдена");
  replaceChildren(
    view,
    h(
      "section",
      { class: "panel empty-state" },
      h("h1", { class: "page-title", tabindex: -1 }, "Страница не найдена"),
      h("p", {}, "Такого адреса в портале нет."),
      h("a", { class: "btn btn-secondary", href: "#/" }, "На главную"),
    ),
  );
}

// ---- a course's materials ----------------------------------------------------------------

function courseHeader(courseId, courseName) {
  const course = state.courses.get(courseId) || { id: courseId, name: courseName };
  const description = (course.description || "").trim();
  const actions = h("div", { class: "course-actions" }, favoriteButton({ ...course, name: courseName }, {
    withText: true,
  }));
  return h(
    "header",
    { class: "course-header" },
    h(
      "nav",
      { class: "breadcrumbs", "aria-label": "Навигация по разделам" },
      h("a", { href: "#/" }, "Главная"),
      h("span", { "aria-hidden": "true" }, " / "),
      course.semester ? h("span", {}, `${course.semester}-й семестр`) : h("span", {}, "Курс"),
    ),
    h(
      "div",
      { class: "course-title-row" },
      h("h1", { class: "page-title", tabindex: -1 }, courseName),
      actions,
    ),
    description ? h("p", { class: "lead" }, description) : null,
  );
}

function pageError(error, onRetry, notFoundText) {
  if (error.status === 404) {
    return h(
      "section",
      { class: "panel empty-state" },
      h("h1", { class: "page-title", tabindex: -1 }, notFoundText),
      h("p", {}, "Возможно, его удалили или ссылка устарела."),
      h("a", { class: "btn btn-secondary", href: "#/" }, "На главную"),
    );
  }
  const message = error.unavailable
    ? "Не удалось загрузить данные: сервис каталога временно недоступен."
    : `Не удалось загрузить данные. ${error.message}`;
  return h("section", { class: "panel" }, h("h1", { class: "page-title", tabindex: -1 }, "Ошибка загрузки"), errorBox(message, onRetry));
}

// Switching chips re-renders the same course: reuse what was just fetched instead of
// flashing a spinner.
let lastMaterials = null;

export async function renderCourse(route, { previousRoute, reuse = false } = {}) {
  const token = ++renderToken;
  const activeType = normaliseType(route.type);
  const knownName = state.courses.get(route.courseId)?.name;
  const sameCourse = previousRoute?.name === "course" && previousRoute.courseId === route.courseId;
  const chipFocused = Boolean(document.activeElement?.classList.contains("chip"));
  setTitle(knownName);
  let data;
  if ((sameCourse || reuse) && lastMaterials?.courseId === route.courseId) {
    data = lastMaterials.data;
  } else {
    replaceChildren(view, loading("Загрузка материалов…"));
    try {
      data = await api.materials(route.courseId);
    } catch (error) {
      if (!current(token)) return;
      lastMaterials = null;
      setTitle(error.status === 404 ? "Курс не найден" : "Ошибка");
      replaceChildren(view, pageError(error, () => renderCourse(route), "Курс не найден"));
      return;
    }
    if (!current(token)) return;
    lastMaterials = { courseId: route.courseId, data };
  }
  const courseName = data.course_name || knownName || `Курс №${route.courseId}`;
  setTitle(courseName);
  const materials = Array.isArray(data.materials) ? data.materials : [];
  const editable = canEditCourse(route.courseId);
  const types = chipTypes(materials);
  const shown = activeType ? materials.filter((m) => m.material_type_code === activeType) : materials;

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

  const listOf = (items) =>
    h("ul", { class: "material-list" }, items.map((material) => materialRow(route, material, editable)));
  // "Все" groups the materials under their type; a chip shows one type's plain list.
  const grouped = activeType
    ? [h("h2", { class: "visually-hidden" }, "Материалы"), listOf(shown)]
    : types
        .map(({ code, label }) => ({ code, label, items: shown.filter((m) => m.material_type_code === code) }))
        .filter(({ items }) => items.length)
        .map(({ code, label, items }) =>
          h(
            "section",
            { class: "material-group", "aria-label": GROUP_TITLES[code] || label },
            h(
              "h2",
              { class: "group-title" },
              GROUP_TITLES[code] || label,
              h("span", { class: "group-count" }, String(items.length)),
            ),
            listOf(items),
          ),
        );
  const list = shown.length
    ? grouped
    : h(
        "div",
        { class: "empty-state" },
        h(
          "p",
          { class: "empty-title" },
          materials.length ? "Материалов этого типа пока нет" : "Материалов пока нет",
        ),
      );

  replaceChildren(
    view,
    h(
      "article",
      { class: "course-page" },
      courseHeader(route.courseId, courseName),
      h(
        "div",
        { class: "toolbar" },
        h(
          "nav",
          { class: "chips", "aria-label": "Тип материала" },
          chip(null, "Все", materials.length),
          types.map(({ code, label }) =>
            chip(code, label, materials.filter((m) => m.material_type_code === code).length),
          ),
        ),
        editable
          ? h(
              "button",
              { type: "button", class: "btn btn-primary", onclick: () => createMaterial(route) },
              "+ Добавить материал",
            )
          : null,
      ),
      list,
    ),
  );
  if (chipFocused) view.querySelector(".chip[aria-current]")?.focus();
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
  if (route.name === "material") navigate({ name: "course", courseId: route.courseId, type: route.type });
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
    setTitle(error.status === 404 ? "Материал не найден" : "Ошибка");
    replaceChildren(view, pageError(error, () => renderMaterial(route), "Материал не найден"));
    return;
  }
  if (!current(token)) return;
  const courseName = state.courses.get(route.courseId)?.name;
  setTitle(material.title, courseName);
  const listRoute = { name: "course", courseId: route.courseId, type: route.type };
  const backButton = h(
    "button",
    {
      type: "button",
      class: "btn btn-secondary back-btn",
      onclick: () => {
        // Coming from the list, "Назад" is the browser's back, so its scroll position returns.
        const cameFromList =
          previousRoute?.name === "course" && previousRoute.courseId === route.courseId;
        if (cameFromList) history.back();
        else navigate(listRoute);
      },
    },
    h("span", { "aria-hidden": "true" }, "← "),
    "Назад",
  );
  const fileUrl = safeHttpUrl(material.file_url);
  const description = (material.description || "").trim();
  const editable = canEditCourse(route.courseId);
  const updated = material.updated_at ? new Date(material.updated_at) : null;

  replaceChildren(
    view,
    h(
      "article",
      { class: "material-page" },
      h(
        "div",
        { class: "material-nav" },
        backButton,
        h(
          "nav",
          { class: "breadcrumbs", "aria-label": "Навигация по разделам" },
          h("a", { href: "#/" }, "Главная"),
          h("span", { "aria-hidden": "true" }, " / "),
          h("a", { href: routeHref(listRoute) }, courseName || "Материалы курса"),
        ),
      ),
      h(
        "div",
        { class: "panel material-card" },
        h(
          "div",
          { class: "material-meta" },
          typeBadge(material),
          h("span", {}, lessonText(material.lesson_number)),
          courseName ? h("span", { class: "eyebrow-course" }, courseName) : null,
        ),
        h("h1", { class: "page-title", tabindex: -1 }, material.title),
        h(
          "dl",
          { class: "details" },
          h("div", {}, h("dt", {}, "Тип"), h("dd", {}, typeLabel(material))),
          h("div", {}, h("dt", {}, "Номер занятия"), h("dd", {}, String(material.lesson_number ?? "—"))),
          updated && !Number.isNaN(updated.getTime())
            ? h("div", {}, h("dt", {}, "Обновлено"), h("dd", {}, updated.toLocaleDateString("ru-RU", { day: "numeric", month: "long", year: "numeric" })))
            : null,
        ),
        h("h2", { class: "section-title" }, "Описание"),
        h("p", { class: description ? "material-description" : "muted" }, description || "Описание не добавлено."),
        h(
          "div",
          { class: "material-actions" },
          fileUrl
            ? h(
                "a",
                { class: "btn btn-primary", href: fileUrl, target: "_blank", rel: "noopener noreferrer" },
                "Открыть файл",
                h("span", { class: "visually-hidden" }, " (в новой вкладке)"),
                h("span", { "aria-hidden": "true" }, " ↗"),
              )
            : h("p", { class: "muted" }, "Ссылка на файл недоступна."),
          editable ? materialControls(route, material) : null,
        ),
      ),
    ),
  );
}
