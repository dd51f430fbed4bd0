// The view lives in the URL hash (#/courses/3/materials/12), so back/forward, reload and a
// shared link all land on the same course and material.

const MAX_ID = 2 ** 53 - 1;

function parseId(text) {
  if (!/^[1-9][0-9]{0,15}$/.test(text)) return null;
  const id = Number(text);
  return id <= MAX_ID ? id : null;
}

export function parseRoute(hash = location.hash) {
  const raw = hash.replace(/^#/, "");
  const [path, queryString = ""] = raw.split("?", 2);
  const parts = path.split("/").filter(Boolean);
  const query = new URLSearchParams(queryString);
  if (parts.length === 0) return { name: "home" };
  if (parts[0] !== "courses") return { name: "notFound" };
  const courseId = parseId(parts[1] ?? "");
  if (courseId === null) return { name: "notFound" };
  if (parts.length === 2) return { name: "course", courseId, type: query.get("type") || null };
  if (parts.length === 4 && parts[2] === "materials") {
    const materialId = parseId(parts[3]);
    if (materialId !== null) {
      return { name: "material", courseId, materialId, type: query.get("type") || null };
    }
  }
  return { name: "notFound" };
}

export function routeHref(route) {
  const typeQuery = route.type ? `?type=${encodeURIComponent(route.type)}` : "";
  switch (route.name) {
    case "course":
      return `#/courses/${route.courseId}${typeQuery}`;
    case "material":
      return `#/courses/${route.courseId}/materials/${route.materialId}${typeQuery}`;
    default:
      return "#/";
  }
}

export function navigate(route) {
  const target = routeHref(route);
  if (location.hash !== target) location.hash = target;
}
