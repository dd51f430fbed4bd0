// Fine-tuning a course's model. The "Обучение" section of the course's assistant page lists its
// jobs and starts one from an approved, error-free dataset, with the estimate and the course's
// budget in view. A job's page (#/courses/3/assistant/jobs/9) follows it while the worker follows
// it at the provider: status, facts, the live loss curve, checkpoints, events, a failure's
// reason, cancelling, and the evaluations of the model it made.

import { assistantApi } from "./assistantApi.js";
import { lossChart } from "./assistantChart.js";
import { evaluationsBlock } from "./assistantEvaluation.js";
import { accessPanel, courseCrumb, courseName, loadErrorPanel, panel } from "./assistantPage.js";
import {
  SPLIT_LABELS,
  busy,
  dateTime,
  fieldErrors,
  formAlert,
  inRussian,
  number,
  problemText,
  setAlert,
  setFieldError,
  usd,
} from "./assistantParts.js";
import { confirmAction, field } from "./dialogs.js";
import { errorBox, h, loading, replaceChildren, uniqueId } from "./dom.js";
import { navigate, routeHref } from "./router.js";
import { toast } from "./toast.js";
import { breadcrumbs, claimView, pageTitle, setTitle } from "./views.js";

export const JOB_STATUS = {
  created: "Создано",
  validating_files: "Проверка файлов",
  queued: "В очереди",
  running: "Идёт обучение",
  succeeded: "Завершено",
  failed: "Ошибка",
  cancelled: "Отменено",
};
export const FINISHED = new Set(["succeeded", "failed", "cancelled"]);
const JOB_POLL_MS = 1000;
const LIST_POLL_MS = 2000;
const SUFFIX = /^[A-Za-z0-9_-]{1,18}$/;
const EVENTS_SHOWN = 60;
/** Sent on window (detail: {courseId}) when a course's budgets change. */
export const SETTINGS_CHANGED = "assistant-settings-changed";

export function jobStatusBadge(status) {
  return h("span", { class: `state-badge job-status job-${status}` }, JOB_STATUS[status] || status);
}

/** The service's or the provider's reason in Russian when it is a known one; else as it came,
 * marked as English text. */
export function reasonText(text) {
  const original = String(text ?? "").trim();
  if (!original) return "причина не указана.";
  const said = inRussian(original);
  return said !== original ? said : h("span", { lang: "en" }, original);
}

function jobTitle(job) {
  return `Обучение №${job.id}`;
}

// ---- the course's jobs and a new one -----------------------------------------------------

/** "Обучение" on the course's assistant page: its jobs (kept up to date while some still run)
 * and the form that starts one. */
export function trainingPanel(courseId, { status, datasets }) {
  const names = new Map(datasets.map((dataset) => [dataset.id, dataset.name]));
  const list = h("div", { class: "job-list" }, loading("Загрузка обучений…"));
  const form = jobForm(courseId, status, datasets);
  const section = panel("Обучение", [
    h(
      "p",
      { class: "muted panel-lead" },
      `Базовая модель ${status?.fine_tuning_base_model || ""} дообучается на обучающей и валидационной выборках `,
      "одобренного набора без ошибок. Обучение идёт у поставщика модели; его ход, кривая потерь и стоимость — ",
      "на странице обучения.",
    ),
    list,
    h("h3", { class: "subsection-title" }, "Новое обучение"),
    form,
  ]);

  let loaded = false;
  let shown = "";
  const load = async () => {
    if (loaded && !section.isConnected) return; // the page was left: stop asking
    let jobs;
    try {
      jobs = await assistantApi.jobs(courseId);
    } catch (error) {
      if (!loaded) replaceChildren(list, errorBox(`Не удалось загрузить обучения. ${problemText(error)}`, load));
      else setTimeout(load, LIST_POLL_MS);
      return;
    }
    loaded = true;
    // Redrawn only when something changed, so focus on a link of the table stays where it is.
    const seen = JSON.stringify(jobs);
    if (seen !== shown) replaceChildren(list, jobsTable(courseId, jobs, names));
    shown = seen;
    if (jobs.some((job) => !FINISHED.has(job.status))) setTimeout(load, LIST_POLL_MS);
  };
  load();
  return section;
}

function jobsTable(courseId, jobs, names) {
  if (!jobs.length) return h("p", { class: "muted" }, "Обучений пока не было.");
  return h(
    "div",
    { class: "table-scroll", tabindex: 0, role: "region", "aria-label": "Обучения курса" },
    h(
      "table",
      { class: "data-table job-table" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Обучение и набор", "Состояние", "Модель", "Эпох", "Начато", "Токенов", "Стоимость"].map((text) =>
            h("th", { scope: "col" }, text),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        jobs.map((job) =>
          h(
            "tr",
            { dataset: { jobId: job.id } },
            h(
              "th",
              { scope: "row" },
              h("a", { href: routeHref({ name: "assistantJob", courseId, jobId: job.id }) }, jobTitle(job)),
              h("span", { class: "job-dataset" }, names.get(job.dataset_id) || `Набор №${job.dataset_id}`),
            ),
            h("td", {}, jobStatusBadge(job.status)),
            h("td", {}, h("code", { class: "model-name" }, job.fine_tuned_model || job.base_model)),
            h("td", { class: "num" }, number(job.n_epochs)),
            h("td", { class: "nowrap" }, shortDateTime(job.created_at)),
            h("td", { class: "num" }, number(job.trained_tokens)),
            h("td", { class: "num" }, jobCost(job)),
          ),
        ),
      ),
    ),
  );
}

/** "07.12.2026, 09:52": a date and time short enough for a table's cell. */
function shortDateTime(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString("ru-RU", { dateStyle: "short", timeStyle: "short" });
}

/** The real cost once known, else the estimate (marked ≈). */
function jobCost(job) {
  if (job.cost_usd !== null && job.cost_usd !== undefined) return usd(job.cost_usd);
  if (FINISHED.has(job.status)) return usd(0);
  return `≈ ${usd(job.estimated_cost_usd)}`;
}

function jobForm(courseId, status, datasets) {
  const configured = Boolean(status?.provider_configured);
  const usable = datasets.filter((dataset) => (dataset.counts?.approved ?? 0) > 0);
  if (!usable.length) {
    return h(
      "p",
      { class: "muted" },
      "Нет набора с одобренными примерами: соберите и проверьте примеры, затем разбейте набор на выборки.",
    );
  }
  const readinessId = uniqueId("job-readiness");
  const noKeyId = uniqueId("job-no-key");
  const datasetSelect = h(
    "select",
    { name: "dataset" },
    usable.map((dataset) => h("option", { value: dataset.id }, dataset.name)),
  );
  const epochs = h("input", { name: "n_epochs", type: "number", min: 1, max: 25, step: 1, inputmode: "numeric" });
  const suffix = h("input", {
    name: "suffix",
    type: "text",
    maxlength: 18,
    autocomplete: "off",
    spellcheck: "false",
    placeholder: `course${courseId}`,
  });
  const seed = h("input", { name: "seed", type: "number", min: 0, step: 1, inputmode: "numeric" });
  const readiness = h("div", { class: "job-readiness", id: readinessId, "aria-live": "polite" });
  const estimate = h("div", { class: "job-estimate" });
  const alert = formAlert();
  const submit = h("button", { type: "submit", class: "btn btn-primary", disabled: true }, "Начать обучение");
  const form = h(
    "form",
    { class: "form assistant-form job-form", novalidate: true },
    configured
      ? null
      : h(
          "p",
          { class: "field-hint", id: noKeyId },
          "Обучение запускается, когда настроен ключ поставщика модели (см. выше); набор можно проверить и без него.",
        ),
    alert,
    h("div", { class: "job-dataset-field" }, field("Набор примеров", datasetSelect)),
    h(
      "div",
      { class: "field-row job-fields" },
      field("Эпох", epochs, { hint: "От 1 до 25; по умолчанию — как в отчёте набора." }),
      field("Суффикс модели", suffix, { hint: "Латиница, цифры, «-» и «_», до 18 знаков: войдёт в имя модели." }),
      field("Зерно", seed, { hint: "Целое от 0; по умолчанию — зерно разбиения набора." }),
    ),
    readiness,
    estimate,
    h("div", { class: "form-actions" }, submit),
  );

  let report = null;
  let settings = null;
  let ready = false;
  const chosenEpochs = () => {
    const value = Number(epochs.value);
    return epochs.value.trim() && Number.isInteger(value) ? value : (report?.training?.epochs ?? null);
  };
  const setReady = (value) => {
    ready = value;
    if (submit.getAttribute("aria-busy") !== "true") submit.disabled = !configured || !ready;
    if (!configured) submit.setAttribute("aria-describedby", noKeyId);
    else if (!ready) submit.setAttribute("aria-describedby", readinessId);
    else submit.removeAttribute("aria-describedby");
  };

  const drawEstimate = () => {
    if (!report) {
      replaceChildren(estimate);
      return;
    }
    const training = report.training || {};
    const count = chosenEpochs() ?? 0;
    const cost = ((training.tokens_per_epoch ?? 0) * count * (report.prices?.training ?? 0)) / 1_000_000;
    const fact = (term, value) => h("div", {}, h("dt", {}, term), h("dd", {}, value));
    const budget = settings?.training_budget_usd;
    const committed = settings?.committed_usd ?? 0;
    const left = budget === null || budget === undefined ? null : budget - committed;
    replaceChildren(
      estimate,
      h(
        "dl",
        { class: "details job-estimate-facts" },
        fact("Токенов за эпоху", number(training.tokens_per_epoch ?? 0)),
        fact("Эпох", number(count)),
        fact("Оценка стоимости", `≈ ${usd(cost)}`),
        fact("Бюджет курса на дообучение", left === null ? "не ограничен" : usd(budget)),
        fact("Потрачено или зарезервировано", usd(committed)),
        left === null ? null : fact("Остаётся", usd(Math.max(0, left))),
      ),
      left !== null && cost > left
        ? h(
            "p",
            { class: "notice notice-warning job-over-budget" },
            "Оценка больше остатка бюджета курса: сервис откажет в таком обучении. ",
            "Уменьшите число эпох или попросите администратора увеличить бюджет.",
          )
        : null,
      h(
        "p",
        { class: "field-hint" },
        `Оценка: токены обучающей выборки × эпохи × ${usd(report.prices?.training ?? 0)} за 1 млн токенов. `,
        "Настоящую стоимость поставщик называет по окончании обучения.",
      ),
    );
  };

  const loadDataset = async () => {
    const datasetId = Number(datasetSelect.value);
    report = null;
    setReady(false);
    replaceChildren(readiness, loading("Проверка набора…"));
    replaceChildren(estimate);
    try {
      [report, settings] = await Promise.all([assistantApi.report(datasetId), assistantApi.settings(courseId)]);
    } catch (error) {
      replaceChildren(readiness, errorBox(`Не удалось проверить набор. ${problemText(error)}`, loadDataset));
      return;
    }
    if (Number(datasetSelect.value) !== datasetId) return; // another dataset was chosen meanwhile
    epochs.placeholder = String(report.training?.epochs ?? "");
    const reportHref = routeHref({ name: "assistantDataset", courseId, datasetId, section: "report" });
    const splits = report.splits || {};
    const splitCounts = ["train", "validation", "test"]
      .map((split) => `${SPLIT_LABELS[split].toLowerCase()} — ${number(splits[split]?.examples ?? 0)}`)
      .join(", ");
    if (!report.ok) {
      replaceChildren(
        readiness,
        h(
          "p",
          { class: "notice notice-error" },
          "В наборе есть ошибки: с ними дообучение не начнётся. ",
          h("a", { href: reportHref }, "Открыть отчёт набора"),
        ),
      );
    } else if (report.unsplit) {
      replaceChildren(
        readiness,
        h(
          "p",
          { class: "notice notice-warning" },
          `Одобренных примеров вне выборок: ${number(report.unsplit)}. Сначала разбейте набор. `,
          h("a", { href: reportHref }, "Перейти к разбиению"),
        ),
      );
    } else {
      replaceChildren(
        readiness,
        h("p", { class: "notice notice-ok" }, `Набор готов к дообучению. Примеров в выборках: ${splitCounts}.`),
      );
      setReady(true);
    }
    drawEstimate();
  };

  // After a refusal the budget may have changed: show what is spent and left now.
  const refreshBudget = async () => {
    try {
      settings = await assistantApi.settings(courseId);
      drawEstimate();
    } catch {
      // The estimate keeps the figures it had.
    }
  };

  // An admin who changes the budgets below on the same page changes what is left here too.
  const onSettings = (event) => {
    if (!form.isConnected) window.removeEventListener(SETTINGS_CHANGED, onSettings);
    else if (event.detail?.courseId === courseId) refreshBudget();
  };
  window.addEventListener(SETTINGS_CHANGED, onSettings);

  datasetSelect.addEventListener("change", loadDataset);
  epochs.addEventListener("input", drawEstimate);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!configured || !ready) return;
    setAlert(alert, "");
    const body = {};
    const problems = {};
    if (epochs.value.trim()) {
      const value = Number(epochs.value);
      if (!Number.isInteger(value) || value < 1 || value > 25) problems.epochs = "Укажите целое число от 1 до 25.";
      else body.n_epochs = value;
    }
    if (suffix.value.trim()) {
      if (!SUFFIX.test(suffix.value.trim())) problems.suffix = "Только латиница, цифры, «-» и «_», до 18 знаков.";
      else body.suffix = suffix.value.trim();
    }
    if (seed.value.trim()) {
      const value = Number(seed.value);
      if (!Number.isInteger(value) || value < 0) problems.seed = "Укажите целое число от 0.";
      else body.seed = value;
    }
    setFieldError(epochs, problems.epochs);
    setFieldError(suffix, problems.suffix);
    setFieldError(seed, problems.seed);
    if (Object.keys(problems).length) {
      setAlert(alert, "Проверьте выделенные поля.");
      (problems.epochs ? epochs : problems.suffix ? suffix : seed).focus();
      return;
    }
    busy(submit, true, "Запуск…");
    try {
      const job = await assistantApi.startJob(Number(datasetSelect.value), body);
      toast(`${jobTitle(job)} запущено`);
      navigate({ name: "assistantJob", courseId, jobId: job.id });
    } catch (error) {
      busy(submit, false);
      setReady(ready);
      const byField = fieldErrors(error.errors);
      const say = (name) => (byField[name] ? [].concat(byField[name]).map(inRussian).join(" ") : "");
      setFieldError(epochs, say("n_epochs"));
      setFieldError(suffix, say("suffix"));
      setFieldError(seed, say("seed"));
      setAlert(alert, `Обучение не началось. ${problemText(error)}`);
      if (error.status === 409) refreshBudget();
    }
  });

  loadDataset();
  return form;
}

// ---- one job -----------------------------------------------------------------------------

export async function renderAssistantJob(route) {
  const { view, isCurrent } = claimView();
  setTitle("Обучение");
  const denied = accessPanel(route.courseId);
  if (denied) {
    replaceChildren(view, denied);
    return;
  }
  replaceChildren(view, loading("Загрузка обучения…"));
  let course, status, job, metrics;
  try {
    [course, status, job, metrics] = await Promise.all([
      assistantApi.course(route.courseId).catch(() => null),
      assistantApi.status().catch(() => null),
      assistantApi.job(route.jobId),
      assistantApi.jobMetrics(route.jobId),
    ]);
  } catch (error) {
    if (!isCurrent()) return;
    setTitle("Ошибка");
    replaceChildren(
      view,
      loadErrorPanel(error, () => renderAssistantJob(route), "Обучение не найдено"),
    );
    return;
  }
  if (!isCurrent()) return;
  if (job.course_id !== route.courseId) {
    navigate({ ...route, courseId: job.course_id });
    return;
  }
  const dataset = await assistantApi.dataset(job.dataset_id).catch(() => null);
  if (!isCurrent()) return;
  const name = courseName(course, route.courseId);
  setTitle(jobTitle(job), name);
  const page = jobPage(route, name, status, job, dataset);
  replaceChildren(view, page.node);
  page.start(metrics);
}

/** {node, start(metrics)}: the page; `start`, once it is shown, draws the curve and follows the
 * job while it runs. */
function jobPage(route, name, status, initialJob, dataset) {
  const { courseId, jobId } = route;
  let job = initialJob;
  let timer = null;
  const badgeSlot = h("span", { class: "job-badge" });
  const lead = h("span", { class: "job-lead" });
  const announce = h("p", { class: "visually-hidden", role: "status" });
  const outcome = h("div", { class: "job-outcome" });
  const facts = h("dl", { class: "details job-facts" });
  const chart = lossChart();
  const checkpoints = h("div", { class: "job-checkpoints" });
  const events = h("div", { class: "job-events" });
  const evaluations = h("div", { class: "job-evaluations" });
  const cancel = h("button", { type: "button", class: "btn btn-danger-ghost" }, "Отменить обучение");
  const datasetName = dataset?.name || `Набор №${job.dataset_id}`;
  const datasetLink = h(
    "a",
    { href: routeHref({ name: "assistantDataset", courseId, datasetId: job.dataset_id, section: "report" }) },
    datasetName,
  );

  const page = h(
    "article",
    { class: "assistant-page job-page", dataset: { jobId } },
    h(
      "header",
      { class: "course-header" },
      breadcrumbs(
        courseCrumb(courseId, name),
        h("a", { href: routeHref({ name: "assistant", courseId }) }, "Ассистент"),
        h("span", {}, jobTitle(job)),
      ),
      h("div", { class: "course-title-row" }, pageTitle(jobTitle(job)), h("div", { class: "course-actions" }, cancel)),
      h("p", { class: "job-status-line" }, badgeSlot, " ", lead),
    ),
    announce,
    outcome,
    panel("Кривая потерь", [
      h(
        "p",
        { class: "muted panel-lead" },
        "Потери на обучающей и валидационной выборках по шагам обучения; пока обучение идёт, кривая ",
        "дорисовывается сама. Если потери на валидации растут, а на обучении падают, модель переобучается.",
      ),
      chart.node,
    ]),
    panel("Оценка модели", evaluations),
    panel("Сведения об обучении", facts),
    panel("Контрольные точки", checkpoints),
    panel("События", events),
  );

  let shownStatus = null;
  const draw = (current) => {
    job = current;
    replaceChildren(badgeSlot, jobStatusBadge(job.status));
    lead.textContent = `Набор «${datasetName}» · базовая модель ${job.base_model}`;
    redraw(facts, job, () => drawFacts(facts, job, datasetLink));
    const active = !FINISHED.has(job.status);
    cancel.hidden = !active;
    if (active && job.cancel_requested) {
      cancel.disabled = true;
      cancel.textContent = "Отмена запрошена…";
    }
    const { status: now, error, cancel_requested: cancelling, fine_tuned_model: model } = job;
    redraw(outcome, [now, error, cancelling, model], () => replaceChildren(outcome, jobOutcome(job)));
    redraw(checkpoints, job.checkpoints, () => replaceChildren(checkpoints, checkpointTable(job.checkpoints || [])));
    redraw(events, job.events, () => replaceChildren(events, eventList(job.events || [])));
    if (job.status !== shownStatus) {
      if (shownStatus !== null) announce.textContent = `${jobTitle(job)}: ${JOB_STATUS[job.status] || job.status}.`;
      shownStatus = job.status;
      replaceChildren(
        evaluations,
        job.status === "succeeded"
          ? evaluationsBlock(courseId, job, status)
          : h(
              "p",
              { class: "muted" },
              job.status === "failed" || job.status === "cancelled"
                ? "Обучение не дало модели: оценивать нечего."
                : "Модель можно будет оценить, когда обучение завершится.",
            ),
      );
    }
  };

  const poll = async () => {
    timer = null;
    if (!page.isConnected) return;
    let current, points;
    try {
      [current, points] = await Promise.all([assistantApi.job(jobId), assistantApi.jobMetrics(jobId)]);
      // The worker stores the result file's metrics with the final status: ask once more so a
      // finished job's whole curve is drawn.
      if (FINISHED.has(current.status)) points = await assistantApi.jobMetrics(jobId);
    } catch {
      current = null; // a passing failure: ask again
    }
    if (!page.isConnected) return;
    if (current) {
      draw(current);
      chart.update(points);
    }
    if (!current || !FINISHED.has(current.status)) timer = setTimeout(poll, JOB_POLL_MS);
  };

  cancel.addEventListener("click", async () => {
    const question =
      `Отменить ${jobTitle(job).toLowerCase()}? Поставщик модели остановит его в течение минуты; ` +
      "уже потраченное на обучение не вернётся.";
    if (!(await confirmAction(question, "Отменить обучение"))) return;
    busy(cancel, true, "Отмена…");
    try {
      draw({ ...job, ...(await assistantApi.cancelJob(jobId)) });
      toast(`${jobTitle(job)} будет отменено`);
    } catch (error) {
      busy(cancel, false);
      toast(`Не удалось отменить обучение. ${problemText(error)}`, { kind: "error" });
    }
  });

  draw(initialJob);
  return {
    node: page,
    start(metrics) {
      chart.update(metrics);
      if (!FINISHED.has(job.status) && timer === null) timer = setTimeout(poll, JOB_POLL_MS);
      // uPlot listens to the window: once another page takes the view, the chart lets go.
      const leaving = new MutationObserver(() => {
        if (page.isConnected) return;
        leaving.disconnect();
        clearTimeout(timer);
        chart.destroy();
      });
      leaving.observe(page.parentNode, { childList: true });
    },
  };
}

const drawnFrom = new WeakMap();

/** Runs `draw` (which fills `node`) only when `data` differs from what it was drawn from last,
 * and gives focus back to the same kind of element when it was inside: the page follows a
 * running job every second, and a reader of its events should not lose their place. */
function redraw(node, data, draw) {
  const signature = JSON.stringify(data ?? null);
  if (drawnFrom.get(node) === signature) return;
  drawnFrom.set(node, signature);
  const active = document.activeElement;
  const selector = active && node.contains(active) ? focusSelector(active) : null;
  draw();
  if (selector) node.querySelector(selector)?.focus({ preventScroll: true });
}

function focusSelector(element) {
  const classes = [...element.classList].map((name) => `.${CSS.escape(name)}`).join("");
  return `${element.tagName.toLowerCase()}${classes}`;
}

function drawFacts(node, job, datasetLink) {
  const fact = (term, value) => h("div", {}, h("dt", {}, term), h("dd", {}, value));
  const code = (text) => (text ? h("code", { class: "model-name" }, text) : "—");
  replaceChildren(
    node,
    fact("Состояние", JOB_STATUS[job.status] || job.status),
    fact("Набор", datasetLink),
    fact("Базовая модель", code(job.base_model)),
    fact("Дообученная модель", code(job.fine_tuned_model)),
    fact("Эпох", number(job.n_epochs)),
    fact("Суффикс", job.suffix || "—"),
    fact("Зерно", number(job.seed)),
    fact("Начато", dateTime(job.created_at)),
    fact("Закончено", job.finished_at ? dateTime(job.finished_at) : "—"),
    fact("Обучено токенов", number(job.trained_tokens)),
    fact("Оценка стоимости", `≈ ${usd(job.estimated_cost_usd)}`),
    fact("Стоимость", job.cost_usd === null || job.cost_usd === undefined ? "—" : usd(job.cost_usd)),
    fact("Задание у поставщика", code(job.provider_job_id)),
  );
}

function jobOutcome(job) {
  switch (job.status) {
    case "failed":
      return h(
        "div",
        { class: "error-box job-failure" },
        h("p", { class: "job-failure-title" }, "Обучение завершилось ошибкой."),
        h("p", {}, "Причина: ", reasonText(job.error)),
      );
    case "cancelled":
      return h("p", { class: "notice notice-warning" }, "Обучение отменено.");
    case "succeeded":
      return h(
        "p",
        { class: "notice notice-ok" },
        "Обучение завершено: модель ",
        h("code", { class: "model-name" }, job.fine_tuned_model),
        " готова. Оцените её ниже, прежде чем отвечать ею студентам.",
      );
    default:
      return h(
        "p",
        { class: "notice job-running" },
        job.cancel_requested
          ? "Отмена запрошена: поставщик модели остановит обучение в течение минуты."
          : "Обучение идёт у поставщика модели. Эту страницу можно закрыть: оно продолжится.",
      );
  }
}

function checkpointTable(checkpoints) {
  if (!checkpoints.length) {
    return h("p", { class: "muted" }, "Контрольные точки появляются в конце последних эпох обучения.");
  }
  const value = (metrics, key, digits = 3) => h("td", { class: "num" }, number(metrics?.[key], digits));
  return h(
    "div",
    { class: "table-scroll", tabindex: 0, role: "region", "aria-label": "Контрольные точки" },
    h(
      "table",
      { class: "data-table" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Шаг", "Модель контрольной точки", "Потери (обучение)", "Потери (валидация)", "Точность (валидация)"].map(
            (text) => h("th", { scope: "col" }, text),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        checkpoints.map((checkpoint) =>
          h(
            "tr",
            {},
            h("th", { scope: "row" }, number(checkpoint.step)),
            h("td", { class: "model-name" }, checkpoint.fine_tuned_model_checkpoint),
            value(checkpoint.metrics, "train_loss"),
            value(checkpoint.metrics, "valid_loss"),
            h(
              "td",
              { class: "num" },
              checkpoint.metrics?.valid_mean_token_accuracy === undefined
                ? "—"
                : `${number(checkpoint.metrics.valid_mean_token_accuracy * 100, 1)} %`,
            ),
          ),
        ),
      ),
    ),
  );
}

function eventList(events) {
  if (!events.length) return h("p", { class: "muted" }, "Событий пока нет.");
  const shown = events.slice(-EVENTS_SHOWN).reverse();
  return [
    events.length > shown.length
      ? h("p", { class: "muted" }, `Последние ${number(shown.length)} из ${number(events.length)}, новые сверху.`)
      : h("p", { class: "muted" }, "Новые сверху. Сообщения поставщика модели — как он их прислал."),
    h(
      "div",
      { class: "event-scroll", tabindex: 0, role: "region", "aria-label": "События обучения" },
      h(
        "ol",
        { class: "event-list", reversed: true },
        shown.map((event) =>
          h(
            "li",
            { class: `event-row event-${event.level}` },
            h("time", { class: "event-time", datetime: event.created_at }, eventTime(event.created_at)),
            event.level === "info" ? null : h("span", { class: "state-badge event-level" }, levelText(event.level)),
            h("span", { class: "event-message", lang: "en" }, event.message),
          ),
        ),
      ),
    ),
  ];
}

function eventTime(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleTimeString("ru-RU", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

function levelText(level) {
  return { error: "Ошибка", warn: "Внимание", warning: "Внимание" }[level] || level;
}
