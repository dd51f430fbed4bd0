// The loss curve of a fine-tuning job, drawn by uPlot (vendor/uplot, loaded the first time a
// curve is shown): train and validation loss against the step and, on a second axis, the mean
// token accuracy when the provider reports it. The figure says in words what the curve shows
// (the steps, the latest and the lowest values), keeps the number of points it drew in
// data-points, and has its data as a table; `update` redraws it as new steps come in.

import { number, pluralRu } from "./assistantParts.js";
import { h, replaceChildren, uniqueId } from "./dom.js";

const UPLOT_MODULE = "./vendor/uplot/uPlot.esm.js";
const UPLOT_STYLES = "vendor/uplot/uPlot.min.css";
const HEIGHT = 280;
const NARROW_HEIGHT = 220;
const AXIS = "#586174";
const GRID = "#e1e5ee";
const FONT = '12px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';
const LABEL_FONT = '600 12.5px system-ui, -apple-system, "Segoe UI", Roboto, sans-serif';

// What a point may carry, in the order of the legend; a series is drawn once it has a value.
const SERIES = [
  { key: "train_loss", label: "Потери на обучении", short: "обучение", scale: "loss", color: "#4338ca" },
  { key: "valid_loss", label: "Потери на валидации", short: "валидация", scale: "loss", color: "#b54708" },
  {
    key: "train_accuracy",
    label: "Точность по токенам на обучении",
    short: "обучение",
    scale: "accuracy",
    color: "#067647",
    dash: [6, 4],
  },
  {
    key: "valid_accuracy",
    label: "Точность по токенам на валидации",
    short: "валидация",
    scale: "accuracy",
    color: "#9e3f8f",
    dash: [2, 3],
  },
];

let uPlotLoading = null;

/** uPlot's module and its stylesheet, fetched once from the portal itself. */
function loadUPlot() {
  uPlotLoading ||= Promise.all([import(UPLOT_MODULE), stylesheet(UPLOT_STYLES)])
    .then(([module]) => module.default)
    .catch((error) => {
      uPlotLoading = null;
      throw error;
    });
  return uPlotLoading;
}

function stylesheet(href) {
  const present = [...document.querySelectorAll("link[data-vendor]")].find((link) => link.dataset.vendor === href);
  if (present) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const link = h("link", { rel: "stylesheet", href, dataset: { vendor: href } });
    link.addEventListener("load", resolve);
    link.addEventListener("error", () => reject(new Error(`${href} did not load`)));
    document.head.appendChild(link);
  });
}

const loss = (value) => number(value, 3);
const percent = (value) => `${number(value * 100, 1)} %`;

function valueText(series, value) {
  return series.scale === "accuracy" ? percent(value) : loss(value);
}

function lastWith(points, key) {
  for (let index = points.length - 1; index >= 0; index -= 1) {
    if (points[index][key] !== null && points[index][key] !== undefined) return points[index];
  }
  return null;
}

/** The curve in words: the steps, the latest values, the lowest validation loss. */
export function chartSummary(points) {
  if (!points.length) return "Данных о потерях пока нет: они появятся, когда начнётся обучение.";
  const last = points[points.length - 1];
  const steps = `${number(points.length)} ${pluralRu(points.length, "шаг", "шага", "шагов")}`;
  const parts = [`${steps} с данными, последний — шаг ${number(last.step)}.`];
  const latest = (scale) =>
    SERIES.filter((series) => series.scale === scale)
      .map((series) => [series, lastWith(points, series.key)])
      .filter(([, point]) => point)
      .map(([series, point]) => `${series.short} — ${valueText(series, point[series.key])}`);
  const losses = latest("loss");
  if (losses.length) parts.push(`Последние потери: ${losses.join(", ")}.`);
  const accuracies = latest("accuracy");
  if (accuracies.length) parts.push(`Точность по токенам: ${accuracies.join(", ")}.`);
  const validated = points.filter((point) => point.valid_loss !== null && point.valid_loss !== undefined);
  if (validated.length > 1) {
    const best = validated.reduce((low, point) => (point.valid_loss < low.valid_loss ? point : low));
    parts.push(`Наименьшие потери на валидации — ${loss(best.valid_loss)} на шаге ${number(best.step)}.`);
  }
  return parts.join(" ");
}

/** {node, update(points), destroy()}: the figure; points are the API's metrics, by step. */
export function lossChart() {
  const titleId = uniqueId("loss-chart-title");
  const summary = h("span", { class: "loss-chart-summary" });
  const plotHost = h("div", { class: "loss-plot", role: "img", "aria-labelledby": titleId, hidden: true });
  const readout = h("p", { class: "loss-readout", "aria-hidden": "true" });
  const legend = h("ul", { class: "chart-legend", "aria-hidden": "true" });
  const problem = h("p", { class: "field-error", hidden: true });
  const table = h("div", { class: "table-scroll", tabindex: 0, role: "region", "aria-label": "Данные кривой потерь" });
  const data = h("details", { class: "chart-data" }, h("summary", {}, "Данные графика таблицей"), table);
  const node = h(
    "figure",
    { class: "loss-chart", dataset: { points: "0" } },
    h(
      "figcaption",
      { id: titleId, class: "loss-chart-caption" },
      h("span", { class: "loss-chart-title" }, "Кривая потерь. "),
      summary,
    ),
    legend,
    plotHost,
    readout,
    problem,
    data,
  );

  let points = [];
  let plot = null;
  let plotShape = "";
  let drawing = Promise.resolve();
  const resizer = new ResizeObserver(() => plot?.setSize(size()));
  resizer.observe(plotHost);

  function size() {
    const width = Math.max(240, Math.floor(plotHost.clientWidth || node.clientWidth || 600));
    return { width, height: width < 520 ? NARROW_HEIGHT : HEIGHT };
  }

  function drawnSeries() {
    return SERIES.filter((series) =>
      points.some((point) => point[series.key] !== null && point[series.key] !== undefined),
    );
  }

  function columns(shown) {
    return [
      points.map((point) => point.step),
      ...shown.map((series) => points.map((point) => point[series.key] ?? null)),
    ];
  }

  function options(shown) {
    const hasAccuracy = shown.some((series) => series.scale === "accuracy");
    const axis = {
      stroke: AXIS,
      font: FONT,
      labelFont: LABEL_FONT,
      grid: { stroke: GRID, width: 1 },
      ticks: { stroke: GRID },
    };
    return {
      ...size(),
      scales: { x: { time: false }, loss: { auto: true }, accuracy: { range: [0, 1] } },
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 7 } },
      series: [
        { label: "Шаг" },
        ...shown.map((series) => ({
          label: series.label,
          scale: series.scale,
          stroke: series.color,
          width: 2,
          dash: series.dash,
          spanGaps: true,
          points: { show: points.length <= 30, size: 5 },
        })),
      ],
      axes: [
        { ...axis, label: "Шаг", values: (u, splits) => splits.map((value) => number(value)) },
        { ...axis, scale: "loss", label: "Потери", values: (u, splits) => splits.map((value) => number(value, 2)) },
        ...(hasAccuracy
          ? [
              {
                ...axis,
                scale: "accuracy",
                side: 1,
                label: "Точность",
                grid: { show: false },
                values: (u, splits) => splits.map((value) => `${number(value * 100)} %`),
              },
            ]
          : []),
      ],
      hooks: { setCursor: [(u) => showReadout(u, shown)] },
    };
  }

  function showReadout(u, shown) {
    const index = u.cursor.idx;
    if (index === null || index === undefined || !points[index]) {
      readout.textContent = "";
      return;
    }
    const point = points[index];
    const values = shown
      .filter((series) => point[series.key] !== null && point[series.key] !== undefined)
      .map((series) => `${series.label.toLowerCase()}: ${valueText(series, point[series.key])}`);
    readout.textContent = `Шаг ${number(point.step)}: ${values.join(" · ")}`;
  }

  function drawLegend(shown) {
    replaceChildren(
      legend,
      shown.map((series) => {
        const last = lastWith(points, series.key);
        return h(
          "li",
          { class: `legend-item legend-${series.key}` },
          h("span", { class: "legend-swatch" }),
          series.label,
          last ? h("span", { class: "legend-value" }, ` ${valueText(series, last[series.key])}`) : null,
        );
      }),
    );
  }

  function drawTable(shown) {
    if (!data.open) return;
    replaceChildren(
      table,
      h(
        "table",
        { class: "data-table" },
        h("caption", { class: "visually-hidden" }, "Потери и точность по шагам"),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Шаг"),
            shown.map((series) => h("th", { scope: "col" }, series.label)),
          ),
        ),
        h(
          "tbody",
          {},
          points.map((point) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, number(point.step)),
              shown.map((series) => {
                const value = point[series.key];
                return h(
                  "td",
                  { class: "num" },
                  value === null || value === undefined ? "—" : valueText(series, value),
                );
              }),
            ),
          ),
        ),
      ),
    );
  }
  data.addEventListener("toggle", () => drawTable(drawnSeries()));

  async function draw() {
    const shown = drawnSeries();
    summary.textContent = chartSummary(points);
    drawLegend(shown);
    drawTable(shown);
    data.hidden = !points.length;
    if (!points.length) {
      plot?.destroy();
      plot = null;
      plotHost.hidden = true;
      node.dataset.points = "0";
      return;
    }
    let uPlot;
    try {
      uPlot = await loadUPlot();
    } catch {
      problem.textContent = "Не удалось загрузить график: данные — в таблице ниже.";
      problem.hidden = false;
      return;
    }
    problem.hidden = true;
    plotHost.hidden = false;
    // The series drawn and whether each point is marked: a change of either makes a new plot.
    const shape = `${shown.map((series) => series.key).join(",")}:${points.length <= 30}`;
    if (plot && shape === plotShape) {
      plot.setData(columns(shown));
    } else {
      plot?.destroy();
      plot = new uPlot(options(shown), columns(shown), plotHost);
      plotShape = shape;
    }
    node.dataset.points = String(points.length);
  }

  return {
    node,
    /** Shows `next` (the job's metrics, by step); resolves once they are drawn. */
    update(next) {
      points = Array.isArray(next) ? next : [];
      drawing = drawing.catch(() => {}).then(draw);
      return drawing;
    },
    destroy() {
      resizer.disconnect();
      plot?.destroy();
      plot = null;
    },
  };
}
