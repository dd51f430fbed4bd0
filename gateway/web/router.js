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
  // #/verify-email?token=… and #/reset-password?token=…: the links of the portal's mails.
  if (parts.length === 1 && (parts[0] === "verify-email" || parts[0] === "reset-password")) {
    return { name: "emailLink", purpose: parts[0], token: query.get("token") || "" };
  }
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
  if (parts[2] === "assistant") return parseAssistantRoute(courseId, parts.slice(3), query);
  // #/courses/3/ask?conversation=7: a student's questions to the course's assistant.
  if (parts.length === 3 && parts[2] === "ask") {
    return { name: "ask", courseId, conversationId: parseId(query.get("conversation") || "") };
  }
  return { name: "notFound" };
}

// #/courses/3/assistant and #/courses/3/assistant/datasets/7?section=review: the course's
// assistant (its teachers only), and one of its datasets open at a section.
function parseAssistantRoute(courseId, rest, query) {
  if (rest.length === 0) return { name: "assistant", courseId };
  if (rest.length === 2 && rest[0] === "datasets") {
    const datasetId = parseId(rest[1]);
    if (datasetId !== null) {
      return { name: "assistantDataset", courseId, datasetId, section: query.get("section") || null };
    }
  }
  if (rest[0] === "jobs") return parseJobRoute(courseId, rest.slice(1));
  return { name: "notFound" };
}

// #/courses/3/assistant/jobs/9 and #/courses/3/assistant/jobs/9/evaluations/4: a fine-tuning
// job of the course, and an evaluation of the model it made.
function parseJobRoute(courseId, rest) {
  const jobId = parseId(rest[0] ?? "");
  if (jobId === null) return { name: "notFound" };
  if (rest.length === 1) return { name: "assistantJob", courseId, jobId };
  const evaluationId = rest.length === 3 && rest[1] === "evaluations" ? parseId(rest[2]) : null;
  if (evaluationId !== null) return { name: "assistantEvaluation", courseId, jobId, evaluationId };
  return { name: "notFound" };
}

export function routeHref(route) {
  const typeQuery = route.type ? `?type=${encodeURIComponent(route.type)}` : "";
  switch (route.name) {
    case "course":
      return `#/courses/${route.courseId}${typeQuery}`;
    case "material":
      return `#/courses/${route.courseId}/materials/${route.materialId}${typeQuery}`;
    case "assistant":
      return `#/courses/${route.courseId}/assistant`;
    case "ask":
      return `#/courses/${route.courseId}/ask${route.conversationId ? `?conversation=${route.conversationId}` : ""}`;
    case "assistantDataset": {
      const sectionQuery = route.section ? `?section=${encodeURIComponent(route.section)}` : "";
      return `#/courses/${route.courseId}/assistant/datasets/${route.datasetId}${sectionQuery}`;
    }
    case "assistantJob":
      return `#/courses/${route.courseId}/assistant/jobs/${route.jobId}`;
    case "assistantEvaluation":
      return `#/courses/${route.courseId}/assistant/jobs/${route.jobId}/evaluations/${route.evaluationId}`;
    default:
      return "#/";
  }
}

export function navigate(route) {
  const target = routeHref(route);
  if (location.hash !== target) location.hash = target;
}
