// The main area: the start page, a course's materials with type chips and a search over their
// content, and one material's page (its text, its file). Each render checks it is still the
// current one before drawing what it fetched.

import { api } from "./api.js";
import { canBuildAssistant } from "./assistantApi.js";
import { askAssistantEntry } from "./assistantEntry.js";
import { setCatalogOpen } from "./catalog.js";
import { confirmAction, editMaterial } from "./dialogs.js";
import { errorBox, h, loading, replaceChildren, safeHttpUrl, uniqueId } from "./dom.js";
import { favoriteButton } from "./favorites.js";
import { fileCard } from "./files.js";
import { courseTypes, groupTitle, loadMaterialTypes, typeClass, typeCode, typeLabel } from "./materialTypes.js";
import { materialBody } from "./richText.js";
import { recycleBin } from "./recycleBin.js";
import { navigate, routeHref } from "./router.js";
import { liveSearch, searchHit } from "./search.js";
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

/** For a page drawn by another module (the assistant): the main area, and a check that it is
 * still that page's after an await (a newer render of any page takes the area over). */
export function claimView() {
  const token = ++renderToken;
  return { view, isCurrent: () => current(token) };
}

export function setTitle(...parts) {
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

export function pageTitle(text) {
  return h("h1", { class: "page-title", tabindex: -1 }, text);
}

/** Главная / …: `last` is the current page's crumb, or several crumbs (links, then the last). */
export function breadcrumbs(...last) {
  return h(
    "nav",
    { class: "breadcrumbs", "aria-label": "Навигация по разделам" },
    h("a", { href: "#/" }, "Главная"),
    last.flat().map((crumb) => [h("span", { "aria-hidden": "true" }, " / "), crumb]),
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
    // The types' list gives the chips and group headings; it never fails (see materialTypes.js).
    [data] = await Promise.all([api.materials(route.courseId), loadMaterialTypes()]);
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

// The course whose "Корзина" is open: it stays open while the page redraws (a delete, a restore).
let recycleBinOpenFor = null;

function coursePage(route, courseName, materials) {
  const activeType = typeCode(route.type, materials);
  const editable = canEditCourse(route.courseId);
  const types = courseTypes(materials);
  const bin = editable
    ? recycleBin(route.courseId, {
        open: recycleBinOpenFor === route.courseId,
        onToggle: (open) => (recycleBinOpenFor = open ? route.courseId : null),
        onRestored: () => rerender(),
      })
    : null;
  return h(
    "article",
    { class: "course-page" },
    courseHeader(route.courseId, courseName),
    courseSearch(route.courseId),
    h(
      "div",
      { class: "toolbar" },
      typeChips(route, types, materials, activeType),
      editable ? h("div", { class: "toolbar-actions" }, bin.toggle, addMaterialButton(route)) : null,
    ),
    bin ? bin.panel : null,
    materialList(route, { materials, types, activeType, editable }),
  );
}

// The course's own search box keeps its query while chips redraw the page.
let courseQuery = { courseId: null, text: "" };

function courseSearch(courseId) {
  const inputId = uniqueId("course-search");
  const input = h("input", {
    id: inputId,
    type: "search",
    class: "course-search-input",
    maxlength: 100,
    autocomplete: "off",
    placeholder: "Например, рекурсия",
  });
  const status = h("p", { class: "course-search-status", "aria-live": "polite" });
  const hits = h("ul", { class: "search-hits course-hits" });
  const results = h("div", { class: "course-search-results", hidden: true }, status, hits);
  const show = (text, found = []) => {
    status.textContent = text;
    replaceChildren(hits, found.map((hit) => searchHit(hit, { withCourse: false })));
    results.hidden = false;
  };
  const search = liveSearch(input, {
    params: () => ({ course_id: courseId }),
    onStart: () => hits.setAttribute("aria-busy", "true"),
    onResults: (found) => {
      hits.removeAttribute("aria-busy");
      const materialHits = found.filter((hit) => hit.kind === "material" && hit.material);
      show(materialHits.length ? `Найдено материалов: ${materialHits.length}` : "Ничего не найдено", materialHits);
    },
    onError: (error) => {
      hits.removeAttribute("aria-busy");
      show(error.unavailable ? "Поиск временно недоступен. Попробуйте позже." : `Поиск не удался. ${error.message}`);
    },
    onClear: () => {
      results.hidden = true;
      hits.replaceChildren();
      status.textContent = "";
    },
  });
  input.addEventListener("input", () => {
    courseQuery = { courseId, text: input.value };
  });
  if (courseQuery.courseId === courseId && courseQuery.text) {
    input.value = courseQuery.text;
    search.run();
  }
  return h(
    "form",
    {
      class: "course-search",
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        search.run();
      },
    },
    h("label", { for: inputId, class: "course-search-label" }, "Поиск по материалам курса"),
    h("div", { class: "search course-search-box" }, h("span", { class: "search-icon", "aria-hidden": "true" }), input),
    results,
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
      h(
        "div",
        { class: "course-actions" },
        askAssistantEntry(courseId),
        canBuildAssistant(courseId)
          ? h("a", { class: "btn btn-secondary assistant-link", href: routeHref({ name: "assistant", courseId }) }, "Ассистент")
          : null,
        favoriteButton({ ...course, name: courseName }, { withText: true }),
      ),
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
  await loadMaterialTypes();
  const { saved } = await editMaterial({
    courseId: route.courseId,
    knownMaterials: lastMaterials?.data?.materials,
    save: (fields) => api.createMaterial(route.courseId, fields),
  });
  if (!saved) return;
  toast(`Материал «${saved.title}» добавлен`);
  rerender();
}

async function changeMaterial(route, material) {
  // The list lacks the description and the body: edit the full record.
  let full = material;
  try {
    [full] = await Promise.all([api.material(route.courseId, material.id), loadMaterialTypes()]);
  } catch (error) {
    toast(`Не удалось открыть материал. ${error.message}`, { kind: "error" });
    return;
  }
  const { saved, fileChanged } = await editMaterial({
    courseId: route.courseId,
    material: full,
    knownMaterials: lastMaterials?.data?.materials,
    save: (fields) => api.updateMaterial(route.courseId, material.id, fields),
  });
  if (saved) toast(`Материал «${saved.title}» сохранён`);
  if (saved || fileChanged) rerender();
}

async function deleteMaterial(route, material) {
  const question = `Удалить материал «${material.title}»? Он попадёт в корзину курса, откуда его можно восстановить.`;
  if (!(await confirmAction(question))) return;
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
  if (material.file && material.text_status === "pending" && canEditCourse(route.courseId)) {
    followExtraction(route, token);
  }
}

const EXTRACTION_POLL_MS = 4000;
const EXTRACTION_POLLS = 30;

/** While the file's text is being read, ask again now and then and update the card's state. */
async function followExtraction(route, token) {
  for (let attempt = 0; attempt < EXTRACTION_POLLS; attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, EXTRACTION_POLL_MS));
    if (!current(token)) return;
    let material;
    try {
      material = await api.material(route.courseId, route.materialId);
    } catch {
      continue; // a passing failure: the page keeps what it shows
    }
    if (!current(token)) return;
    if (material.text_status !== "pending") {
      const card = view.querySelector(".file-card");
      if (material.file && card) card.replaceWith(fileCard(material, { showExtraction: true }));
      return;
    }
  }
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
  const editable = canEditCourse(route.courseId);
  const hasBody = Boolean((material.body_html || "").trim());
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
    material.file ? fileCard(material, { showExtraction: editable }) : null,
    hasBody
      ? h(
          "section",
          { class: "material-text", "aria-label": "Текст материала" },
          materialBody(material.body_html),
        )
      : null,
    h(
      "div",
      { class: "material-actions" },
      fileLink(material.file_url, { quiet: Boolean(material.file || hasBody) }),
      editable ? materialControls(route, material) : null,
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

/** The external link; with `quiet`, nothing when there is none (the page has other content). */
function fileLink(url, { quiet = false } = {}) {
  const href = safeHttpUrl(url);
  if (!href) return quiet ? h("span") : h("p", { class: "muted" }, "Ссылка на файл недоступна.");
  return h(
    "a",
    { class: "btn btn-primary", href, target: "_blank", rel: "noopener noreferrer" },
    "Открыть файл",
    h("span", { class: "visually-hidden" }, " (в новой вкладке)"),
    h("span", { "aria-hidden": "true" }, " ↗"),
  );
}
