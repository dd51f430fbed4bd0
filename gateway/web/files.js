// A material's uploaded file: its card (name, kind, size, download link) and the state of the
// text the catalog reads from it, shown to the course's teachers.

import { h, safeHttpUrl } from "./dom.js";

const KINDS_BY_TYPE = {
  "application/pdf": "PDF",
  "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Документ Word",
  "application/msword": "Документ Word",
  "application/vnd.openxmlformats-officedocument.presentationml.presentation": "Презентация PowerPoint",
  "application/vnd.ms-powerpoint": "Презентация PowerPoint",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "Таблица Excel",
  "application/vnd.ms-excel": "Таблица Excel",
  "application/vnd.oasis.opendocument.text": "Документ ODT",
  "application/zip": "Архив ZIP",
  "text/plain": "Текст",
  "text/markdown": "Markdown",
  "text/csv": "Таблица CSV",
  "image/png": "Изображение PNG",
  "image/jpeg": "Изображение JPEG",
};

/** "PDF", "Документ Word", or the extension in capitals; null when nothing tells. */
export function fileKind(file) {
  const type = String(file?.content_type || "")
    .split(";")[0]
    .trim()
    .toLowerCase();
  if (KINDS_BY_TYPE[type]) return KINDS_BY_TYPE[type];
  const extension = /\.([a-z0-9]{1,8})$/i.exec(String(file?.name || ""));
  return extension ? extension[1].toUpperCase() : null;
}

/** The short mark on the card's icon: the extension ("PDF", "DOCX"), or "ФАЙЛ". */
function fileBadge(file) {
  const extension = /\.([a-z0-9]{1,4})$/i.exec(String(file?.name || ""));
  return extension ? extension[1].toUpperCase() : "ФАЙЛ";
}

/** 900 → "900 Б", 12_345 → "12 КБ", 1_572_864 → "1,5 МБ" (binary units, as the limit is). */
export function humanSize(bytes) {
  const size = Number(bytes);
  if (!Number.isFinite(size) || size < 0) return "";
  const format = (value) =>
    value.toLocaleString("ru-RU", { maximumFractionDigits: value < 10 ? 1 : 0 });
  if (size < 1024) return `${size} Б`;
  if (size < 1024 * 1024) return `${format(size / 1024)} КБ`;
  if (size < 1024 ** 3) return `${format(size / 1024 ** 2)} МБ`;
  return `${format(size / 1024 ** 3)} ГБ`;
}

/** The download address: the catalog's own path under /api/, or an http(s) URL. */
function fileHref(url) {
  if (typeof url === "string" && /^\/api\/[^/\\]/.test(url) && !url.includes("..")) return url;
  return safeHttpUrl(url);
}

const EXTRACTION_TEXT = {
  pending: "Текст извлекается…",
  ready: "Текст извлечён",
};

/** The state of the file's text, in words; null when there is nothing to say. */
export function extractionText(material) {
  if (material.text_status === "failed") {
    return `Не удалось извлечь текст: ${material.text_error || "причина неизвестна"}`;
  }
  return EXTRACTION_TEXT[material.text_status] || null;
}

export function extractionStatus(material) {
  const text = extractionText(material);
  if (!text) return null;
  return h(
    "p",
    { class: `extraction extraction-${material.text_status}`, role: "status" },
    material.text_status === "pending" ? h("span", { class: "spinner spinner-sm", "aria-hidden": "true" }) : null,
    text,
  );
}

/** The card of `material.file`; with `showExtraction`, the state of its text under it. */
export function fileCard(material, { showExtraction = false, headingLevel = "h2" } = {}) {
  const file = material.file;
  const href = fileHref(file.url);
  const facts = [fileKind(file), humanSize(file.size)].filter(Boolean).join(" · ");
  return h(
    "section",
    { class: "file-card", "aria-label": "Файл материала" },
    h("span", { class: "file-icon", "aria-hidden": "true" }, fileBadge(file)),
    h(
      "div",
      { class: "file-main" },
      h(headingLevel, { class: "file-name" }, file.name || "Файл"),
      facts ? h("p", { class: "file-facts" }, facts) : null,
      showExtraction ? extractionStatus(material) : null,
    ),
    href
      ? h(
          "a",
          { class: "btn btn-primary file-download", href, download: file.name || "" },
          h("span", { "aria-hidden": "true" }, "↓ "),
          "Скачать",
          h("span", { class: "visually-hidden" }, ` ${file.name || "файл"}`),
        )
      : null,
  );
}
