// A dataset's generation: the teacher model writes questions and ideal answers from the
// passages. Starting a run answers at once (202); the worker does the work, and the page asks
// for the run's progress every moment while it is shown, with a <progress> bar, the examples
// made and the spend, and a button that cancels it between two passages.

import { assistantApi } from "./assistantApi.js";
import {
  busy,
  chunkPicker,
  dateTime,
  formAlert,
  inRussian,
  number,
  pluralRu,
  problemText,
  providerNotice,
  setAlert,
  setFieldError,
  usd,
} from "./assistantParts.js";
import { field } from "./dialogs.js";
import { errorBox, h, loading, replaceChildren, uniqueId } from "./dom.js";
import { toast } from "./toast.js";

const POLL_MS = 500;
const ACTIVE = new Set(["queued", "running"]);
const RUN_STATUS = {
  queued: "В очереди",
  running: "Идёт",
  succeeded: "Завершена",
  failed: "Ошибка",
  cancelled: "Отменена",
};

export function generationSection(context) {
  const titleId = uniqueId("generation-title");
  const runSlot = h("div", { class: "run-slot" });
  const history = h("div", { class: "run-history" });
  const formSlot = h("div", {}, loading("Загрузка фрагментов…"));
  const section = h(
    "section",
    { class: "panel assistant-panel", "aria-labelledby": titleId },
    h("h2", { id: titleId, class: "panel-title" }, "Генерация примеров"),
    h(
      "p",
      { class: "muted panel-lead" },
      `Модель-учитель (${context.status.teacher_model || "по умолчанию"}) составляет по каждому фрагменту `,
      "вопросы студентов с идеальными ответами и вопросы вне курса, на которые ассистент должен вежливо ",
      "отказаться. Созданные примеры попадают на проверку.",
    ),
    formSlot,
    runSlot,
    history,
  );

  let follower = null;
  let runActive = false;
  let form = null;
  const setRunActive = (active) => {
    runActive = active;
    form?.setRunActive(active);
  };
  const follow = (run) => {
    follower?.stop();
    follower = followRun(context, run, runSlot, {
      isShown: () => section.isConnected,
      onActive: setRunActive,
      onFinished: () => loadHistory(),
    });
  };

  const loadHistory = async () => {
    let runs;
    try {
      runs = await assistantApi.generations(context.datasetId);
    } catch {
      return; // the history is a convenience: the run in progress is shown anyway
    }
    if (!section.isConnected) return;
    replaceChildren(history, runs.length ? runHistory(runs) : null);
    return runs;
  };

  const loadForm = async () => {
    replaceChildren(formSlot, loading("Загрузка фрагментов…"));
    try {
      const chunks = await context.chunks();
      form = generationForm(context, chunks, follow);
      form.setRunActive(runActive);
      replaceChildren(formSlot, form.node);
    } catch (error) {
      replaceChildren(formSlot, errorBox(`Не удалось загрузить фрагменты. ${problemText(error)}`, loadForm));
    }
  };

  loadForm();
  loadHistory().then((runs) => {
    const latest = runs?.[0];
    if (latest && section.isConnected && !follower) follow(latest);
  });
  return section;
}

function generationForm(context, chunks, follow) {
  const configured = Boolean(context.status.provider_configured);
  const noticeId = uniqueId("provider-notice");
  const perChunk = h("input", {
    name: "questions_per_chunk",
    type: "number",
    min: 1,
    max: 10,
    step: 1,
    value: 3,
    inputmode: "numeric",
    required: true,
  });
  const scopeName = uniqueId("scope");
  const allOption = h("input", { type: "radio", name: scopeName, value: "all", checked: true });
  const someOption = h("input", { type: "radio", name: scopeName, value: "some" });
  const picker = chunkPicker(chunks, { legend: "Какие фрагменты" });
  picker.node.hidden = true;
  const syncScope = () => {
    picker.node.hidden = !someOption.checked;
  };
  allOption.addEventListener("change", syncScope);
  someOption.addEventListener("change", syncScope);
  const alert = formAlert();
  const busyId = uniqueId("run-busy");
  const submit = h(
    "button",
    {
      type: "submit",
      class: "btn btn-primary",
      disabled: !configured,
      "aria-describedby": configured ? null : noticeId,
    },
    "Начать генерацию",
  );
  const busyNote = h(
    "p",
    { class: "field-hint", id: busyId, hidden: true },
    "Идёт генерация: новую можно начать, когда она закончится.",
  );
  const form = h(
    "form",
    { class: "form assistant-form", novalidate: true },
    providerNotice(context.status, noticeId),
    alert,
    h(
      "div",
      { class: "field-row generation-row" },
      field("Вопросов на фрагмент", perChunk, { hint: "От 1 до 10; к ним модель добавит вопросы вне курса." }),
    ),
    h(
      "fieldset",
      { class: "choice-group" },
      h("legend", {}, "Фрагменты"),
      h("label", { class: "choice" }, allOption, ` Все фрагменты (${number(chunks.length)})`),
      h("label", { class: "choice" }, someOption, " Только выбранные"),
    ),
    picker.node,
    h("div", { class: "form-actions" }, submit, busyNote),
  );
  let running = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!configured || running) return;
    setAlert(alert, "");
    const count = Number.parseInt(perChunk.value, 10);
    if (!Number.isInteger(count) || count < 1 || count > 10) {
      setFieldError(perChunk, "Укажите целое число от 1 до 10.");
      perChunk.focus();
      return;
    }
    setFieldError(perChunk, "");
    const body = { questions_per_chunk: count };
    if (someOption.checked) {
      const chosen = picker.selected();
      if (!chosen.length) {
        picker.showError("Выберите хотя бы один фрагмент.");
        return;
      }
      body.chunk_ids = chosen;
    }
    busy(submit, true, "Запуск…");
    try {
      const run = await assistantApi.generate(context.datasetId, body);
      follow(run);
    } catch (error) {
      setAlert(alert, `Генерация не началась. ${problemText(error)}`);
    } finally {
      busy(submit, false);
      submit.disabled = !configured || running;
    }
  });
  return {
    node: form,
    /** While a run is queued or running, another cannot start: the button says why. */
    setRunActive(active) {
      running = active;
      busyNote.hidden = !(configured && active);
      if (submit.getAttribute("aria-busy") !== "true") submit.disabled = !configured || active;
      if (!configured) return;
      if (active) submit.setAttribute("aria-describedby", busyId);
      else submit.removeAttribute("aria-describedby");
    },
  };
}

/** Shows `run` in `slot` and, while it is queued or running, asks for it again and again. */
function followRun(context, run, slot, { isShown, onActive, onFinished }) {
  let stopped = false;
  let timer = null;
  const labelId = uniqueId("run-progress");
  const heading = h("h3", { class: "run-title" });
  const bar = h("progress", { "aria-labelledby": labelId });
  const facts = h("p", { class: "run-facts" });
  const announce = h("p", { class: "visually-hidden", role: "status" });
  const outcome = h("div", { class: "run-outcome" });
  const cancel = h("button", { type: "button", class: "btn btn-secondary" }, "Отменить");
  const card = h(
    "div",
    { class: "run-card" },
    heading,
    h(
      "div",
      { class: "run-progress" },
      h("span", { id: labelId, class: "run-progress-label" }, "Обработано фрагментов"),
      bar,
    ),
    facts,
    h("div", { class: "run-actions" }, cancel),
    outcome,
    announce,
  );
  replaceChildren(slot, card);

  let lastStatus = null;
  const draw = (current) => {
    const total = Math.max(0, Number(current.chunks_total) || 0);
    const done = Math.min(total, Math.max(0, Number(current.chunks_done) || 0));
    const state = RUN_STATUS[current.status] || current.status;
    heading.textContent = `Запуск от ${dateTime(current.created_at)}: ${state}`;
    bar.max = Math.max(total, 1);
    bar.value = done;
    bar.setAttribute("aria-valuetext", `${done} из ${total}`);
    facts.textContent =
      `${number(done)} из ${number(total)} ${pluralRu(total, "фрагмента", "фрагментов", "фрагментов")} · ` +
      `создано примеров: ${number(current.examples_created)} · ` +
      `отброшено повторов: ${number(current.duplicates_dropped)} · потрачено: ${usd(current.cost_usd ?? 0)}`;
    const active = ACTIVE.has(current.status);
    onActive(active);
    cancel.hidden = !active;
    if (current.cancel_requested && active) {
      cancel.disabled = true;
      cancel.textContent = "Отмена…";
    }
    card.classList.toggle("is-active", active);
    if (current.status !== lastStatus) {
      if (lastStatus !== null || !active) announce.textContent = statusSentence(current);
      replaceChildren(outcome, active ? null : runOutcome(context, current));
      lastStatus = current.status;
    }
  };

  const poll = async () => {
    timer = null;
    if (stopped || !isShown()) return;
    let current;
    try {
      current = await assistantApi.run(run.id);
    } catch {
      current = null; // a passing failure: ask again
    }
    if (stopped || !isShown()) return;
    if (current) {
      draw(current);
      run = current;
    }
    if (!current || ACTIVE.has(current.status)) {
      timer = setTimeout(poll, POLL_MS);
    } else {
      context.refresh();
      onFinished?.(current);
    }
  };

  cancel.addEventListener("click", async () => {
    busy(cancel, true, "Отмена…");
    try {
      draw(await assistantApi.cancelRun(run.id));
      announce.textContent = "Генерация остановится после текущего фрагмента.";
    } catch (error) {
      busy(cancel, false);
      toast(`Не удалось отменить генерацию. ${problemText(error)}`, { kind: "error" });
    }
  });

  draw(run);
  if (ACTIVE.has(run.status)) timer = setTimeout(poll, POLL_MS);
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

function statusSentence(run) {
  const made = `${number(run.examples_created)} ${pluralRu(run.examples_created, "пример", "примера", "примеров")}`;
  switch (run.status) {
    case "running":
      return "Генерация идёт.";
    case "succeeded":
      return `Генерация завершена: создано ${made}.`;
    case "cancelled":
      return `Генерация отменена: создано ${made}.`;
    case "failed":
      return "Генерация прервалась с ошибкой.";
    default:
      return "Генерация в очереди.";
  }
}

function runOutcome(context, run) {
  if (run.status === "failed") {
    return h(
      "div",
      { class: "error-box" },
      h(
        "p",
        {},
        `Генерация прервалась: ${inRussian(run.error || "причина неизвестна")} `,
        "Созданные до этого примеры сохранены.",
      ),
    );
  }
  const text = statusSentence(run);
  return h(
    "p",
    { class: `notice ${run.status === "succeeded" ? "notice-ok" : "notice-warning"}` },
    `${text} `,
    run.examples_created ? h("a", { href: context.href("review") }, "Перейти к проверке") : null,
  );
}

function runHistory(runs) {
  return h(
    "details",
    { class: "run-history-details" },
    h("summary", {}, `История запусков (${runs.length})`),
    h(
      "div",
      { class: "table-scroll", tabindex: 0, role: "region", "aria-label": "История запусков" },
      h(
        "table",
        { class: "data-table" },
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ["Начат", "Состояние", "Фрагментов", "Примеров", "Стоимость"].map((text) =>
              h("th", { scope: "col" }, text),
            ),
          ),
        ),
        h(
          "tbody",
          {},
          runs.map((run) =>
            h(
              "tr",
              {},
              h("td", {}, dateTime(run.created_at)),
              h("td", {}, RUN_STATUS[run.status] || run.status),
              h("td", { class: "num" }, `${number(run.chunks_done)} из ${number(run.chunks_total)}`),
              h("td", { class: "num" }, number(run.examples_created)),
              h("td", { class: "num" }, usd(run.cost_usd ?? 0)),
            ),
          ),
        ),
      ),
    ),
  );
}
