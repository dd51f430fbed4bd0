// The editor's file zone: drop a file or choose one, watch it upload (XMLHttpRequest reports
// upload progress, fetch does not), cancel it, replace the file or remove it. Each change goes
// to the server at once; the zone shows what the catalog answered.

import { api, isAbort } from "./api.js";
import { h, replaceChildren, uniqueId } from "./dom.js";
import { fileCard } from "./files.js";

function uploadErrorMessage(error) {
  switch (error.status) {
    case 413:
      return "Файл больше 50 МБ.";
    case 415:
      return error.serverMessage ? `Файл не принят: ${error.serverMessage}` : "Файлы этого типа загружать нельзя.";
    case 422:
      return "Файл пустой.";
    case 401:
      return "Сессия истекла. Войдите снова.";
    case 403:
      return "Вы не можете изменять материалы этого курса.";
    case 0:
      return "Нет связи с сервером: файл не загружен. Проверьте подключение и попробуйте ещё раз.";
    default:
      return error.unavailable
        ? "Сервис временно недоступен, файл не загружен. Попробуйте позже."
        : `Файл не загружен. ${error.message}`;
  }
}

/**
 * fileZone({courseId, material, onChange, confirm}) → {node, busy(), close()}.
 * `onChange(material)` follows every upload or removal; `confirm(question, action)` asks before
 * a removal; `close()` cancels an upload in flight.
 */
export function fileZone({ courseId, material, onChange, confirm }) {
  let current = material;
  let controller = null;
  const id = uniqueId("file-zone");
  // The native input stays hidden; the button opens it, and a drop hands it a file.
  const input = h("input", {
    type: "file",
    id: `${id}-input`,
    class: "visually-hidden",
    tabindex: -1,
    "aria-label": "Файл материала",
  });
  const chooseButton = h("button", { type: "button", class: "btn btn-secondary btn-sm" });
  const removeButton = h("button", { type: "button", class: "btn btn-danger-ghost btn-sm" }, "Удалить файл");
  const cardSlot = h("div", { class: "file-slot" });
  const progressBar = h("progress", { max: 100, value: 0, "aria-labelledby": `${id}-progress-label` });
  const progressText = h("span", { class: "upload-percent" }, "0%");
  const cancelButton = h("button", { type: "button", class: "btn btn-secondary btn-sm" }, "Отменить загрузку");
  const progress = h(
    "div",
    { class: "upload-progress", hidden: true },
    h("span", { id: `${id}-progress-label`, class: "upload-name" }),
    h("div", { class: "upload-bar" }, progressBar, progressText),
    cancelButton,
  );
  const message = h("p", { class: "upload-message", role: "status", "aria-live": "polite" });
  const error = h("p", { class: "field-error upload-error", role: "alert", hidden: true });
  const drop = h(
    "div",
    { class: "drop-zone" },
    h("p", { class: "drop-text" }, "Перетащите файл сюда или "),
    chooseButton,
    input,
    h("p", { class: "field-hint" }, "Один файл до 50 МБ: PDF, DOCX, презентация, текст и другие учебные форматы."),
  );
  const node = h(
    "div",
    { class: "field file-field", role: "group", "aria-labelledby": `${id}-title` },
    h("span", { class: "field-label", id: `${id}-title` }, "Файл материала"),
    cardSlot,
    drop,
    progress,
    message,
    error,
  );

  const showError = (text) => {
    error.textContent = text || "";
    error.hidden = !text;
  };

  const draw = () => {
    const hasFile = Boolean(current.file);
    replaceChildren(cardSlot, hasFile ? [fileCard(current, { showExtraction: true, headingLevel: "h3" }), removeButton] : null);
    cardSlot.hidden = !hasFile;
    chooseButton.textContent = hasFile ? "Заменить файл" : "Выбрать файл";
  };

  // The bar stays at 100% after an upload succeeds, and goes away when one fails or is cancelled.
  const setBusy = (isBusy) => {
    if (isBusy) progress.hidden = false;
    cancelButton.hidden = !isBusy;
    drop.classList.toggle("is-disabled", isBusy);
    chooseButton.disabled = isBusy;
    removeButton.disabled = isBusy;
  };

  const showProgress = (loaded, total) => {
    const percent = total ? Math.min(100, Math.floor((loaded / total) * 100)) : 0;
    progressBar.value = percent;
    progressText.textContent = `${percent}%`;
  };

  async function send(file) {
    if (controller) return;
    showError("");
    if (!file.size) {
      showError("Файл пустой.");
      return;
    }
    controller = new AbortController();
    progress.querySelector(".upload-name").textContent = `Загрузка «${file.name}»`;
    showProgress(0, 1);
    setBusy(true);
    message.textContent = `Загрузка файла «${file.name}»…`;
    try {
      current = await api.uploadFile(courseId, current.id, file, {
        onProgress: showProgress,
        signal: controller.signal,
      });
      showProgress(1, 1);
      progress.querySelector(".upload-name").textContent = `Загружено: «${file.name}»`;
      message.textContent = `Файл «${current.file?.name || file.name}» загружен.`;
      draw();
      onChange(current);
    } catch (problem) {
      progress.hidden = true;
      message.textContent = isAbort(problem) ? "Загрузка отменена." : "";
      if (!isAbort(problem)) showError(uploadErrorMessage(problem));
    } finally {
      controller = null;
      setBusy(false);
      input.value = "";
    }
  }

  async function remove() {
    const name = current.file?.name || "файл";
    if (!(await confirm(`Удалить файл «${name}» из материала?`, "Удалить файл"))) return;
    showError("");
    setBusy(true);
    progress.hidden = true;
    try {
      await api.removeFile(courseId, current.id);
      current = { ...current, file: null, has_file: false, text_status: "none", text_error: null };
      message.textContent = `Файл «${name}» удалён.`;
      draw();
      onChange(current);
    } catch (problem) {
      showError(
        problem.status === 403
          ? "Вы не можете изменять материалы этого курса."
          : `Не удалось удалить файл. ${problem.message}`,
      );
    } finally {
      setBusy(false);
    }
    if (!current.file) chooseButton.focus();
  }

  chooseButton.addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    if (input.files?.[0]) send(input.files[0]);
  });
  cancelButton.addEventListener("click", () => controller?.abort());
  removeButton.addEventListener("click", remove);
  const hasFiles = (event) => [...(event.dataTransfer?.types || [])].includes("Files");
  drop.addEventListener("dragover", (event) => {
    if (!hasFiles(event) || controller) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
    drop.classList.add("is-over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("is-over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("is-over");
    const file = event.dataTransfer?.files?.[0];
    if (file) send(file);
  });

  draw();
  return {
    node,
    busy: () => Boolean(controller),
    close: () => controller?.abort(),
  };
}
