// Full-text search over courses and material content (GET /api/search): a search-as-you-type
// helper (debounced, stale requests aborted) and the result items. Snippets are data: each
// segment becomes a text node, the matched ones inside <mark>.

import { api, isAbort } from "./api.js";
import { h } from "./dom.js";
import { typeClass } from "./materialTypes.js";
import { routeHref } from "./router.js";

export const MIN_QUERY_LENGTH = 2;
const MAX_QUERY_LENGTH = 100;
const DELAY_MS = 250;

/**
 * liveSearch(input, {params(), onStart(query), onResults(hits, query), onError(error, query), onClear()})
 * Asks /api/search a moment after the last key, once the query has MIN_QUERY_LENGTH characters;
 * a newer query aborts the older request, so answers never arrive out of order.
 * Returns {run(), cancel()}.
 */
export function liveSearch(input, { params = () => ({}), onStart, onResults, onError, onClear }) {
  let timer = null;
  let controller = null;
  const cancel = () => {
    clearTimeout(timer);
    controller?.abort();
    controller = null;
  };
  const run = async () => {
    cancel();
    const query = input.value.trim().slice(0, MAX_QUERY_LENGTH);
    if (query.length < MIN_QUERY_LENGTH) {
      onClear?.();
      return;
    }
    const mine = new AbortController();
    controller = mine;
    onStart?.(query);
    try {
      const hits = await api.search({ query, ...params() }, mine.signal);
      if (controller === mine) onResults(Array.isArray(hits) ? hits : [], query);
    } catch (error) {
      if (!isAbort(error) && controller === mine) onError?.(error, query);
    } finally {
      if (controller === mine) controller = null;
    }
  };
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(run, DELAY_MS);
  });
  return { run, cancel };
}

/** A snippet's segments as text nodes and <mark> elements. */
export function snippet(segments) {
  if (!Array.isArray(segments)) return [];
  return segments
    .filter((segment) => segment && typeof segment.text === "string")
    .map((segment) => (segment.match ? h("mark", {}, segment.text) : segment.text));
}

function semesterText(course) {
  return course?.semester ? `${course.semester}-й семестр` : null;
}

export function hitHref(hit) {
  const courseId = hit.course?.id;
  if (hit.kind === "material" && hit.material?.id) {
    return routeHref({ name: "material", courseId, materialId: hit.material.id });
  }
  return routeHref({ name: "course", courseId });
}

/** One result; `withCourse` names the course of a material (off inside a course's page). */
export function searchHit(hit, { withCourse = true, onOpen } = {}) {
  const isMaterial = hit.kind === "material" && hit.material;
  const material = hit.material || {};
  const title = isMaterial ? material.title : hit.course?.name;
  const meta = isMaterial
    ? [
        h(
          "span",
          { class: `type-badge ${typeClass(material.material_type_code)}` },
          material.material_type || material.material_type_code || "Материал",
        ),
        material.lesson_number ? h("span", {}, `Занятие ${material.lesson_number}`) : null,
        withCourse && hit.course?.name ? h("span", { class: "hit-course" }, hit.course.name) : null,
      ]
    : [h("span", { class: "type-badge type-course" }, "Курс"), h("span", {}, semesterText(hit.course))];
  const text = snippet(hit.snippet);
  return h(
    "li",
    { class: "search-hit", dataset: { kind: isMaterial ? "material" : "course" } },
    h(
      "a",
      { class: "search-hit-link", href: hitHref(hit), onclick: onOpen || null },
      h("span", { class: "search-hit-title" }, title || "Без названия"),
      h("span", { class: "material-meta" }, meta),
      text.length ? h("span", { class: "snippet" }, text) : null,
    ),
  );
}
