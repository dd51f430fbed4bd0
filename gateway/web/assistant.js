// "Ассистент": a course's teachers build a fine-tuning dataset from the course's texts.
// #/courses/3/assistant shows the snapshot of the sources and the datasets, then the course's
// fine-tuning jobs, the model that answers its students and its spend; a dataset's page
// (#/courses/3/assistant/datasets/7?section=…) has its sections: generation, review, an example
// written by hand, a JSONL import, and the split with its report and export.

import { assistantApi } from "./assistantApi.js";
import { generationSection } from "./assistantGeneration.js";
import { trainingPanel } from "./assistantJobs.js";
import { modelPanel, usagePanel } from "./assistantModel.js";
import { accessPanel, courseCrumb, courseName, loadErrorPanel, panel } from "./assistantPage.js";
import {
  busy,
  chunkPicker,
  countsText,
  dateTime,
  fieldErrors,
  formAlert,
  inRussian,
  number,
  pluralRu,
  problemText,
  providerNotice,
  setAlert,
  setFieldError,
} from "./assistantParts.js";
import { reportSection } from "./assistantReport.js";
import { reviewSection } from "./assistantReview.js";
import { confirmAction, field } from "./dialogs.js";
import { errorBox, h, loading, replaceChildren, uniqueId } from "./dom.js";
import { loadMaterialTypes } from "./materialTypes.js";
import { navigate, routeHref } from "./router.js";
import { state } from "./state.js";
import { toast } from "./toast.js";
import { breadcrumbs, claimView, pageTitle, setTitle } from "./views.js";

// ---- the course's assistant --------------------------------------------------------------

export async function renderAssistant(route) {
  const { view, isCurrent } = claimView();
  setTitle("Ассистент", state.courses.get(route.courseId)?.name);
  const denied = accessPanel(route.courseId);
  if (denied) {
    replaceChildren(view, denied);
    return;
  }
  replaceChildren(view, loading("Загрузка ассистента…"));
  let course, status, sources, datasets, types;
  try {
    [course, status, sources, datasets, types] = await Promise.all([
      assistantApi.course(route.courseId),
      assistantApi.status(),
      assistantApi.sources(route.courseId),
      assistantApi.datasets(route.courseId),
      loadMaterialTypes(),
    ]);
  } catch (error) {
    if (!isCurrent()) return;
    setTitle("Ошибка");
    replaceChildren(view, loadErrorPanel(error, () => renderAssistant(route), "Курс не найден"));
    return;
  }
  if (!isCurrent()) return;
  const name = courseName(course, route.courseId);
  setTitle("Ассистент", name);
  const typeLabels = new Map(types.map((type) => [type.code, type.label]));
  replaceChildren(
    view,
    h(
      "article",
      { class: "assistant-page" },
      h(
        "header",
        { class: "course-header" },
        breadcrumbs(courseCrumb(route.courseId, name), h("span", {}, "Ассистент")),
        pageTitle("Ассистент курса"),
        h(
          "p",
          { class: "lead" },
          `«${name}»: наборы примеров для дообучения модели-ассистента по текстам материалов курса. `,
          "Эту страницу видят только преподаватели курса.",
        ),
      ),
      providerNotice(status),
      sourcesPanel(route.courseId, sources, typeLabels),
      datasetsPanel(route.courseId, datasets),
      trainingPanel(route.courseId, { status, datasets }),
      modelPanel(route.courseId),
      usagePanel(route.courseId),
    ),
  );
}

const CHANGE_LABELS = {
  added: "Добавлен",
  changed: "Изменён",
  removed: "Удалён из каталога",
  unchanged: "Без изменений",
};

function sourcesPanel(courseId, initial, typeLabels) {
  const body = h("div", { class: "sources-body" });
  const status = h("p", { class: "visually-hidden", role: "status" });
  const snapshotButton = h("button", { type: "button", class: "btn btn-secondary" }, "Сделать новый снимок");

  const draw = ({ snapshot, changes }) => {
    const changeOf = new Map((changes || []).map((change) => [change.material_id, change.change]));
    const rows = (snapshot?.sources || []).map((source) => ({
      ...source,
      change: changeOf.get(source.material_id) || "unchanged",
    }));
    // Materials with text that the snapshot has not seen yet.
    const inSnapshot = new Set(rows.map((row) => row.material_id));
    for (const { material_id: materialId, title, change } of changes || []) {
      if (!inSnapshot.has(materialId)) rows.push({ material_id: materialId, title, change, warnings: [] });
    }
    replaceChildren(
      body,
      h(
        "p",
        { class: "muted" },
        snapshot
          ? `Снимок от ${dateTime(snapshot.created_at)} · материалов с текстом: ${number(snapshot.sources.length)}. `
          : "Снимка пока нет: наборы примеров строятся из снимка текстов материалов. ",
        "Новый набор строится из последнего снимка, поэтому его всегда можно воспроизвести.",
      ),
      changesSummary(changes || [], Boolean(snapshot)),
      rows.length
        ? h("ul", { class: "source-list" }, rows.map((row) => sourceRow(courseId, row, typeLabels)))
        : h("p", { class: "empty-title" }, "В материалах курса нет текста."),
    );
  };

  snapshotButton.addEventListener("click", async () => {
    busy(snapshotButton, true, "Снимок…");
    try {
      await assistantApi.takeSnapshot(courseId);
      draw(await assistantApi.sources(courseId));
      status.textContent = "Снимок сделан.";
      toast("Новый снимок источников сделан");
    } catch (error) {
      toast(`Не удалось сделать снимок. ${problemText(error)}`, { kind: "error" });
    } finally {
      busy(snapshotButton, false);
    }
  });

  draw(initial);
  return panel("Источники", [status, body], snapshotButton);
}

function changesSummary(changes, hasSnapshot) {
  if (!hasSnapshot) return null;
  const count = (kind) => changes.filter((change) => change.change === kind).length;
  const changed = count("changed");
  const added = count("added");
  const removed = count("removed");
  if (!changed && !added && !removed) {
    return h("p", { class: "notice notice-ok" }, "Снимок совпадает с текстами в каталоге.");
  }
  return h(
    "p",
    { class: "notice notice-warning" },
    `С момента снимка в каталоге: изменено — ${changed}, добавлено — ${added}, удалено — ${removed}. `,
    "Сделайте новый снимок, чтобы новые наборы строились из текущих текстов.",
  );
}

function sourceRow(courseId, source, typeLabels) {
  const warnings = source.warnings || [];
  const code = source.material_type_code;
  const typeText = code ? typeLabels.get(code) || code : null;
  const lesson = source.lesson_number ? `Занятие ${source.lesson_number}` : null;
  const facts = [typeText, lesson].filter(Boolean).join(" · ");
  const title =
    source.change === "removed"
      ? h("span", { class: "source-title" }, source.title)
      : h(
          "a",
          { class: "source-title", href: routeHref({ name: "material", courseId, materialId: source.material_id }) },
          source.title,
        );
  return h(
    "li",
    { class: "source-row", dataset: { materialId: source.material_id } },
    h(
      "div",
      { class: "source-main" },
      title,
      facts ? h("span", { class: "muted source-facts" }, facts) : null,
      h("span", { class: `state-badge change-${source.change}` }, CHANGE_LABELS[source.change] || source.change),
    ),
    warnings.length ? sourceWarnings(warnings) : null,
  );
}

function sourceWarnings(warnings) {
  return h(
    "div",
    { class: "source-warnings" },
    h(
      "p",
      { class: "source-warnings-title" },
      h("span", { "aria-hidden": "true" }, "⚠ "),
      `${warnings.length} ${pluralRu(warnings.length, "строка похожа", "строки похожи", "строк похожи")} `,
      "на указания для модели. ",
      "Ассистент цитирует их как данные и не выполняет, но проверьте, нужны ли они в материале:",
    ),
    h(
      "ul",
      {},
      warnings.map((warning) => h("li", {}, `Строка ${warning.line}: `, h("q", {}, warning.text))),
    ),
  );
}

function datasetsPanel(courseId, datasets) {
  const input = h("input", { name: "name", type: "text", required: true, maxlength: 200, autocomplete: "off" });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Создать набор");
  const alert = formAlert();
  const form = h(
    "form",
    { class: "form inline-form", novalidate: true },
    alert,
    h(
      "div",
      { class: "inline-form-row" },
      field("Название нового набора", input, { hint: "Например, «Весна 2026»." }),
      submit,
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setAlert(alert, "");
    const name = input.value.trim();
    if (!name) {
      setFieldError(input, "Введите название набора.");
      input.focus();
      return;
    }
    setFieldError(input, "");
    busy(submit, true, "Создание…");
    try {
      const dataset = await assistantApi.createDataset(courseId, name);
      toast(`Набор «${dataset.name}» создан`);
      navigate({ name: "assistantDataset", courseId, datasetId: dataset.id, section: "generate" });
    } catch (error) {
      busy(submit, false);
      setAlert(alert, `Не удалось создать набор. ${problemText(error)}`);
    }
  });
  return panel("Наборы примеров", [
    datasets.length
      ? h("ul", { class: "dataset-list" }, datasets.map((dataset) => datasetRow(courseId, dataset)))
      : h("p", { class: "muted" }, "Наборов пока нет: создайте первый."),
    form,
  ]);
}

function datasetRow(courseId, dataset) {
  return h(
    "li",
    { class: "dataset-row" },
    h(
      "a",
      { class: "dataset-link", href: routeHref({ name: "assistantDataset", courseId, datasetId: dataset.id }) },
      h("span", { class: "dataset-name" }, dataset.name),
      h("span", { class: "muted dataset-facts" }, countsText(dataset.counts)),
      h("span", { class: "muted dataset-facts" }, `Создан ${dateTime(dataset.created_at)}`),
      h("span", { class: "row-arrow", "aria-hidden": "true" }, "›"),
    ),
  );
}

// ---- one dataset -------------------------------------------------------------------------

const SECTIONS = [
  { key: "generate", label: "Генерация" },
  { key: "review", label: "Проверка" },
  { key: "write", label: "Свой пример" },
  { key: "import", label: "Импорт" },
  { key: "report", label: "Отчёт и экспорт" },
];

// Each section of the page, drawn from the dataset's context.
const SECTION_VIEWS = {
  generate: generationSection,
  review: reviewSection,
  write: writeSection,
  import: importSection,
  report: reportSection,
};

// The dataset page on screen: switching its sections redraws only the section.
let openPage = null;

export async function renderAssistantDataset(route) {
  if (openPage?.matches(route)) {
    openPage.show(route.section);
    return;
  }
  openPage = null;
  const { view, isCurrent } = claimView();
  setTitle("Набор примеров");
  const denied = accessPanel(route.courseId);
  if (denied) {
    replaceChildren(view, denied);
    return;
  }
  replaceChildren(view, loading("Загрузка набора…"));
  let course, status, dataset;
  try {
    [course, status, dataset] = await Promise.all([
      assistantApi.course(route.courseId).catch(() => null),
      assistantApi.status(),
      assistantApi.dataset(route.datasetId),
    ]);
  } catch (error) {
    if (!isCurrent()) return;
    setTitle("Ошибка");
    replaceChildren(view, loadErrorPanel(error, () => renderAssistantDataset(route), "Набор не найден"));
    return;
  }
  if (!isCurrent()) return;
  if (dataset.course_id !== route.courseId) {
    navigate({ ...route, courseId: dataset.course_id });
    return;
  }
  const page = datasetPage(route, courseName(course, route.courseId), status, dataset);
  replaceChildren(view, page.node);
  openPage = page;
  page.show(route.section);
}

function datasetPage(route, name, status, initialDataset) {
  const { courseId, datasetId } = route;
  const userId = state.user?.id;
  const sectionHref = (section) => routeHref({ name: "assistantDataset", courseId, datasetId, section });
  let dataset = initialDataset;
  let chunksLoading = null;
  const counts = h("p", { class: "dataset-counts" }, countsText(dataset.counts));
  const title = pageTitle(dataset.name);
  const slot = h("div", { class: "section-slot" });
  const links = new Map(SECTIONS.map(({ key, label }) => [key, h("a", { class: "chip", href: sectionHref(key) }, label)]));
  const deleteButton = h(
    "button",
    { type: "button", class: "btn btn-danger-ghost", onclick: () => removeDataset() },
    "Удалить набор",
  );
  const node = h(
    "article",
    { class: "assistant-page" },
    h(
      "header",
      { class: "course-header" },
      breadcrumbs(
        courseCrumb(courseId, name),
        h("a", { href: routeHref({ name: "assistant", courseId }) }, "Ассистент"),
        h("span", {}, dataset.name),
      ),
      h("div", { class: "course-title-row" }, title, h("div", { class: "course-actions" }, deleteButton)),
      counts,
    ),
    h("nav", { class: "chips section-nav", "aria-label": "Разделы набора" }, [...links.values()]),
    slot,
  );

  const context = {
    courseId,
    datasetId,
    status,
    get dataset() {
      return dataset;
    },
    /** The passages of the dataset's snapshot, asked for once. */
    chunks() {
      chunksLoading ||= assistantApi.chunks(datasetId).catch((error) => {
        chunksLoading = null;
        throw error;
      });
      return chunksLoading;
    },
    /** Asks for the dataset again and shows its counts; resolves with it. */
    async refresh() {
      try {
        dataset = await assistantApi.dataset(datasetId);
        counts.textContent = countsText(dataset.counts);
      } catch {
        // The counts stay as they were; the next action asks again.
      }
      return dataset;
    },
    href: sectionHref,
  };

  let shown = null;
  const show = (wanted) => {
    const known = SECTIONS.some(({ key }) => key === wanted);
    const section = known ? wanted : dataset.counts?.total ? "review" : "generate";
    for (const [key, link] of links) {
      if (key === section) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
    const label = SECTIONS.find(({ key }) => key === section).label;
    setTitle(label, dataset.name, name);
    if (section === shown) return;
    shown = section;
    replaceChildren(slot, SECTION_VIEWS[section](context));
  };

  async function removeDataset() {
    const question = `Удалить набор «${dataset.name}» со всеми его примерами? Это нельзя отменить.`;
    if (!(await confirmAction(question, "Удалить набор"))) return;
    try {
      await assistantApi.deleteDataset(datasetId);
    } catch (error) {
      toast(`Не удалось удалить набор. ${problemText(error)}`, { kind: "error" });
      return;
    }
    toast(`Набор «${dataset.name}» удалён`);
    navigate({ name: "assistant", courseId });
  }

  return {
    node,
    show,
    matches: (other) =>
      other.datasetId === datasetId && other.courseId === courseId && state.user?.id === userId && node.isConnected,
  };
}

// ---- an example written by hand ----------------------------------------------------------

const MAX_SOURCES = 8;

function writeSection(context) {
  const body = h("div", {}, loading("Загрузка фрагментов…"));
  const section = panel("Свой пример", [
    h(
      "p",
      { class: "muted panel-lead" },
      "Напишите вопрос студента и идеальный ответ ассистента, выберите фрагменты-источники. ",
      "Ответ ссылается на них номерами [1], [2] — в том порядке, в каком фрагменты выбраны. ",
      "Пример, написанный преподавателем, сразу считается одобренным.",
    ),
    body,
  ]);
  const load = async () => {
    replaceChildren(body, loading("Загрузка фрагментов…"));
    try {
      const chunks = await context.chunks();
      replaceChildren(body, writeForm(context, chunks));
    } catch (error) {
      replaceChildren(body, errorBox(`Не удалось загрузить фрагменты. ${problemText(error)}`, load));
    }
  };
  load();
  return section;
}

function writeForm(context, chunks) {
  const question = h("textarea", { name: "question", rows: 3, maxlength: 4000, required: true });
  const answer = h("textarea", { name: "answer", rows: 7, maxlength: 20000, required: true });
  const kindName = uniqueId("kind");
  const kindOption = (value, label, checked) =>
    h("label", { class: "choice" }, h("input", { type: "radio", name: kindName, value, checked }), " ", label);
  const picker = chunkPicker(chunks, {
    legend: "Фрагменты-источники",
    ordered: true,
    max: MAX_SOURCES,
    hint: `До ${MAX_SOURCES} фрагментов. Номер источника — порядок выбора.`,
  });
  const alert = formAlert();
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Добавить пример");
  const form = h(
    "form",
    { class: "form assistant-form", novalidate: true },
    alert,
    field("Вопрос студента", question),
    field("Идеальный ответ", answer, {
      hint: "Ссылки на источники — [1], [2]… Ответ без источников — вежливый отказ.",
    }),
    h(
      "fieldset",
      { class: "choice-group" },
      h("legend", {}, "Тип вопроса"),
      kindOption("in_scope", "По материалам курса", true),
      kindOption("out_of_scope", "Вне курса — ассистент вежливо откажется", false),
    ),
    picker.node,
    h("div", { class: "form-actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setAlert(alert, "");
    const fields = {
      question: question.value.trim(),
      answer: answer.value.trim(),
      chunk_ids: picker.selected(),
      kind: form.querySelector(`input[name="${kindName}"]:checked`)?.value || "in_scope",
    };
    const problems = writeProblems(fields);
    setFieldError(question, problems.question);
    setFieldError(answer, problems.answer);
    picker.showError(problems.chunk_ids);
    if (Object.keys(problems).length) {
      setAlert(alert, "Проверьте выделенные поля.");
      (problems.question ? question : problems.answer ? answer : null)?.focus();
      return;
    }
    busy(submit, true, "Сохранение…");
    try {
      await assistantApi.writeExample(context.datasetId, fields);
    } catch (error) {
      busy(submit, false);
      const byField = fieldErrors(error.errors);
      const say = (name) => (byField[name] ? [].concat(byField[name]).map(inRussian).join(" ") : "");
      setFieldError(question, say("question"));
      setFieldError(answer, say("answer"));
      picker.showError(say("chunk_ids"));
      setAlert(alert, `Пример не сохранён. ${problemText(error)}`);
      return;
    }
    busy(submit, false);
    toast("Пример добавлен и одобрен");
    question.value = "";
    answer.value = "";
    picker.clear();
    context.refresh();
    question.focus();
  });
  return form;
}

function writeProblems(fields) {
  const problems = {};
  if (!fields.question) problems.question = "Введите вопрос.";
  if (!fields.answer) problems.answer = "Введите ответ.";
  const cited = [...fields.answer.matchAll(/\[(\d{1,3})\]/g)].map((match) => Number(match[1]));
  const beyond = [...new Set(cited.filter((n) => n < 1 || n > fields.chunk_ids.length))];
  if (beyond.length) {
    const cites = beyond.map((n) => `[${n}]`).join(", ");
    problems.chunk_ids = `Ответ ссылается на ${cites}, а фрагментов выбрано ${fields.chunk_ids.length}.`;
  }
  return problems;
}

// ---- JSONL import ------------------------------------------------------------------------

const SAMPLE_LINE =
  '{"messages": [{"role": "system", "content": "Ты — ассистент курса…"}, ' +
  '{"role": "user", "content": "Что такое инвариант цикла?"}, ' +
  '{"role": "assistant", "content": "Инвариант цикла — это утверждение… [1]"}]}';

function importSection(context) {
  const input = h("input", {
    name: "file",
    type: "file",
    required: true,
    accept: ".jsonl,.json,.txt,application/jsonl,application/x-ndjson,text/plain",
  });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Импортировать");
  const result = h("div", { class: "import-result" });
  const form = h(
    "form",
    { class: "form assistant-form", novalidate: true },
    field("Файл JSONL", input, { hint: "До 50 МБ и 20 000 строк." }),
    h("div", { class: "form-actions" }, submit),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replaceChildren(result);
    const file = input.files?.[0];
    if (!file) {
      setFieldError(input, "Выберите файл.");
      input.focus();
      return;
    }
    setFieldError(input, "");
    busy(submit, true, "Импорт…");
    try {
      const { imported } = await assistantApi.importFile(context.datasetId, file);
      replaceChildren(
        result,
        h(
          "div",
          { class: "notice notice-ok", role: "status" },
          h("p", {}, `Импортировано примеров: ${number(imported)}. Они ждут проверки. `),
          h("a", { href: context.href("review") }, "Перейти к проверке"),
        ),
      );
      input.value = "";
      context.refresh();
    } catch (error) {
      replaceChildren(result, importErrors(error));
    } finally {
      busy(submit, false);
    }
  });
  return panel("Импорт из JSONL", [
    h(
      "p",
      { class: "muted panel-lead" },
      "В каждой строке файла — один пример: объект с ключом «messages» в формате Chat Completions, как в файлах ",
      "для дообучения. Импортируются все строки или ни одной; импортированные примеры ждут проверки.",
    ),
    h("pre", { class: "code-sample", tabindex: 0, "aria-label": "Пример строки файла" }, SAMPLE_LINE),
    form,
    result,
  ]);
}

function importErrors(error) {
  if (error.status === 413) return errorBox("Файл больше 50 МБ: импортируйте его частями.");
  if (error.status !== 422) return errorBox(`Файл не импортирован. ${problemText(error)}`);
  const byLine = Object.entries(fieldErrors(error.errors));
  const lineNumber = (key) => Number(/^line (\d+)$/.exec(key)?.[1] ?? Number.MAX_SAFE_INTEGER);
  byLine.sort((a, b) => lineNumber(a[0]) - lineNumber(b[0]));
  const where = (key) => {
    const match = /^line (\d+)$/.exec(key);
    if (match) return `Строка ${match[1]}`;
    return key === "file" ? "Файл" : key;
  };
  return h(
    "div",
    { class: "error-box import-errors", role: "alert" },
    h("p", {}, `Файл не импортирован, ни одна строка не сохранена. ${inRussian(error.serverMessage || "")}`),
    byLine.length
      ? h(
          "ul",
          { class: "line-errors" },
          byLine.map(([key, messages]) =>
            h("li", {}, h("strong", {}, `${where(key)}: `), [].concat(messages).map(inRussian).join(" ")),
          ),
        )
      : null,
  );
}
