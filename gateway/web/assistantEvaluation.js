// Is the tuned model better? A succeeded job's page lists the evaluations of its model and
// starts one; an evaluation's page (#/courses/3/assistant/jobs/9/evaluations/4) shows its
// progress while both models answer the test split and the judge scores them, then the report
// (means with 95 % intervals per model, the judge's win rate, cost and latency per answer, the
// recommendation in words), and the blind comparison: one pair of answers at a time as A and B,
// which model is which shown only once the teacher has picked, and the tally of the picks.

import { assistantApi } from "./assistantApi.js";
import { accessPanel, courseCrumb, courseName, loadErrorPanel, panel } from "./assistantPage.js";
import { busy, dateTime, inRussian, number, problemText, sourceList, usd } from "./assistantParts.js";
import { readExample } from "./assistantReview.js";
import { errorBox, h, loading, replaceChildren, uniqueId } from "./dom.js";
import { navigate, routeHref } from "./router.js";
import { toast } from "./toast.js";
import { breadcrumbs, claimView, pageTitle, setTitle } from "./views.js";

export const EVALUATION_STATUS = {
  queued: "В очереди",
  running: "Идёт",
  succeeded: "Завершена",
  failed: "Ошибка",
};
const ACTIVE = new Set(["queued", "running"]);
const POLL_MS = 1000;
const MODEL_NAMES = { base: "базовая модель", tuned: "дообученная модель" };

// What the report measures, per model: `format` gives one value's text, `range` the values it
// can take (an interval is shown within it).
const MEASURES = [
  { key: "correctness", label: "Верность (судья, 1–5)", format: (value) => number(value, 2), range: [1, 5] },
  {
    key: "groundedness",
    label: "Опора на источники (судья, 1–5)",
    format: (value) => number(value, 2),
    range: [1, 5],
  },
  { key: "token_f1", label: "Token F1 с эталоном", format: (value) => number(value, 3), range: [0, 1] },
  { key: "rouge_l", label: "ROUGE-L с эталоном", format: (value) => number(value, 3), range: [0, 1] },
  { key: "cost_usd", label: "Стоимость ответа", format: (value) => usd(value), range: [0, Infinity] },
  { key: "latency_ms", label: "Задержка ответа, мс", format: (value) => number(value), range: [0, Infinity] },
];

function evaluationTitle(evaluation) {
  return `Оценка №${evaluation.id}`;
}

function evaluationHref(courseId, jobId, evaluationId) {
  return routeHref({ name: "assistantEvaluation", courseId, jobId, evaluationId });
}

const percent = (value) => `${number(value * 100)} %`;

// ---- on the job's page -------------------------------------------------------------------

/** The evaluations of a succeeded job's model, and the button that starts one. */
export function evaluationsBlock(courseId, job, status) {
  const configured = Boolean(status?.provider_configured);
  const list = h("div", { class: "evaluation-list" }, loading("Загрузка оценок…"));
  const start = h("button", { type: "button", class: "btn btn-primary", disabled: !configured }, "Оценить модель");
  const result = h("div", { role: "alert", class: "evaluation-start-error" });
  start.addEventListener("click", async () => {
    replaceChildren(result);
    busy(start, true, "Запуск оценки…");
    try {
      const started = await assistantApi.startEvaluation(job.id);
      toast(`${evaluationTitle(started)} запущена`);
      navigate({ name: "assistantEvaluation", courseId, jobId: job.id, evaluationId: started.id });
    } catch (error) {
      busy(start, false);
      replaceChildren(result, errorBox(`Оценка не началась. ${problemText(error)}`));
    }
  });
  const load = async () => {
    try {
      const evaluations = await assistantApi.evaluations(job.id);
      replaceChildren(list, evaluationList(courseId, job.id, evaluations));
    } catch (error) {
      replaceChildren(list, errorBox(`Не удалось загрузить оценки. ${problemText(error)}`, load));
    }
  };
  load();
  return h(
    "div",
    {},
    h(
      "p",
      { class: "muted panel-lead" },
      "Базовая и дообученная модели отвечают на вопросы тестовой выборки набора, модель-судья оценивает ",
      "ответы и сравнивает их попарно; затем вы сами сравниваете ответы вслепую. Оценка платная: ",
      "ответы обеих моделей и судьи оплачиваются по ценам поставщика.",
    ),
    configured
      ? null
      : h(
          "p",
          { class: "notice notice-warning" },
          "Оценка недоступна: не настроен ключ поставщика модели (OPENAI_API_KEY).",
        ),
    list,
    h("div", { class: "form-actions" }, start),
    result,
  );
}

function evaluationList(courseId, jobId, evaluations) {
  if (!evaluations.length) return h("p", { class: "muted" }, "Модель ещё не оценивали.");
  return h(
    "ul",
    { class: "evaluation-rows" },
    evaluations.map((evaluation) =>
      h(
        "li",
        { class: "evaluation-row" },
        h("a", { href: evaluationHref(courseId, jobId, evaluation.id) }, evaluationTitle(evaluation)),
        " ",
        h(
          "span",
          { class: `state-badge evaluation-${evaluation.status}` },
          EVALUATION_STATUS[evaluation.status] || evaluation.status,
        ),
        h(
          "span",
          { class: "muted" },
          ` · ${dateTime(evaluation.created_at)} · ` +
            `пар: ${number(evaluation.items_done)} из ${number(evaluation.items_total)} · ` +
            usd(evaluation.cost_usd ?? 0),
        ),
      ),
    ),
  );
}

// ---- an evaluation's page ----------------------------------------------------------------

export async function renderAssistantEvaluation(route) {
  const { view, isCurrent } = claimView();
  setTitle("Оценка модели");
  const denied = accessPanel(route.courseId);
  if (denied) {
    replaceChildren(view, denied);
    return;
  }
  replaceChildren(view, loading("Загрузка оценки…"));
  let course, job, report;
  try {
    [course, job, report] = await Promise.all([
      assistantApi.course(route.courseId).catch(() => null),
      assistantApi.job(route.jobId),
      assistantApi.evaluation(route.evaluationId),
    ]);
  } catch (error) {
    if (!isCurrent()) return;
    setTitle("Ошибка");
    replaceChildren(
      view,
      loadErrorPanel(error, () => renderAssistantEvaluation(route), "Оценка не найдена"),
    );
    return;
  }
  if (!isCurrent()) return;
  if (report.job_id !== route.jobId || job.course_id !== route.courseId) {
    if (report.job_id === route.jobId) navigate({ ...route, courseId: job.course_id });
    else replaceChildren(view, loadErrorPanel({ status: 404 }, null, "Оценка не найдена"));
    return;
  }
  const name = courseName(course, route.courseId);
  setTitle(evaluationTitle(report), name);
  replaceChildren(view, evaluationPage(route, name, job, report));
}

function evaluationPage(route, name, job, initial) {
  const { courseId, jobId, evaluationId } = route;
  const jobTitle = `Обучение №${jobId}`;
  const progressSlot = h("div", { class: "evaluation-progress-slot" });
  const verdict = h("div", { class: "evaluation-verdict" });
  const tableSlot = h("div", { class: "evaluation-table-slot" });
  const winSlot = h("div", { class: "evaluation-wins" });
  const compareSlot = h("div", { class: "compare-slot" });
  const announce = h("p", { class: "visually-hidden", role: "status" });
  const page = h(
    "article",
    { class: "assistant-page evaluation-page", dataset: { evaluationId } },
    h(
      "header",
      { class: "course-header" },
      breadcrumbs(
        courseCrumb(courseId, name),
        h("a", { href: routeHref({ name: "assistant", courseId }) }, "Ассистент"),
        h("a", { href: routeHref({ name: "assistantJob", courseId, jobId }) }, jobTitle),
        h("span", {}, evaluationTitle(initial)),
      ),
      pageTitle("Оценка дообученной модели"),
      h(
        "p",
        { class: "lead" },
        "Дообученная модель ",
        h("code", { class: "model-name" }, initial.models?.tuned || job.fine_tuned_model),
        " против базовой ",
        h("code", { class: "model-name" }, initial.models?.base || "—"),
        ` на тестовой выборке; судья — ${initial.models?.judge || "—"}.`,
      ),
    ),
    announce,
    panel("Отчёт", [progressSlot, verdict, tableSlot, winSlot]),
    panel("Сравнение вслепую", compareSlot),
  );

  let shownStatus = null;
  let compare = null;
  const draw = (report) => {
    const changed = shownStatus !== null && report.status !== shownStatus;
    shownStatus = report.status;
    replaceChildren(progressSlot, progressView(report));
    replaceChildren(verdict, verdictView(courseId, report));
    replaceChildren(tableSlot, report.items ? scoresTable(report) : null);
    replaceChildren(winSlot, report.items ? winsView(report) : null);
    if (changed) announce.textContent = `Оценка: ${EVALUATION_STATUS[report.status] || report.status}.`;
    if (report.status === "succeeded" && !compare) {
      compare = blindComparison(evaluationId, { onPicked: refresh });
      replaceChildren(compareSlot, compare.node);
    } else if (report.status !== "succeeded") {
      replaceChildren(
        compareSlot,
        h(
          "p",
          { class: "muted" },
          report.status === "failed"
            ? "Оценка прервалась: сравнивать нечего."
            : "Когда оценка завершится, здесь можно будет сравнить ответы моделей вслепую.",
        ),
      );
    }
    compare?.showTally(report.teacher_win_rate);
  };

  async function refresh() {
    try {
      draw(await assistantApi.evaluation(evaluationId));
    } catch {
      // The report stays as it was; the next pick asks again.
    }
  }

  const poll = async () => {
    if (!page.isConnected) return;
    let next = null;
    try {
      next = await assistantApi.evaluation(evaluationId);
    } catch {
      // a passing failure: ask again
    }
    if (!page.isConnected) return;
    if (next) draw(next);
    if (!next || ACTIVE.has(next.status)) setTimeout(poll, POLL_MS);
  };

  draw(initial);
  if (ACTIVE.has(initial.status)) setTimeout(poll, POLL_MS);
  return page;
}

function progressView(report) {
  if (report.status === "failed") {
    return h(
      "div",
      { class: "error-box" },
      h("p", {}, "Оценка прервалась: ", inRussianOrEnglish(report.error), " Оценённые до этого пары — в отчёте."),
    );
  }
  if (!ACTIVE.has(report.status)) return null;
  const total = Math.max(1, report.items_total || 0);
  const labelId = uniqueId("evaluation-progress");
  return h(
    "div",
    { class: "run-card is-active evaluation-progress" },
    h("h3", { class: "run-title" }, `Оценка: ${EVALUATION_STATUS[report.status]}`),
    h(
      "div",
      { class: "run-progress" },
      h("span", { id: labelId, class: "run-progress-label" }, "Оценено пар ответов"),
      h("progress", {
        max: total,
        value: report.items,
        "aria-labelledby": labelId,
        "aria-valuetext": `${report.items} из ${report.items_total}`,
      }),
    ),
    h(
      "p",
      { class: "run-facts" },
      `${number(report.items)} из ${number(report.items_total)} · потрачено: ${usd(report.cost_usd ?? 0)}`,
    ),
  );
}

function inRussianOrEnglish(text) {
  const original = String(text ?? "").trim();
  if (!original) return "причина не указана.";
  const said = inRussian(original);
  return said !== original ? said : h("span", { lang: "en" }, original);
}

function verdictView(courseId, report) {
  if (report.status !== "succeeded") {
    if (!report.items) return null;
    return h(
      "p",
      { class: "notice" },
      "Предварительные результаты по уже оценённым парам; рекомендация появится, когда оценка завершится.",
    );
  }
  const modelLink = h("a", { href: routeHref({ name: "assistant", courseId }) }, "«Модель курса»");
  if (report.recommended) {
    return h(
      "div",
      { class: "notice notice-ok evaluation-recommendation", dataset: { recommended: "true" } },
      h("p", { class: "notice-title" }, "Рекомендуется: дообученная модель не хуже базовой."),
      h(
        "p",
        {},
        "По оценкам судьи её ответы не уступают базовой в верности и опоре на источники, и судья выбирает её ",
        "не реже, чем базовую. Сделать её моделью курса можно в разделе ",
        modelLink,
        " на странице ассистента.",
      ),
    );
  }
  return h(
    "div",
    { class: "notice notice-warning evaluation-recommendation", dataset: { recommended: "false" } },
    h("p", { class: "notice-title" }, "Не рекомендуется: дообученная модель не показала себя не хуже базовой."),
    h(
      "p",
      {},
      "Судья оценил её ответы ниже базовой по верности или опоре на источники, либо чаще предпочитал базовую. ",
      "Лучше оставить студентам прежнюю модель и улучшить набор примеров.",
    ),
  );
}

function scoresTable(report) {
  const models = report.models || {};
  const cell = (side, measure) => {
    const interval = report[side]?.[measure.key];
    const known = (value) => value !== null && value !== undefined;
    const [floor, ceiling] = measure.range;
    return h(
      "td",
      { class: "num score-cell", dataset: { side, measure: measure.key } },
      h("span", { class: "score-mean" }, known(interval?.mean) ? measure.format(interval.mean) : "—"),
      known(interval?.low)
        ? h(
            "span",
            { class: "score-interval" },
            `95 % ДИ: ${measure.format(Math.max(floor, interval.low))}–` +
              measure.format(Math.min(ceiling, interval.high)),
          )
        : h("span", { class: "score-interval" }, known(interval?.mean) ? "одна пара: без интервала" : ""),
    );
  };
  return h(
    "div",
    { class: "table-scroll", tabindex: 0, role: "region", "aria-label": "Средние по моделям" },
    h(
      "table",
      { class: "data-table scores-table" },
      h(
        "caption",
        {},
        `Средние по ${number(report.items)} ${report.items === 1 ? "паре" : "парам"} ответов ` +
          "с 95-процентными доверительными интервалами (ДИ)",
      ),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Показатель"),
          h("th", { scope: "col" }, "Базовая", h("span", { class: "th-model" }, models.base || "")),
          h("th", { scope: "col" }, "Дообученная", h("span", { class: "th-model" }, models.tuned || "")),
        ),
      ),
      h(
        "tbody",
        {},
        MEASURES.map((measure) =>
          h("tr", {}, h("th", { scope: "row" }, measure.label), cell("base", measure), cell("tuned", measure)),
        ),
      ),
    ),
  );
}

function winRateText(rate, who) {
  if (rate?.rate === null || rate?.rate === undefined) return null;
  return (
    `${who} дообученную модель в ${percent(rate.rate)} пар ` +
    `(95 % ДИ: ${percent(rate.low)}–${percent(rate.high)}; ничья — за половину): ` +
    `лучше — ${number(rate.wins)}, хуже — ${number(rate.losses)}, одинаково — ${number(rate.ties)}.`
  );
}

function winsView(report) {
  const judged = winRateText(report.judge_win_rate, `Судья (${report.models?.judge || "модель"}) предпочёл`);
  return [
    h("h3", { class: "findings-title" }, "Доля побед дообученной модели"),
    h("p", { class: "judge-win-rate" }, judged || "Судья ещё не сравнил ни одной пары."),
    h(
      "p",
      { class: "muted evaluation-cost" },
      `Оценка стоила ${usd(report.cost_usd ?? 0)}: ответы обеих моделей и судьи. `,
      "Судья сравнивает каждую пару дважды, поменяв ответы местами; выбор, который меняется от порядка, — ничья.",
    ),
  ];
}

// ---- the blind comparison ----------------------------------------------------------------

/** {node, showTally(rate)}: one pair at a time, A and B, picked with buttons. */
function blindComparison(evaluationId, { onPicked }) {
  const node = h("div", { class: "compare" }, loading("Загрузка пар ответов…"));
  // Kept across redraws (a pick moves focus onto it), so only its content changes.
  const tally = h("div", { class: "notice compare-tally", tabindex: -1, hidden: true, dataset: { focus: "tally" } });
  let pairs = [];
  let index = 0;
  let rate = null;

  const picked = () => pairs.filter((pair) => pair.pick).length;

  const load = async () => {
    try {
      pairs = await assistantApi.pairs(evaluationId);
    } catch (error) {
      replaceChildren(node, errorBox(`Не удалось загрузить пары ответов. ${problemText(error)}`, load));
      return;
    }
    const first = pairs.findIndex((pair) => !pair.pick);
    index = first >= 0 ? first : 0;
    draw();
  };

  const draw = (focus = null) => {
    if (!pairs.length) {
      replaceChildren(node, h("p", { class: "muted" }, "Пар для сравнения нет."));
      return;
    }
    const pair = pairs[index];
    replaceChildren(
      node,
      h(
        "p",
        { class: "muted panel-lead" },
        "Какой ответ лучше отвечает студенту: верно, по источникам и ясно? Какая модель написала какой ответ, ",
        "станет видно после выбора. Ваш выбор учитывается в отчёте отдельно от судьи.",
      ),
      pairView(pair, index, pairs.length, picked(), {
        onPick: (letter) => choose(pair, letter),
        onPrevious: index > 0 ? () => go(index - 1, "previous") : null,
        onNext: index < pairs.length - 1 ? () => go(index + 1, "next") : null,
      }),
      tally,
    );
    drawTally();
    if (focus) node.querySelector(`[data-focus="${focus}"]`)?.focus();
  };

  const go = (next, focus) => {
    index = next;
    draw(focus);
  };

  const choose = async (pair, letter) => {
    const buttons = [...node.querySelectorAll(".pick-button")];
    for (const button of buttons) button.disabled = true;
    let saved;
    try {
      saved = await assistantApi.pick(evaluationId, pair.item_id, letter);
    } catch (error) {
      for (const button of buttons) button.disabled = false;
      toast(`Выбор не сохранён. ${problemText(error)}`, { kind: "error" });
      return;
    }
    pairs = pairs.map((other) => (other.item_id === saved.item_id ? { ...other, ...saved } : other));
    // Once every pair is picked the tally comes next; otherwise the way on (or back).
    const everyPicked = pairs.every((other) => other.pick);
    draw(everyPicked ? "tally" : index < pairs.length - 1 ? "next" : "previous");
    onPicked();
  };

  const drawTally = () => {
    const count = picked();
    tally.hidden = !count;
    if (!count) {
      replaceChildren(tally);
      return;
    }
    const local = { tuned: 0, base: 0, tie: 0 };
    for (const pair of pairs) {
      if (!pair.pick) continue;
      if (pair.pick === "tie") local.tie += 1;
      else if (pair.a_model) local[pair.pick === "A" ? pair.a_model : other(pair.a_model)] += 1;
    }
    const done = count === pairs.length;
    tally.classList.toggle("notice-ok", done);
    replaceChildren(
      tally,
      h(
        "p",
        { class: "notice-title" },
        done
          ? `Все ${number(count)} пар сравнены. Ваш выбор:`
          : `Ваш выбор по ${number(count)} из ${number(pairs.length)} пар:`,
      ),
      h(
        "ul",
        { class: "tally-list" },
        h("li", {}, `дообученная лучше — ${number(local.tuned)}`),
        h("li", {}, `базовая лучше — ${number(local.base)}`),
        h("li", {}, `одинаково — ${number(local.tie)}`),
      ),
      rate?.rate === null || rate?.rate === undefined
        ? null
        : h("p", { class: "teacher-win-rate" }, winRateText(rate, "Вы предпочли")),
    );
  };

  load();
  return {
    node,
    showTally(next) {
      rate = next;
      if (pairs.length) drawTally();
    },
  };
}

function other(side) {
  return side === "tuned" ? "base" : "tuned";
}

function pairView(pair, index, total, pickedCount, { onPick, onPrevious, onNext }) {
  const { question, sources } = readExample({ messages: [{ role: "user", content: pair.question }] });
  const titleId = uniqueId("pair-title");
  const answer = (letter, text) => {
    const model = pair.a_model ? (letter === "A" ? pair.a_model : other(pair.a_model)) : null;
    return h(
      "section",
      {
        class: `compare-answer${pair.pick === letter ? " is-picked" : ""}`,
        "aria-labelledby": `${titleId}-${letter}`,
        dataset: { letter },
      },
      h(
        "h4",
        { class: "compare-answer-title", id: `${titleId}-${letter}` },
        `Ответ ${letter}`,
        model ? h("span", { class: `state-badge reveal-${model}` }, MODEL_NAMES[model]) : null,
      ),
      h("div", { class: "compare-answer-text" }, text || "—"),
    );
  };
  const pickButton = (letter, label) =>
    h(
      "button",
      {
        type: "button",
        class: `btn ${pair.pick === letter ? "btn-primary" : "btn-secondary"} pick-button`,
        "aria-pressed": String(pair.pick === letter),
        onclick: () => onPick(letter),
      },
      label,
    );
  const reveal = pair.a_model
    ? `Ответ A написала ${MODEL_NAMES[pair.a_model]}, ответ B — ${MODEL_NAMES[other(pair.a_model)]}.`
    : "";
  return h(
    "article",
    { class: "compare-pair", "aria-labelledby": titleId, dataset: { itemId: pair.item_id } },
    h(
      "div",
      { class: "compare-head" },
      h("h3", { class: "compare-position", id: titleId }, `Пара ${number(index + 1)} из ${number(total)}`),
      h("span", { class: "compare-progress-text" }, `Выбрано ${number(pickedCount)} из ${number(total)}`),
      h("progress", { max: total, value: pickedCount, "aria-label": `Выбрано ${pickedCount} из ${total}` }),
    ),
    h("h4", { class: "example-label" }, "Вопрос студента"),
    h("p", { class: "compare-question" }, question || "—"),
    sources.length
      ? h(
          "details",
          { class: "compare-sources" },
          h("summary", {}, `Источники (${number(sources.length)})`),
          sourceList(sources),
        )
      : null,
    pair.reference
      ? h(
          "details",
          { class: "compare-reference" },
          h("summary", {}, "Эталонный ответ из набора"),
          h("div", { class: "compare-answer-text" }, pair.reference),
        )
      : null,
    h("div", { class: "compare-answers" }, answer("A", pair.a), answer("B", pair.b)),
    h(
      "div",
      { class: "compare-actions", role: "group", "aria-label": "Какой ответ лучше?" },
      pickButton("A", "Лучше A"),
      pickButton("tie", "Одинаково"),
      pickButton("B", "Лучше B"),
    ),
    h("p", { class: "compare-reveal", role: "status" }, reveal),
    h(
      "div",
      { class: "compare-nav" },
      h(
        "button",
        {
          type: "button",
          class: "btn btn-ghost",
          disabled: !onPrevious,
          onclick: onPrevious,
          dataset: { focus: "previous" },
        },
        "← Предыдущая пара",
      ),
      h(
        "button",
        { type: "button", class: "btn btn-ghost", disabled: !onNext, onclick: onNext, dataset: { focus: "next" } },
        "Следующая пара →",
      ),
    ),
  );
}
