// Pieces the assistant's pages share: labels and numbers in Russian, the service's messages
// put into Russian, form helpers, the notice shown when no model provider is configured, and
// the picker of a dataset's passages.

import { h, replaceChildren, uniqueId } from "./dom.js";

// ---- words and numbers -------------------------------------------------------------------

export const STATUS_LABELS = { pending: "На проверке", approved: "Одобрен", rejected: "Отклонён" };
export const ORIGIN_LABELS = {
  generated: "Сгенерирован",
  manual: "Написан вручную",
  imported: "Импортирован",
  demo: "Демонстрационный",
};
export const KIND_LABELS = { in_scope: "По материалам курса", out_of_scope: "Вне курса (отказ)" };
export const SPLIT_LABELS = { train: "Обучающая", validation: "Валидационная", test: "Тестовая" };
export const SPLITS = ["train", "validation", "test"];

export function pluralRu(count, one, few, many) {
  const mod10 = count % 10;
  const mod100 = count % 100;
  if (mod10 === 1 && mod100 !== 11) return one;
  if (mod10 >= 2 && mod10 <= 4 && (mod100 < 12 || mod100 > 14)) return few;
  return many;
}

/** 40860 → "40 860"; null and undefined → "—". */
export function number(value, digits = 0) {
  if (value === null || value === undefined || !Number.isFinite(Number(value))) return "—";
  return Number(value).toLocaleString("ru-RU", { maximumFractionDigits: digits });
}

/** US dollars, with cents, and more digits for the small sums a generation spends. */
export function usd(value) {
  const amount = Number(value);
  if (!Number.isFinite(amount)) return "—";
  return amount.toLocaleString("ru-RU", {
    style: "currency",
    currency: "USD",
    minimumFractionDigits: 2,
    maximumFractionDigits: amount !== 0 && Math.abs(amount) < 1 ? 4 : 2,
  });
}

export function dateTime(value) {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return "";
  return date.toLocaleString("ru-RU", {
    day: "numeric",
    month: "long",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** 1 → "1 токен", 3 → "3 токена", 40860 → "40 860 токенов". */
export function tokensText(count) {
  return `${number(count)} ${pluralRu(Number(count) || 0, "токен", "токена", "токенов")}`;
}

export function countsText(counts) {
  const c = counts || {};
  return (
    `Примеров: ${number(c.total ?? 0)} · на проверке: ${number(c.pending ?? 0)} · ` +
    `одобрено: ${number(c.approved ?? 0)} · отклонено: ${number(c.rejected ?? 0)}`
  );
}

// ---- the service's messages in Russian ---------------------------------------------------

// The service answers in English; what a teacher is likely to meet is said here in Russian,
// anything else is shown as the service wrote it.
const MESSAGE_RULES = [
  [/^The example is not a JSON object\.$/, () => "Строка — не объект JSON."],
  [/^The example has no non-empty "messages" list\.$/, () => "Нет непустого списка «messages»."],
  [/^Message (\d+) is not an object\.$/, (m) => `Сообщение ${m[1]} — не объект JSON.`],
  [/^Message (\d+) has no (.+)\.$/, (m) => `У сообщения ${m[1]} нет ${quoted(m[2]).replace(" and ", " и ")}.`],
  [/^Message (\d+) has unrecognized keys: (.+)\.$/, (m) => `У сообщения ${m[1]} лишние поля: ${quoted(m[2])}.`],
  [/^Message (\d+) has role (.+)\.$/, (m) => `У сообщения ${m[1]} недопустимая роль ${m[2]}.`],
  [/^The example has no assistant message\.$/, () => "Нет ответа ассистента (сообщения с ролью assistant)."],
  [/^The line is not valid JSON\.$/, () => "Строка — не JSON."],
  [/^The line is not UTF-8 text\.$/, () => "Строка — не текст в кодировке UTF-8."],
  [
    /^The example is longer than ([\d,]+) characters\.$/,
    (m) => `Пример длиннее ${m[1].replaceAll(",", " ")} символов.`,
  ],
  [/^More than (\d+) lines/, (m) => `Больше ${number(m[1])} строк: импортируйте файл частями.`],
  [/^Too many bad lines/, () => "Слишком много ошибочных строк: показаны первые 100."],
  [/^The file holds no examples\.$/, () => "В файле нет ни одного примера."],
  [
    /^The file has lines that are not valid examples/,
    () => "В файле есть строки, которые не являются примерами; ничего не импортировано.",
  ],
  [/^There is no source \[(\d+)\]\.$/, (m) => `Источника [${m[1]}] нет: выберите его среди фрагментов.`],
  [/^No passage (\d+) in this dataset's snapshot\.$/, (m) => `Фрагмента ${m[1]} нет в снимке этого набора.`],
  [
    /^No material of this course stores text yet/,
    () => "В материалах курса пока нет текста: добавьте текст материала или файл.",
  ],
  [
    /^Examples are being generated for this dataset/,
    () => "Для этого набора уже идёт генерация: дождитесь её окончания или отмените её.",
  ],
  [/^Generating examples needs a model provider/, () => NO_PROVIDER_TEXT],
  [
    /^Passages \[(.+)\] are not in this dataset's snapshot\.$/,
    (m) => `Фрагментов ${m[1]} нет в снимке этого набора.`,
  ],
  [/^The provider refused the API key/, () => "Поставщик модели не принял ключ API (OPENAI_API_KEY)."],
  [
    /^The provider does not allow this key/,
    () => "Поставщик модели не разрешает этому ключу работать с этой моделью.",
  ],
  [/^The provider does not know the model/, () => "Поставщик модели не знает такой модели."],
  [
    /^The provider's rate limit or quota was exceeded/,
    () => "Превышен лимит запросов или квота у поставщика модели. Попробуйте позже.",
  ],
  [/^The provider did not answer in time/, () => "Поставщик модели не ответил вовремя. Попробуйте позже."],
  [
    /^The provider could not be reached/,
    () => "Не удалось связаться с поставщиком модели (OPENAI_BASE_URL). Попробуйте позже.",
  ],
  [/^The provider had an internal error/, () => "У поставщика модели внутренняя ошибка. Попробуйте позже."],
  // fine-tuning, evaluation and the course's model
  [
    /^The estimated cost, \$([\d.]+), does not fit the course's fine-tuning budget: \$([\d.]+) of \$([\d.]+)/,
    (m) =>
      `Оценка стоимости обучения — ${usd(m[1])} — не укладывается в бюджет курса на дообучение: ` +
      `из ${usd(m[3])} уже потрачено или зарезервировано ${usd(m[2])}.`,
  ],
  [/^The dataset is not ready for fine-tuning: (.+)$/s, (m) => `Набор не готов к дообучению: ${m[1]}`],
  [
    /^Some approved examples are not split yet/,
    () => "Часть одобренных примеров ещё не разбита на выборки: сначала разбейте набор.",
  ],
  [
    /^Fine-tuning needs a model provider/,
    () => "Дообучение недоступно: не настроен ключ поставщика модели (OPENAI_API_KEY).",
  ],
  [/^Epochs must be from 1 to 25\.$/, () => "Число эпох — от 1 до 25."],
  [/^The job has already finished/, () => "Обучение уже закончилось."],
  [
    /^Evaluating needs a model provider/,
    () => "Оценка недоступна: не настроен ключ поставщика модели (OPENAI_API_KEY).",
  ],
  [
    /^Only a succeeded fine-tuning job's model can be evaluated\.$/,
    () => "Оценить можно только модель успешно завершённого обучения.",
  ],
  [/^The dataset has no test split to evaluate on\.$/, () => "В наборе нет тестовой выборки для оценки."],
  [/^There is no earlier model to go back to\.$/, () => "Прежней модели нет: возвращаться не к чему."],
  [
    /^Only a fine-tuned model of this course can answer its students\.$/,
    () => "Студентам курса может отвечать только модель, дообученная для этого курса.",
  ],
  [
    /^Model (\S+) is not available for fine-tuning or does not exist\.$/,
    (m) => `Поставщик модели не дообучает модель ${m[1]}: её нет или она недоступна для дообучения.`,
  ],
  [
    /^The job failed due to an invalid (training|validation) file\.\s*(.*)$/s,
    (m) =>
      `Поставщик модели не принял файл ${m[1] === "training" ? "обучающей" : "валидационной"} выборки. ` +
      m[2],
  ],
  [/^The provider refused the request: (.+)$/s, (m) => `Поставщик модели отклонил запрос: ${m[1]}`],
];

function quoted(text) {
  return text.replace(/"([^"]*)"/g, "«$1»");
}

/** The service's message in Russian when it is a known one, else as it came. */
export function inRussian(message) {
  const text = String(message ?? "").trim();
  for (const [pattern, say] of MESSAGE_RULES) {
    const match = pattern.exec(text);
    if (match) return say(match);
  }
  return text;
}

/** What went wrong with a request, for a sentence after "Не удалось …". */
export function problemText(error) {
  if (error.status === 403) return "Недостаточно прав: ассистент курса доступен его преподавателям.";
  if (error.unavailable) return "Сервис ассистента временно недоступен. Попробуйте позже.";
  if (error.serverMessage && [400, 409, 422].includes(error.status)) return inRussian(error.serverMessage);
  return error.message;
}

/** The messages of a 422's `errors` by field (webargs nests them under "json"). */
export function fieldErrors(errors) {
  if (!errors || typeof errors !== "object") return {};
  return errors.json && typeof errors.json === "object" ? errors.json : errors;
}

// ---- forms -------------------------------------------------------------------------------

export function formAlert() {
  return h("div", { class: "form-alert", role: "alert", hidden: true });
}

/** Shows `message` (a string, or nodes) in an alert made by formAlert; nothing hides it. */
export function setAlert(node, message) {
  replaceChildren(node, message || null);
  node.hidden = !message;
}

/** A button's busy state: its text while busy, disabled, aria-busy. */
export function busy(button, isBusy, busyText) {
  if (isBusy) {
    button.dataset.label = button.textContent;
    button.textContent = busyText;
  } else if (button.dataset.label) {
    button.textContent = button.dataset.label;
  }
  button.disabled = isBusy;
  button.setAttribute("aria-busy", String(isBusy));
}

/** A field's error under it (the field made by dialogs.js's `field`), or none. */
export function setFieldError(input, message) {
  const node = document.getElementById(`${input.id}-error`);
  if (node) {
    node.textContent = message || "";
    node.hidden = !message;
  }
  if (message) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
}

// ---- no model provider -------------------------------------------------------------------

/** The quoted passages of an example or a prompt, numbered as the answer cites them; with
 * `focusable`, each quote takes the focus (a long quote scrolls from the keyboard). */
export function sourceList(sources, { focusable = false } = {}) {
  return h(
    "ol",
    { class: "example-sources" },
    sources.map((source) =>
      h(
        "li",
        {},
        h(
          "p",
          { class: "source-cite" },
          h("span", { class: "chunk-number" }, `[${source.number}]`),
          " ",
          source.title,
        ),
        h(
          "blockquote",
          focusable
            ? { class: "source-quote", tabindex: 0, "aria-label": `Источник ${source.number}: ${source.title}` }
            : { class: "source-quote" },
          source.text,
        ),
      ),
    ),
  );
}

export const NO_PROVIDER_TEXT =
  "Генерация примеров недоступна: не настроен ключ поставщика модели (OPENAI_API_KEY).";

/** What a provider key would enable, when there is none; null when one is configured. */
export function providerNotice(status, id = uniqueId("provider-notice")) {
  if (!status || status.provider_configured) return null;
  return h(
    "div",
    { class: "notice notice-warning", id },
    h("p", { class: "notice-title" }, NO_PROVIDER_TEXT),
    h(
      "p",
      {},
      "С ключом (а для совместимого сервиса — ещё с адресом OPENAI_BASE_URL) модель-учитель сама составит по ",
      "каждому фрагменту материалов вопросы студентов и идеальные ответы, которые останется проверить. ",
      "Без ключа работает всё остальное: источники, свои и импортированные примеры, проверка, разбиение, ",
      "отчёт и экспорт.",
    ),
    status.message
      ? h("p", { class: "notice-source" }, "Сообщение сервиса: ", h("span", { lang: "en" }, status.message))
      : null,
  );
}

// ---- a dataset's passages ----------------------------------------------------------------

const EXCERPT_CHARS = 160;

/** The start of a passage as plain words: Markdown's marks and table rules left out. */
function excerpt(text) {
  const flat = String(text || "")
    .replace(/^\s*(#{1,6}|>)\s?|\*\*|__|[*`]|\|?(\s*:?-{3,}:?\s*\|)+\s*:?-*:?/gm, "")
    .replace(/(\s*\|)+\s*/g, " · ")
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^· | ·$/g, "");
  return flat.length > EXCERPT_CHARS ? `${flat.slice(0, EXCERPT_CHARS - 1)}…` : flat;
}

/**
 * Checkboxes for the passages of a dataset, grouped by material, with a filter box.
 * With `ordered`, the choice keeps the order of clicks and shows it as the sources [1], [2]…;
 * `max` limits how many may be chosen. Returns {node, selected(), clear(), showError(text)}.
 */
export function chunkPicker(chunks, { legend, ordered = false, max = null, hint = null }) {
  const id = uniqueId("chunks");
  let chosen = [];
  const byId = new Map(chunks.map((chunk) => [chunk.id, chunk]));
  const boxes = new Map();
  const filter = h("input", {
    id: `${id}-filter`,
    type: "search",
    autocomplete: "off",
    placeholder: "Слово из заголовка или текста",
    "aria-controls": `${id}-list`,
  });
  const summary = h("p", { class: "chunk-summary", "aria-live": "polite" });
  const order = ordered ? h("ol", { class: "chunk-order" }) : null;
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });

  const groups = [];
  for (const chunk of chunks) {
    const last = groups[groups.length - 1];
    if (last && last.materialId === chunk.material_id) last.chunks.push(chunk);
    else groups.push({ materialId: chunk.material_id, title: chunk.material_title, chunks: [chunk] });
  }

  const update = () => {
    summary.textContent = chosen.length
      ? `Выбрано фрагментов: ${chosen.length}${max ? ` из ${max} возможных` : ""}`
      : "Фрагменты не выбраны";
    if (order) {
      replaceChildren(
        order,
        chosen.map((chunkId, index) =>
          h(
            "li",
            {},
            h("span", { class: "chunk-number" }, `[${index + 1}]`),
            " ",
            byId.get(chunkId)?.heading || `Фрагмент ${chunkId}`,
          ),
        ),
      );
    }
    for (const [chunkId, box] of boxes) {
      box.disabled = Boolean(max) && chosen.length >= max && !chosen.includes(chunkId);
    }
  };

  const onToggle = (chunkId, box) => {
    chosen = box.checked ? [...chosen, chunkId] : chosen.filter((other) => other !== chunkId);
    error.hidden = true;
    update();
  };

  const groupNodes = groups.map((group) => {
    const titleId = uniqueId("chunk-group");
    const options = group.chunks.map((chunk) => {
      const box = h("input", { type: "checkbox", value: chunk.id, "aria-describedby": `${id}-error` });
      box.addEventListener("change", () => onToggle(chunk.id, box));
      boxes.set(chunk.id, box);
      const option = h(
        "label",
        { class: "chunk-option" },
        box,
        h(
          "span",
          { class: "chunk-text" },
          h("span", { class: "chunk-heading" }, chunk.heading || group.title),
          h("span", { class: "chunk-excerpt" }, excerpt(chunk.content)),
          h("span", { class: "chunk-tokens" }, tokensText(chunk.tokens)),
        ),
      );
      option.dataset.search = `${group.title} ${chunk.heading} ${chunk.content}`.toLocaleLowerCase("ru");
      return option;
    });
    const node = h(
      "div",
      { class: "chunk-group", role: "group", "aria-labelledby": titleId },
      h("p", { class: "chunk-group-title", id: titleId }, group.title),
      options,
    );
    return { node, options };
  });

  const empty = h("p", { class: "muted", hidden: true }, "Ни один фрагмент не подходит.");
  filter.addEventListener("input", () => {
    const needle = filter.value.trim().toLocaleLowerCase("ru");
    let shown = 0;
    for (const { node, options } of groupNodes) {
      let inGroup = 0;
      for (const option of options) {
        const matches = !needle || option.dataset.search.includes(needle);
        option.hidden = !matches;
        if (matches) inGroup += 1;
      }
      node.hidden = inGroup === 0;
      shown += inGroup;
    }
    empty.hidden = shown > 0;
  });

  update();
  const node = h(
    "fieldset",
    { class: "chunk-picker" },
    h("legend", {}, legend),
    hint ? h("p", { class: "field-hint" }, hint) : null,
    h(
      "div",
      { class: "field chunk-filter" },
      h("label", { for: filter.id }, "Найти фрагмент"),
      filter,
    ),
    summary,
    order,
    h("div", { class: "chunk-list", id: `${id}-list` }, groupNodes.map((group) => group.node), empty),
    error,
  );
  return {
    node,
    selected: () => [...chosen],
    clear: () => {
      chosen = [];
      for (const box of boxes.values()) box.checked = false;
      update();
    },
    showError: (text) => {
      error.textContent = text || "";
      error.hidden = !text;
      if (text) node.querySelector("input[type=checkbox]:not(:disabled)")?.focus();
    },
  };
}
