// "ВСЕ КУРСЫ": the drop-down list of every course grouped by semester, and the search box that
// filters it while the user types. Above the list, the same box's query also finds courses and
// materials by their content (GET /api/search); if that search fails, the panel stays hidden and
// the list's own filtering is all there is.

import { api } from "./api.js";
import { errorBox, h, loading, replaceChildren, uniqueId } from "./dom.js";
import { favoriteButton, refreshFavoriteButtons } from "./favorites.js";
import { liveSearch, searchHit } from "./search.js";
import { emit, on, state } from "./state.js";
import { coursesText, matchCourse, splitMatches } from "./text.js";

const SEARCH_DELAY_MS = 150;
const OPEN_CLASS = "is-open";
const SETTLED_CLASS = "is-settled";

let elements;
let loadError = null;
let query = "";

export function initCatalog() {
  elements = {
    panel: document.getElementById("catalog"),
    toggle: document.getElementById("catalog-toggle"),
    search: document.getElementById("course-search"),
    form: document.getElementById("search-form"),
    list: document.getElementById("catalog-list"),
    summary: document.getElementById("catalog-summary"),
  };
  elements.toggle.addEventListener("click", () => setCatalogOpen(!isCatalogOpen()));
  listenToSearch();
  initContentSearch();
  // Escape closes the list and returns to the button that opened it.
  for (const node of [elements.panel, elements.search]) node.addEventListener("keydown", closeOnEscape);
  elements.panel.addEventListener("transitionend", (event) => {
    if (event.target === elements.panel && event.propertyName === "grid-template-rows") settle();
  });

  on("favorites", () => refreshFavoriteButtons(elements.list));
  on("user", () => refreshFavoriteButtons(elements.list));
  render();
}

/** The list follows the search box as the user types, a moment after the last key. */
function listenToSearch() {
  let timer = null;
  elements.search.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      query = elements.search.value;
      if (!isCatalogOpen() && query.trim()) setCatalogOpen(true, { focus: false });
      render();
    }, SEARCH_DELAY_MS);
  });
  elements.form.addEventListener("submit", (event) => {
    event.preventDefault();
    clearTimeout(timer);
    query = elements.search.value;
    setCatalogOpen(true, { focus: false });
    render();
    elements.panel.querySelector(".course-link, .search-hit-link")?.focus();
  });
  elements.search.addEventListener("focus", () => {
    if (elements.search.value.trim()) setCatalogOpen(true, { focus: false });
  });
}

/** The results panel of the content search, above the course list. */
function initContentSearch() {
  const titleId = uniqueId("search-results");
  const hits = h("ul", { class: "search-hits" });
  const status = h("p", { class: "visually-hidden", "aria-live": "polite" });
  const results = h(
    "section",
    { id: "search-results", class: "search-results", "aria-labelledby": titleId, hidden: true },
    h("h2", { class: "search-results-title", id: titleId }, "Найдено в курсах и материалах"),
    hits,
  );
  elements.list.before(results, status);
  const hide = () => {
    results.hidden = true;
    results.removeAttribute("aria-busy");
    hits.replaceChildren();
    status.textContent = "";
  };
  const onOpen = () => setCatalogOpen(false, { focus: false });
  liveSearch(elements.search, {
    onStart: () => results.setAttribute("aria-busy", "true"),
    onResults: (found) => {
      results.removeAttribute("aria-busy");
      replaceChildren(hits, found.map((hit) => searchHit(hit, { onOpen })));
      results.hidden = found.length === 0;
      status.textContent = found.length ? `В курсах и материалах найдено: ${found.length}` : "";
    },
    onError: hide, // the course list still filters as before
    onClear: hide,
  });
}

function closeOnEscape(event) {
  if (event.key === "Escape" && isCatalogOpen() && !event.defaultPrevented) {
    event.preventDefault();
    setCatalogOpen(false);
    elements.toggle.focus();
  }
}

export function isCatalogOpen() {
  return elements.panel.classList.contains(OPEN_CLASS);
}

export function setCatalogOpen(open, { focus = true } = {}) {
  if (open === isCatalogOpen()) return;
  elements.panel.classList.remove(SETTLED_CLASS);
  elements.panel.classList.toggle(OPEN_CLASS, open);
  elements.toggle.setAttribute("aria-expanded", String(open));
  const reducedMotion = matchMedia("(prefers-reduced-motion: reduce)").matches;
  if (reducedMotion) settle();
  // The list opens under the sticky header, at the top of the page: bring it into view.
  if (open && window.scrollY > 0) window.scrollTo({ top: 0, behavior: reducedMotion ? "auto" : "smooth" });
  if (open && focus && elements.search.offsetParent !== null) {
    // Keep the page still: focusing must not scroll while the panel is growing.
    elements.search.focus({ preventScroll: true });
  }
}

// Once the height animation ends, tooltips may overflow the panel's edges.
function settle() {
  if (isCatalogOpen()) elements.panel.classList.add(SETTLED_CLASS);
}

export async function loadCatalog() {
  loadError = null;
  state.semesters = null;
  render();
  try {
    const semesters = await api.semesters();
    state.semesters = Array.isArray(semesters) ? semesters : [];
    state.courses = new Map();
    for (const group of state.semesters) {
      for (const course of group.courses || []) state.courses.set(course.id, { ...course, semester: group.semester });
    }
  } catch (error) {
    loadError = error;
  }
  render();
  emit("catalog");
}

function filteredGroups() {
  const groups = [];
  for (const group of state.semesters || []) {
    const nameMatches = [];
    const descriptionMatches = [];
    for (const course of group.courses || []) {
      const match = matchCourse(course, query);
      if (!match) continue;
      (match.inName || !query.trim() ? nameMatches : descriptionMatches).push(course);
    }
    // As the server's search does: courses whose name matches come first.
    const courses = [...nameMatches, ...descriptionMatches];
    if (courses.length) groups.push({ ...group, courses });
  }
  return groups;
}

function render() {
  if (!elements) return;
  if (loadError || !state.semesters) {
    elements.summary.textContent = "";
    replaceChildren(elements.list, loadError ? loadErrorBox() : loading("Загрузка курсов…"));
    return;
  }
  const groups = filteredGroups();
  const total = groups.reduce((sum, group) => sum + group.courses.length, 0);
  const searching = Boolean(query.trim());
  elements.summary.textContent = searching ? (total ? `Найдено: ${coursesText(total)}` : "") : coursesText(total);
  replaceChildren(elements.list, total ? groups.map(semesterSection) : noCourses(searching));
}

function loadErrorBox() {
  return errorBox(
    loadError.unavailable
      ? "Не удалось загрузить список курсов: сервис каталога недоступен."
      : `Не удалось загрузить список курсов. ${loadError.message}`,
    () => loadCatalog(),
  );
}

function noCourses(searching) {
  return h(
    "div",
    { class: "empty-state" },
    h("p", { class: "empty-title" }, searching ? "Ничего не найдено" : "Курсов пока нет"),
    searching ? h("p", {}, "Попробуйте изменить запрос.") : null,
  );
}

function semesterSection(group) {
  const headingId = uniqueId("semester");
  return h(
    "section",
    { class: "semester", "aria-labelledby": headingId },
    h(
      "h2",
      { class: "semester-title", id: headingId },
      h("span", { class: "semester-name" }, group.title || `${group.semester}-й семестр`),
      h("span", { class: "semester-count", "aria-hidden": "true" }, String(group.courses.length)),
    ),
    h(
      "ul",
      { class: "course-list" },
      group.courses.map((course) => courseCard({ ...course, semester: group.semester })),
    ),
  );
}

function highlighted(text) {
  return splitMatches(text, query).map((piece, index) => (index % 2 ? h("mark", {}, piece) : piece));
}

function courseCard(course) {
  const descriptionId = `course-desc-${course.id}`;
  const description = (course.description || "").trim();
  return h(
    "li",
    { class: "course-card", dataset: { courseId: course.id } },
    h(
      "a",
      {
        class: "course-link",
        href: `#/courses/${course.id}`,
        "aria-describedby": description ? descriptionId : null,
        onclick: () => setCatalogOpen(false, { focus: false }),
      },
      h("span", { class: "course-name" }, highlighted(course.name)),
    ),
    favoriteButton(course),
    description
      ? h("p", { class: "course-tooltip", id: descriptionId, role: "tooltip" }, highlighted(description))
      : null,
  );
}
