// The course assistant's API (/api/assistant), for the course's teachers and admins: who may
// use it, its calls, and saving a file it exports (the download needs the bearer token, so a
// plain link cannot fetch it).

import { fetchAuthorised, request, upload } from "./api.js";
import { state } from "./state.js";

const BASE = "/api/assistant";

/** Whether this user builds the assistant of course `courseId`: its teachers, and admins. */
export function canBuildAssistant(courseId) {
  const permissions = state.user?.permissions || [];
  if (!permissions.includes("assistant:build")) return false;
  return permissions.includes("courses:admin") || state.teacherCourseIds.has(courseId);
}

const call = (method, path, body) => request(method, BASE + path, { body, auth: true });

function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}

function pagination(answer) {
  try {
    return JSON.parse(answer.headers.get("X-Pagination") || "{}");
  } catch {
    return {};
  }
}

/** The file name a Content-Disposition header gives, or `fallback`. */
function attachmentName(header, fallback) {
  const match = /filename="?([^";]+)"?/i.exec(header || "");
  const name = match ? match[1].trim() : "";
  return /^[\w.-]+$/.test(name) ? name : fallback;
}

export const assistantApi = {
  status: () => call("GET", "/status"),
  course: (courseId) => request("GET", `/api/courses/${courseId}`),
  sources: (courseId) => call("GET", `/courses/${courseId}/sources`),
  takeSnapshot: (courseId) => call("POST", `/courses/${courseId}/sources`),
  datasets: (courseId) => call("GET", `/courses/${courseId}/datasets`),
  createDataset: (courseId, name) => call("POST", `/courses/${courseId}/datasets`, { name }),
  dataset: (datasetId) => call("GET", `/datasets/${datasetId}`),
  updateDataset: (datasetId, changes) => call("PATCH", `/datasets/${datasetId}`, changes),
  deleteDataset: (datasetId) => call("DELETE", `/datasets/${datasetId}`),
  chunks: (datasetId) => call("GET", `/datasets/${datasetId}/chunks`),
  /** One page of examples in review order: {items, total}. Filters: status, split, origin. */
  examples: async (datasetId, { page = 1, pageSize = 20, status, split, origin, signal } = {}) => {
    const filters = query({ page, page_size: pageSize, status, split, origin });
    const answer = await fetchAuthorised("GET", `${BASE}/datasets/${datasetId}/examples${filters}`, { signal });
    const items = await answer.json();
    const total = Number(pagination(answer).total);
    return { items, total: Number.isFinite(total) ? total : items.length };
  },
  writeExample: (datasetId, fields) => call("POST", `/datasets/${datasetId}/examples`, fields),
  importFile: (datasetId, file, { onProgress, signal } = {}) => {
    const form = new FormData();
    form.append("file", file, file.name);
    return upload("POST", `${BASE}/datasets/${datasetId}/import`, form, { onProgress, signal });
  },
  review: (datasetId, exampleIds, status) =>
    call("POST", `/datasets/${datasetId}/review`, { example_ids: exampleIds, status }),
  updateExample: (exampleId, changes) => call("PATCH", `/examples/${exampleId}`, changes),
  split: (datasetId, seed, shares) => call("POST", `/datasets/${datasetId}/split`, { seed, shares }),
  report: (datasetId) => call("GET", `/datasets/${datasetId}/report`),
  generate: (datasetId, fields) => call("POST", `/datasets/${datasetId}/generate`, fields),
  generations: (datasetId) => call("GET", `/datasets/${datasetId}/generations`),
  run: (runId) => call("GET", `/generation-runs/${runId}`),
  cancelRun: (runId) => call("POST", `/generation-runs/${runId}/cancel`),
  // Fine-tuning, evaluation, the course's model, its usage and settings.
  jobs: (courseId) => call("GET", `/courses/${courseId}/jobs`),
  /** Starts a job on the dataset (202); fields: n_epochs, suffix, seed, each optional. */
  startJob: (datasetId, fields) => call("POST", `/datasets/${datasetId}/jobs`, fields),
  job: (jobId) => call("GET", `/jobs/${jobId}`),
  jobMetrics: (jobId) => call("GET", `/jobs/${jobId}/metrics`),
  cancelJob: (jobId) => call("POST", `/jobs/${jobId}/cancel`),
  evaluations: (jobId) => call("GET", `/jobs/${jobId}/evaluations`),
  startEvaluation: (jobId) => call("POST", `/jobs/${jobId}/evaluations`),
  evaluation: (evaluationId) => call("GET", `/evaluations/${evaluationId}`),
  pairs: (evaluationId) => call("GET", `/evaluations/${evaluationId}/pairs`),
  pick: (evaluationId, itemId, pick) => call("PUT", `/evaluations/${evaluationId}/pairs/${itemId}`, { pick }),
  model: (courseId) => call("GET", `/courses/${courseId}/model`),
  /** `model` null: the base chat model. */
  chooseModel: (courseId, model) => call("PUT", `/courses/${courseId}/model`, { model }),
  rollBackModel: (courseId) => call("POST", `/courses/${courseId}/model/rollback`),
  usage: (courseId) => call("GET", `/courses/${courseId}/usage`),
  settings: (courseId) => call("GET", `/courses/${courseId}/settings`),
  /** Admins: any of training_budget_usd, monthly_chat_budget_usd (null: no limit), chat_enabled. */
  updateSettings: (courseId, changes) => call("PUT", `/courses/${courseId}/settings`, changes),
  /** Fetches one split's JSONL with the token and hands it to the browser as a download. */
  exportSplit: async (datasetId, split) => {
    const answer = await fetchAuthorised("GET", `${BASE}/datasets/${datasetId}/export.jsonl${query({ split })}`);
    const name = attachmentName(answer.headers.get("Content-Disposition"), `dataset-${datasetId}-${split}.jsonl`);
    saveBlob(await answer.blob(), name);
    return name;
  },
};

/** Saves `blob` as file `name` through a temporary object URL and a link with `download`. */
export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.appendChild(link);
  link.click();
  link.remove();
  // The browser has taken the file by the next tasks; a little later the URL can go.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
