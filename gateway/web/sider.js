// The Sider: the user's favorite courses in their saved order. Reordered by dragging the
// handle (mouse, pen or touch), by the ↑/↓ buttons, or with Alt+↑/↓ on a focused item.
// On narrow screens it becomes a drawer opened from the header.

import { requestLogin } from "./dialogs.js";
import { errorBox, h, loading, replaceChildren } from "./dom.js";
import { loadFavorites, moveFavorite, removeFavorite } from "./favorites.js";
import { on, state } from "./state.js";

const DRAWER_QUERY = "(max-width: 899px)";

let elements;
let currentCourseId = null;

export function initSider() {
  elements = {
    sider: document.getElementById("sider"),
    body: document.getElementById("sider-body"),
    hint: document.getElementById("sider-hint"),
    live: document.getElementById("sider-live"),
    toggle: document.getElementById("sider-toggle"),
    close: document.getElementById("sider-close"),
    backdrop: document.getElementById("sider-backdrop"),
    main: document.getElementById("main"),
  };
  elements.toggle.addEventListener("click", () => setDrawerOpen(!isDrawerOpen()));
  elements.close.addEventListener("click", () => setDrawerOpen(false, { returnFocus: true }));
  elements.backdrop.addEventListener("click", () => setDrawerOpen(false, { returnFocus: true }));
  elements.sider.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && isDrawerOpen()) {
      event.preventDefault();
      setDrawerOpen(false, { returnFocus: true });
    }
  });
  // A link followed from the drawer shows its page, so the drawer gets out of the way.
  elements.sider.addEventListener("click", (event) => {
    if (event.target.closest("a[href]") && isDrawerOpen()) setDrawerOpen(false);
  });
  const drawerMedia = matchMedia(DRAWER_QUERY);
  drawerMedia.addEventListener("change", () => setDrawerOpen(false));
  syncDrawerAttributes();

  on("favorites", render);
  on("catalog", render);
  on("user", render);
  render();
}

// ---- drawer (phones) ---------------------------------------------------------------------

function isDrawer() {
  return matchMedia(DRAWER_QUERY).matches;
}

function isDrawerOpen() {
  return elements.sider.classList.contains("is-open");
}

function setDrawerOpen(open, { returnFocus = false } = {}) {
  const wasOpen = isDrawerOpen();
  elements.sider.classList.toggle("is-open", open && isDrawer());
  syncDrawerAttributes();
  if (open && isDrawer()) {
    elements.close.focus();
  } else if (wasOpen && returnFocus) {
    elements.toggle.focus();
  }
}

function syncDrawerAttributes() {
  const open = isDrawerOpen();
  const drawer = isDrawer();
  elements.toggle.setAttribute("aria-expanded", String(open));
  elements.backdrop.hidden = !open;
  document.body.classList.toggle("drawer-open", open);
  // A closed drawer is off screen: keep keyboard focus out of it, and out of the page behind
  // an open one.
  elements.sider.inert = drawer && !open;
  elements.main.inert = open;
}

// ---- content -----------------------------------------------------------------------------

export function setCurrentCourse(courseId) {
  currentCourseId = courseId;
  for (const item of elements.body.querySelectorAll(".fav-item")) {
    const link = item.querySelector(".fav-link");
    if (!link) continue;
    if (Number(item.dataset.courseId) === courseId) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

function updateCount() {
  const count = state.user ? state.favorites?.length || 0 : 0;
  document.getElementById("sider-count").textContent = count ? String(count) : "";
}

function render() {
  if (!elements) return;
  updateCount();
  elements.hint.hidden = true;
  if (state.user && !state.favoritesError && state.favorites?.length) renderList();
  else replaceChildren(elements.body, placeholder());
}

/** What the Sider shows instead of the list: loading, a login prompt, an error, or "empty". */
function placeholder() {
  if (!state.user && state.restoringSession) return loading("Загрузка избранного…");
  if (!state.user) {
    return h(
      "div",
      { class: "sider-empty" },
      h("p", {}, "Войдите, чтобы собирать здесь курсы для быстрого доступа."),
      h("button", { type: "button", class: "btn btn-primary", onclick: () => requestLogin() }, "Войти"),
    );
  }
  if (state.favoritesError) {
    return errorBox(
      state.favoritesError.unavailable
        ? "Избранное временно недоступно: сервис не отвечает."
        : `Не удалось загрузить избранное. ${state.favoritesError.message}`,
      () => loadFavorites(),
    );
  }
  if (state.favorites === null) return loading("Загрузка избранного…");
  return h(
    "div",
    { class: "sider-empty" },
    h("p", {}, "Здесь пока пусто."),
    h("p", { class: "muted" }, "Нажмите «+» рядом с курсом в списке «ВСЕ КУРСЫ», чтобы добавить его сюда."),
  );
}

function renderList() {
  const focused = focusedControl();
  const count = state.favorites.length;
  const list = h(
    "ol",
    { class: "fav-list", "aria-describedby": "sider-hint" },
    state.favorites.map((entry, index) => favoriteItem(entry, index, count)),
  );
  replaceChildren(elements.body, list);
  elements.hint.hidden = count < 2;
  if (focused) restoreFocus(list, focused);
}

/** Which item and control has focus, so a redrawn list can give it back. */
function focusedControl() {
  const item = document.activeElement?.closest?.(".fav-item");
  return item && { courseId: item.dataset.courseId, control: document.activeElement.dataset.control };
}

function restoreFocus(list, { courseId, control }) {
  const item = list.querySelector(`.fav-item[data-course-id="${CSS.escape(courseId)}"]`);
  const same = item?.querySelector(`[data-control="${control}"]:not([disabled])`);
  (same || item?.querySelector(".fav-link, [data-control]:not([disabled])"))?.focus();
}

function favoriteItem(entry, index, count) {
  // `available` is false when the catalog no longer lists the course, null when the favorites
  // service could not ask it; then the page's own copy of the catalog may still know the course.
  const course = entry.course || (entry.available !== false ? state.courses.get(entry.course_id) : null);
  const name = course?.name || `Курс №${entry.course_id}`;
  const move = (delta) => {
    const newIndex = index + delta;
    if (moveFavorite(entry.course_id, newIndex)) announce(name, newIndex, count);
  };
  const item = h(
    "li",
    {
      class: `fav-item${course ? "" : entry.available === false ? " is-unavailable" : " is-unknown"}`,
      dataset: { courseId: entry.course_id },
    },
    h("span", { class: "drag-handle", title: "Перетащите, чтобы изменить порядок", "aria-hidden": "true" }),
    course ? courseLink(entry, course, name) : unavailableCourse(entry, name),
    h(
      "div",
      { class: "fav-actions" },
      h("div", { class: "move-buttons" }, moveButton("up", name, index === 0, move), moveButton("down", name, index === count - 1, move)),
      removeButton(entry, name),
    ),
  );
  item.addEventListener("keydown", (event) => {
    if (!event.altKey || (event.key !== "ArrowUp" && event.key !== "ArrowDown")) return;
    event.preventDefault();
    move(event.key === "ArrowUp" ? -1 : 1);
  });
  item.querySelector(".drag-handle").addEventListener("pointerdown", (event) => startDrag(event, item));
  return item;
}

function courseLink(entry, course, name) {
  return h(
    "a",
    {
      class: "fav-link",
      href: `#/courses/${entry.course_id}`,
      "data-control": "link",
      "aria-current": entry.course_id === currentCourseId ? "page" : null,
    },
    h("span", { class: "fav-name" }, name),
    course.semester ? h("span", { class: "fav-meta" }, `${course.semester}-й семестр`) : null,
  );
}

function unavailableCourse(entry, name) {
  return h(
    "span",
    { class: "fav-unavailable" },
    h("span", { class: "fav-name" }, name),
    h("span", { class: "fav-meta" }, entry.available === false ? "Курс недоступен" : "Сведения о курсе временно недоступны"),
  );
}

const MOVES = {
  up: { delta: -1, where: "выше", title: "Выше (Alt + ↑)", symbol: "▲" },
  down: { delta: 1, where: "ниже", title: "Ниже (Alt + ↓)", symbol: "▼" },
};

function moveButton(control, name, disabled, move) {
  const { delta, where, title, symbol } = MOVES[control];
  return h(
    "button",
    {
      type: "button",
      class: "move-btn",
      "data-control": control,
      "aria-label": `Переместить «${name}» ${where}`,
      title,
      disabled,
      onclick: () => move(delta),
    },
    symbol,
  );
}

function removeButton(entry, name) {
  return h(
    "button",
    {
      type: "button",
      class: "icon-btn small remove-btn",
      "data-control": "remove",
      "aria-label": `Убрать «${name}» из избранного`,
      title: "Убрать из избранного",
      onclick: () => removeFavorite(entry.course_id),
    },
    "−",
  );
}

function announce(name, index, count) {
  elements.live.textContent = `«${name}»: позиция ${index + 1} из ${count}`;
}

// ---- drag and drop -----------------------------------------------------------------------

/**
 * The dragged item stays in the list's flow and moves among its siblings as the pointer passes
 * over them (the item under the pointer gives up its place); siblings slide with a short FLIP
 * animation. The new order is saved once, on release.
 */
function startDrag(event, item) {
  if (event.button !== 0) return;
  event.preventDefault();
  const list = item.parentElement;
  const handle = event.currentTarget;
  const startOrder = courseIdsIn(list);
  handle.setPointerCapture(event.pointerId);
  item.classList.add("is-dragging");
  list.classList.add("is-sorting");

  const onMove = (moveEvent) => dragOver(list, item, moveEvent.clientY);
  const onEnd = () => {
    handle.removeEventListener("pointermove", onMove);
    handle.removeEventListener("pointerup", onEnd);
    handle.removeEventListener("pointercancel", onEnd);
    drop(list, item, startOrder);
  };
  handle.addEventListener("pointermove", onMove);
  handle.addEventListener("pointerup", onEnd);
  handle.addEventListener("pointercancel", onEnd);
}

function courseIdsIn(list) {
  return [...list.children].map((node) => node.dataset.courseId);
}

/** The item under the pointer gives up its place to the dragged one. */
function dragOver(list, item, clientY) {
  const y = clientY - list.getBoundingClientRect().top;
  const siblings = [...list.children];
  const target = siblings.find((node) => node !== item && y >= node.offsetTop && y < node.offsetTop + node.offsetHeight);
  if (!target) return;
  const movingDown = siblings.indexOf(target) > siblings.indexOf(item);
  animateReorder(list, () => list.insertBefore(item, movingDown ? target.nextSibling : target));
}

/** Saves the new place of the dropped item, if it moved. */
function drop(list, item, startOrder) {
  item.classList.remove("is-dragging");
  list.classList.remove("is-sorting");
  const order = courseIdsIn(list);
  if (order.join() === startOrder.join()) return;
  const newIndex = order.indexOf(item.dataset.courseId);
  const courseId = Number(item.dataset.courseId);
  const entry = state.favorites.find((fav) => fav.course_id === courseId);
  if (moveFavorite(courseId, newIndex)) {
    announce(entry?.course?.name || `Курс №${courseId}`, newIndex, order.length);
  }
}

function animateReorder(list, change) {
  const before = new Map([...list.children].map((node) => [node, node.offsetTop]));
  change();
  if (matchMedia("(prefers-reduced-motion: reduce)").matches) return;
  for (const node of list.children) {
    const delta = before.get(node) - node.offsetTop;
    if (!delta || node.classList.contains("is-dragging")) continue;
    node.animate([{ transform: `translateY(${delta}px)` }, { transform: "translateY(0)" }], {
      duration: 160,
      easing: "ease-out",
    });
  }
}
