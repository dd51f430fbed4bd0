// A dataset's split into train / validation / test, its validation report (errors and warnings
// in words, examples and tokens per split, a histogram of example lengths, epochs and cost) and
// the export of each split as JSONL.

import { assistantApi } from "./assistantApi.js";
import {
  SPLITS,
  SPLIT_LABELS,
  busy,
  fieldErrors,
  formAlert,
  number,
  pluralRu,
  problemText,
  setAlert,
  setFieldError,
  usd,
} from "./assistantParts.js";
import { field } from "./dialogs.js";
import { errorBox, h, loading, replaceChildren, uniqueId } from "./dom.js";
import { toast } from "./toast.js";

const SPLIT_NAMES = {
  train: "обучающая (train)",
  validation: "валидационная (validation)",
  test: "тестовая (test)",
};

export function reportSection(context) {
  const reportBody = h("div", { class: "report-body" }, loading("Составление отчёта…"));
  const exportBody = h("div", { class: "export-body" });
  const loadReport = async () => {
    replaceChildren(reportBody, loading("Составление отчёта…"));
    let report;
    try {
      report = await assistantApi.report(context.datasetId);
    } catch (error) {
      replaceChildren(reportBody, errorBox(`Не удалось составить отчёт. ${problemText(error)}`, loadReport));
      return;
    }
    replaceChildren(reportBody, reportView(report));
    replaceChildren(exportBody, exportButtons(context, report));
  };
  loadReport();
  return h(
    "div",
    { class: "report-sections" },
    panel("Разбиение на выборки", splitForm(context, loadReport)),
    panel("Отчёт о наборе", reportBody),
    panel("Экспорт", exportBody),
  );
}

function panel(title, ...children) {
  const titleId = uniqueId("panel-title");
  return h(
    "section",
    { class: "panel assistant-panel", "aria-labelledby": titleId },
    h("h2", { id: titleId, class: "panel-title" }, title),
    children,
  );
}

// ---- split -------------------------------------------------------------------------------

function splitForm(context, onSplit) {
  const dataset = context.dataset;
  const shares = dataset.split_shares?.length === 3 ? dataset.split_shares : [80, 10, 10];
  const numberInput = (name, value, max = null) =>
    h("input", { name, type: "number", min: 0, max, step: 1, inputmode: "numeric", value });
  const seed = numberInput("seed", dataset.split_seed ?? 0);
  const shareInputs = SPLITS.map((split, index) => numberInput(`share-${split}`, shares[index], 100));
  const alert = formAlert();
  const result = h("p", { class: "split-result", role: "status" });
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Разбить");
  const form = h(
    "form",
    { class: "form assistant-form", novalidate: true },
    h(
      "p",
      { class: "muted panel-lead" },
      "Разбиваются только одобренные примеры. Примеры одного фрагмента всегда попадают в одну выборку, ",
      "чтобы тестовый вопрос не опирался на тот же текст, что и обучающий. Одно и то же зерно даёт то же разбиение.",
    ),
    alert,
    h(
      "div",
      { class: "split-fields" },
      field("Зерно", seed, { hint: "Целое число от 0." }),
      h(
        "fieldset",
        { class: "share-fields" },
        h("legend", {}, "Доли выборок, %"),
        h(
          "div",
          { class: "share-row" },
          SPLITS.map((split, index) => field(SPLIT_LABELS[split], shareInputs[index])),
        ),
        h("p", { class: "field-hint" }, "В сумме 100; обучающей нужна хотя бы часть."),
      ),
    ),
    h("div", { class: "form-actions" }, submit),
    result,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setAlert(alert, "");
    const seedValue = Number(seed.value);
    const values = shareInputs.map((input) => Number(input.value));
    const seedOk = Number.isInteger(seedValue) && seedValue >= 0;
    const sharesOk = values.every((value) => Number.isInteger(value) && value >= 0 && value <= 100);
    const sumOk = sharesOk && values.reduce((a, b) => a + b, 0) === 100 && values[0] > 0;
    setFieldError(seed, seedOk ? "" : "Укажите целое число от 0.");
    for (const input of shareInputs) {
      if (sumOk) input.removeAttribute("aria-invalid");
      else input.setAttribute("aria-invalid", "true");
    }
    if (!seedOk || !sumOk) {
      setAlert(alert, sumOk ? "Проверьте зерно." : "Доли — целые проценты, в сумме 100, у обучающей больше нуля.");
      (seedOk ? shareInputs[0] : seed).focus();
      return;
    }
    busy(submit, true, "Разбиение…");
    try {
      const counts = await assistantApi.split(context.datasetId, seedValue, values);
      result.textContent =
        `Разбито: обучающая — ${number(counts.train)}, валидационная — ${number(counts.validation)}, ` +
        `тестовая — ${number(counts.test)}.`;
      toast("Набор разбит на выборки");
      context.refresh();
      onSplit();
    } catch (error) {
      const byField = fieldErrors(error.errors);
      setAlert(
        alert,
        byField.shares
          ? "Доли должны давать в сумме 100, у обучающей — больше нуля."
          : `Не удалось разбить набор. ${problemText(error)}`,
      );
    } finally {
      busy(submit, false);
    }
  });
  return form;
}

// ---- the report --------------------------------------------------------------------------

const ERROR_TEXT = {
  data_type: () => "Пример — не объект JSON.",
  missing_messages_list: () => "У примера нет непустого списка сообщений «messages».",
  message_missing_key: () => "У сообщения нет поля «role» или «content».",
  message_unrecognized_key: () => "У сообщения есть поля кроме role, content, name, function_call и weight.",
  unrecognized_role: () => "Роль сообщения — не system, user, assistant или function.",
  missing_content: () => "Текст сообщения пуст, отсутствует или не строка.",
  example_missing_assistant_message: () => "В примере нет ответа ассистента.",
  too_few_training_examples: (finding, report) => {
    const least = /at least (\d+)/.exec(finding.message)?.[1] || "10";
    const training = number(report.training?.examples ?? 0);
    return `Для дообучения нужно не меньше ${least} обучающих примеров, а в обучающей выборке ${training}.`;
  },
};

const WARNING_TEXT = {
  missing_system_message: () => "Примеры без системного сообщения (у ассистента курса оно есть всегда).",
  missing_user_message: () => "Примеры без вопроса пользователя.",
  few_training_examples: (finding, report) =>
    `Обучающих примеров ${number(report.training?.examples ?? 0)}; рекомендуется 50 или больше.`,
  duplicate_across_splits: () => "Одинаковые диалоги попали в разные выборки.",
  duplicate_within_split: () => "Одинаковые диалоги повторяются в одной выборке.",
  over_token_limit: (finding, report) =>
    `Примеры длиннее ${number(report.max_tokens_per_example)} токенов: при обучении они будут обрезаны.`,
};

function findingText(finding, report, texts) {
  const say = texts[finding.kind];
  return say ? say(finding, report) : finding.message;
}

function exampleList(ids) {
  if (!ids?.length) return null;
  const shown = ids.slice(0, 8).map((id) => `№${id}`).join(", ");
  const more = ids.length > 8 ? ` и ещё ${number(ids.length - 8)}` : "";
  return h("span", { class: "muted" }, ` Примеры: ${shown}${more}.`);
}

function findings(title, items, report, texts, className) {
  if (!items.length) return null;
  return h(
    "div",
    { class: `findings ${className}` },
    h("h3", { class: "findings-title" }, title),
    h(
      "ul",
      {},
      items.map((finding) =>
        h("li", {}, findingText(finding, report, texts), finding.count ? exampleList(finding.example_ids) : null),
      ),
    ),
  );
}

function reportView(report) {
  const splits = report.splits || {};
  const total = SPLITS.reduce((sum, split) => sum + (splits[split]?.examples || 0), 0);
  return [
    report.ok
      ? h("p", { class: "notice notice-ok report-verdict" }, "Набор готов к дообучению: ошибок нет.")
      : h("p", { class: "notice notice-error report-verdict" }, "Есть ошибки: с ними дообучение не начнётся."),
    findings("Ошибки", report.errors || [], report, ERROR_TEXT, "findings-errors"),
    findings("Предупреждения", report.warnings || [], report, WARNING_TEXT, "findings-warnings"),
    report.unsplit
      ? h(
          "p",
          { class: "notice notice-warning" },
          `Одобренных примеров вне выборок: ${number(report.unsplit)}. Отчёт считает их обучающими; `,
          "нажмите «Разбить», чтобы распределить их.",
        )
      : null,
    total ? splitsTable(splits) : h("p", { class: "muted" }, "Одобренных примеров пока нет."),
    total ? histograms(splits) : null,
    trainingFacts(report),
  ];
}

function splitsTable(splits) {
  const cell = (value, digits = 0) => h("td", { class: "num" }, number(value, digits));
  return h(
    "div",
    { class: "table-scroll", tabindex: 0, role: "region", "aria-label": "Примеры и токены по выборкам" },
    h(
      "table",
      { class: "data-table" },
      h("caption", {}, "Примеры и токены по выборкам"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Выборка", "Примеров", "Токенов всего", "Мин.", "Медиана", "90-й процентиль", "Макс."].map((text) =>
            h("th", { scope: "col" }, text),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        SPLITS.map((split) => {
          const stats = splits[split] || {};
          const tokens = stats.tokens || {};
          return h(
            "tr",
            {},
            h("th", { scope: "row" }, SPLIT_LABELS[split]),
            cell(stats.examples ?? 0),
            cell(tokens.total ?? 0),
            cell(tokens.min),
            cell(tokens.median, 1),
            cell(tokens.p90, 1),
            cell(tokens.max),
          );
        }),
      ),
    ),
  );
}

function trainingFacts(report) {
  const training = report.training || {};
  const inference = report.inference || {};
  const prices = report.prices || {};
  const fact = (term, value) => h("div", {}, h("dt", {}, term), h("dd", {}, value));
  const perAnswer = Number.isFinite(inference.cost_per_answer) ? `≈ ${usd(inference.cost_per_answer)}` : "—";
  return h(
    "section",
    { class: "training-facts", "aria-label": "Обучение и стоимость" },
    h("h3", { class: "findings-title" }, "Обучение и стоимость"),
    h(
      "dl",
      { class: "details" },
      fact("Эпох по умолчанию", number(training.epochs ?? 0)),
      fact("Токенов за эпоху", number(training.tokens_per_epoch ?? 0)),
      fact("Оплачиваемых токенов", number(training.billed_tokens ?? 0)),
      fact("Стоимость обучения", `≈ ${usd(training.cost ?? 0)}`),
      fact("Один ответ модели", perAnswer),
    ),
    h(
      "p",
      { class: "field-hint" },
      `Цены за 1 млн токенов: обучение — ${usd(prices.training ?? 0)}, вход — ${usd(prices.input ?? 0)}, `,
      `выход — ${usd(prices.output ?? 0)}. Оплачиваемые токены — эпохи × токены обучающей выборки.`,
    ),
  );
}

// ---- the histogram -----------------------------------------------------------------------

const SVG = "http://www.w3.org/2000/svg";
const CHART = { width: 560, height: 220, left: 40, right: 12, top: 14, bottom: 38 };
const MAX_BAR = 48;

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== null && value !== undefined) node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function binLabel(bin) {
  return bin.upper - bin.lower <= 1 ? number(bin.lower) : `${number(bin.lower)}–${number(bin.upper - 1)}`;
}

function histograms(splits) {
  const shown = SPLITS.filter((split) => splits[split]?.histogram?.length);
  return h(
    "div",
    { class: "histograms" },
    h("h3", { class: "findings-title" }, "Длина примеров в токенах"),
    shown.map((split) => histogram(split, splits[split].histogram)),
  );
}

/** One split's histogram: SVG bars drawn with DOM calls, described in words and as a table. */
function histogram(split, bins) {
  const id = uniqueId("histogram");
  const counts = bins.map((bin) => bin.count);
  const top = Math.max(1, ...counts);
  const total = counts.reduce((a, b) => a + b, 0);
  const fullest = bins[counts.indexOf(Math.max(...counts))];
  const plotWidth = CHART.width - CHART.left - CHART.right;
  const plotHeight = CHART.height - CHART.top - CHART.bottom;
  // Bars as wide as the plot allows, but not wider than MAX_BAR: a few bins stay bars.
  const step = Math.min(plotWidth / bins.length, MAX_BAR);
  const gap = Math.min(4, step * 0.15);
  const baseline = CHART.top + plotHeight;
  const title = `Длина примеров: ${SPLIT_NAMES[split]} выборка`;
  const description =
    `${number(total)} ${pluralRu(total, "пример", "примера", "примеров")} в ${number(bins.length)} ` +
    `${pluralRu(bins.length, "интервале", "интервалах", "интервалах")} от ${number(bins[0].lower)} до ` +
    `${number(bins[bins.length - 1].upper - 1)} токенов; больше всего (${number(fullest.count)}) — ` +
    `в интервале ${binLabel(fullest)}.`;

  const bars = bins.map((bin, index) => {
    const height = (bin.count / top) * plotHeight;
    return svg(
      "rect",
      {
        class: "hist-bar",
        x: (CHART.left + index * step + gap / 2).toFixed(1),
        y: (baseline - height).toFixed(1),
        width: Math.max(1, step - gap).toFixed(1),
        height: height.toFixed(1),
      },
      svg("title", {}, `${binLabel(bin)} токенов: ${number(bin.count)}`),
    );
  });
  const ticks = [0, Math.floor((bins.length - 1) / 2), bins.length - 1]
    .filter((value, index, all) => all.indexOf(value) === index)
    .map((index) =>
      svg(
        "text",
        {
          class: "hist-label",
          x: (CHART.left + index * step + step / 2).toFixed(1),
          y: baseline + 16,
          "text-anchor": "middle",
        },
        number(bins[index].lower),
      ),
    );
  const chart = svg(
    "svg",
    {
      class: "hist-chart",
      viewBox: `0 0 ${CHART.width} ${CHART.height}`,
      role: "img",
      "aria-labelledby": `${id}-title ${id}-desc`,
      focusable: "false",
    },
    svg("title", { id: `${id}-title` }, title),
    svg("desc", { id: `${id}-desc` }, description),
    svg("line", { class: "hist-axis", x1: CHART.left, y1: baseline, x2: CHART.width - CHART.right, y2: baseline }),
    svg("line", { class: "hist-axis", x1: CHART.left, y1: CHART.top, x2: CHART.left, y2: baseline }),
    svg("text", { class: "hist-label", x: CHART.left - 6, y: CHART.top + 4, "text-anchor": "end" }, number(top)),
    svg("text", { class: "hist-label", x: CHART.left - 6, y: baseline, "text-anchor": "end" }, "0"),
    svg(
      "text",
      { class: "hist-label", x: CHART.left + plotWidth / 2, y: CHART.height - 4, "text-anchor": "middle" },
      "токенов в примере",
    ),
  );
  for (const bar of bars) chart.appendChild(bar);
  for (const tick of ticks) chart.appendChild(tick);
  return h(
    "figure",
    { class: "histogram", dataset: { split } },
    h(
      "figcaption",
      { class: "histogram-caption" },
      `${SPLIT_LABELS[split]} выборка`,
      h("span", { class: "muted" }, ` · ${description}`),
    ),
    chart,
    h(
      "details",
      { class: "histogram-data" },
      h("summary", {}, "Данные гистограммы таблицей"),
      h(
        "table",
        { class: "data-table" },
        h("caption", { class: "visually-hidden" }, title),
        h(
          "thead",
          {},
          h("tr", {}, h("th", { scope: "col" }, "Токенов в примере"), h("th", { scope: "col" }, "Примеров")),
        ),
        h(
          "tbody",
          {},
          bins.map((bin) =>
            h("tr", {}, h("th", { scope: "row" }, binLabel(bin)), h("td", { class: "num" }, number(bin.count))),
          ),
        ),
      ),
    ),
  );
}

// ---- export ------------------------------------------------------------------------------

function exportButtons(context, report) {
  const status = h("p", { class: "visually-hidden", role: "status" });
  const buttons = SPLITS.map((split) => {
    const count = report.splits?.[split]?.examples ?? 0;
    const button = h(
      "button",
      { type: "button", class: "btn btn-secondary export-btn", disabled: !count, dataset: { split } },
      h("span", { "aria-hidden": "true" }, "↓ "),
      `Скачать ${split}.jsonl`,
      h("span", { class: "muted export-count" }, ` (${number(count)})`),
    );
    button.addEventListener("click", async () => {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
      status.textContent = `Скачивание ${split}.jsonl…`;
      try {
        const name = await assistantApi.exportSplit(context.datasetId, split);
        status.textContent = `Файл ${name} скачан.`;
      } catch (error) {
        status.textContent = "";
        toast(`Не удалось скачать выборку. ${problemText(error)}`, { kind: "error" });
      } finally {
        button.disabled = false;
        button.setAttribute("aria-busy", "false");
      }
    });
    return button;
  });
  return [
    h(
      "p",
      { class: "muted panel-lead" },
      "Одобренные примеры выборки — файлом JSONL, по примеру в строке, готовым для дообучения. ",
      "В скобках — число примеров.",
    ),
    h("div", { class: "export-buttons" }, buttons),
    status,
  ];
}
