// The review queue of a dataset: one example at a time (the student's question, the quoted
// sources, the ideal answer) to approve, reject or correct, with keyboard shortcuts, and the
// examples around it to approve in bulk. Where the reviewer stopped is saved with the dataset
// (review_position), so a reload or another day starts there.
//
// The queue holds the examples of one filter in review order (by id), fetched a window at a
// time. An example reviewed here stays in the local list with its new status; the next window
// is asked for at the server offset where it now begins, so none is skipped.

import { assistantApi } from "./assistantApi.js";
import {
  KIND_LABELS,
  ORIGIN_LABELS,
  SPLIT_LABELS,
  STATUS_LABELS,
  busy,
  number,
  pluralRu,
  problemText,
  sourceList,
  tokensText,
} from "./assistantParts.js";
import { errorBox, h, loading, replaceChildren, uniqueId } from "./dom.js";
import { toast } from "./toast.js";

const WINDOW = 20; // examples asked for at a time
const SCAN_PAGE = 50; // examples per request while looking for the saved position
const BLOCK = 10; // examples in the list under the card ("показанные")

const FILTERS = [
  { value: "pending", label: "На проверке" },
  { value: "approved", label: "Одобренные" },
  { value: "rejected", label: "Отклонённые" },
  { value: "all", label: "Все" },
];

// Keys by their position on the keyboard (event.code), so they work in any layout.
const SHORTCUTS = {
  KeyA: "approve",
  KeyR: "reject",
  KeyE: "edit",
  KeyJ: "next",
  ArrowRight: "next",
  KeyK: "previous",
  ArrowLeft: "previous",
};

// The queue on screen, if any: the page-wide shortcuts act on it.
let activeQueue = null;

document.addEventListener("keydown", (event) => {
  const queue = activeQueue;
  if (!queue || !queue.node.isConnected) return;
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey || event.shiftKey) return;
  if (isTextField(event.target) || document.querySelector("dialog[open]")) return;
  const action = SHORTCUTS[event.code];
  if (!action) return;
  if (event.repeat && !["next", "previous"].includes(action)) return;
  event.preventDefault();
  queue.perform(action);
});

function isTextField(target) {
  return Boolean(target?.closest?.('input, textarea, select, [contenteditable]:not([contenteditable="false"])'));
}

// ---- the conversation of an example ------------------------------------------------------

const QUESTION_HEADING = "Вопрос студента:";
const SOURCES_HEADING = "Источники (цитаты из материалов курса):";
const SOURCE = /<source id="(\d+)" title="([^"]*)">\n([\s\S]*?)\n<\/source>/g;

/** {question, sources: [{number, title, text}], answer} as the assistant sees the example. */
export function readExample(example) {
  const messages = Array.isArray(example.messages) ? example.messages : [];
  const user = messages.find((message) => message.role === "user");
  const answer = [...messages].reverse().find((message) => message.role === "assistant");
  let question = String(user?.content ?? "");
  const sources = [];
  const at = question.indexOf(SOURCES_HEADING);
  if (question.startsWith(QUESTION_HEADING)) {
    const quoted = at >= 0 ? question.slice(at) : "";
    question = question.slice(QUESTION_HEADING.length, at >= 0 ? at : undefined).trim();
    for (const match of quoted.matchAll(SOURCE)) {
      sources.push({ number: Number(match[1]), title: match[2], text: match[3] });
    }
  }
  return { question: question.trim(), sources, answer: String(answer?.content ?? "") };
}

function shortText(text, length = 90) {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat;
}

// ---- the section -------------------------------------------------------------------------

export function reviewSection(context) {
  const titleId = uniqueId("review-title");
  const filterSelect = h(
    "select",
    { id: uniqueId("review-filter"), name: "status" },
    FILTERS.map(({ value, label }) => h("option", { value }, label)),
  );
  const body = h("div", { class: "review-body" }, loading("Загрузка примеров…"));
  const announce = h("p", { class: "visually-hidden", role: "status" });
  const node = h(
    "section",
    { class: "panel assistant-panel review", "aria-labelledby": titleId },
    h("h2", { id: titleId, class: "panel-title" }, "Проверка примеров"),
    h(
      "div",
      { class: "review-toolbar" },
      h("div", { class: "field review-filter" }, h("label", { for: filterSelect.id }, "Показывать"), filterSelect),
      h(
        "p",
        { class: "shortcuts-hint" },
        "Клавиши: ",
        h("kbd", {}, "A"),
        " — одобрить, ",
        h("kbd", {}, "R"),
        " — отклонить, ",
        h("kbd", {}, "E"),
        " — изменить ответ, ",
        h("kbd", {}, "J"),
        " или ",
        h("kbd", {}, "→"),
        " — следующий, ",
        h("kbd", {}, "K"),
        " или ",
        h("kbd", {}, "←"),
        " — предыдущий. Работают, когда курсор не в поле ввода.",
      ),
    ),
    body,
    announce,
  );

  const queue = {
    filter: context.dataset.counts?.pending ? "pending" : "all",
    items: [],
    startOffset: 0,
    total: 0,
    index: 0,
    editing: false,
    atEnd: false,
  };
  filterSelect.value = queue.filter;

  const matches = (example) => queue.filter === "all" || example.status === queue.filter;
  const statusParam = () => (queue.filter === "all" ? null : queue.filter);
  const current = () => queue.items[queue.index] || null;
  const left = () => queue.items.filter((example) => !matches(example)).length;

  /** The examples of the filter from server offset `offset`, up to WINDOW of them. */
  async function fetchWindow(offset) {
    const page = Math.floor(offset / WINDOW) + 1;
    const skip = offset % WINDOW;
    const first = await assistantApi.examples(context.datasetId, { page, pageSize: WINDOW, status: statusParam() });
    let items = first.items;
    if (skip && first.items.length === WINDOW) {
      const second = await assistantApi.examples(context.datasetId, {
        page: page + 1,
        pageSize: WINDOW,
        status: statusParam(),
      });
      items = items.concat(second.items);
    }
    return { items: items.slice(skip, skip + WINDOW), total: first.total };
  }

  /** Where example `id` (or the first after it) stands in the filter: {offset, items after}. */
  async function locate(id) {
    for (let page = 1; ; page += 1) {
      const { items, total } = await assistantApi.examples(context.datasetId, {
        page,
        pageSize: SCAN_PAGE,
        status: statusParam(),
      });
      const at = items.findIndex((example) => example.id >= id);
      if (at >= 0) return { offset: (page - 1) * SCAN_PAGE + at, items: items.slice(at), total };
      if (items.length < SCAN_PAGE || page * SCAN_PAGE >= total) return null;
    }
  }

  /** Loads the filter's examples starting at example `fromId` (or at the start). */
  async function load(fromId) {
    replaceChildren(body, loading("Загрузка примеров…"));
    Object.assign(queue, { items: [], startOffset: 0, total: 0, index: 0, editing: false, atEnd: false });
    try {
      const found = fromId ? await locate(fromId) : null;
      if (found) {
        Object.assign(queue, { items: found.items, startOffset: found.offset, total: found.total });
      } else {
        const first = await fetchWindow(0);
        Object.assign(queue, { items: first.items, total: first.total });
      }
    } catch (error) {
      replaceChildren(body, errorBox(`Не удалось загрузить примеры. ${problemText(error)}`, () => load(fromId)));
      return;
    }
    if (!node.isConnected) return;
    draw();
    remember();
  }

  async function loadMoreForward() {
    if (queue.atEnd) return 0;
    const before = left();
    const got = await fetchWindow(queue.startOffset + queue.items.length - before);
    const lastId = queue.items.at(-1)?.id ?? 0;
    const fresh = got.items.filter((example) => example.id > lastId);
    queue.items.push(...fresh);
    queue.total = got.total + before;
    if (!fresh.length) queue.atEnd = true;
    return fresh.length;
  }

  async function loadMoreBackward() {
    if (queue.startOffset === 0) return 0;
    const offset = Math.max(0, queue.startOffset - WINDOW);
    const got = await fetchWindow(offset);
    const firstId = queue.items[0]?.id ?? Number.MAX_SAFE_INTEGER;
    const earlier = got.items.filter((example) => example.id < firstId).slice(-(queue.startOffset - offset));
    queue.items.unshift(...earlier);
    queue.startOffset = earlier.length ? queue.startOffset - earlier.length : 0;
    queue.index += earlier.length;
    return earlier.length;
  }

  // ---- moving and reviewing --------------------------------------------------------------

  async function move(step) {
    queue.editing = false;
    if (step > 0 && queue.index + 1 >= queue.items.length) {
      if (!(await loadMoreForward())) {
        say("Это последний пример.");
        return false;
      }
    }
    if (step < 0 && queue.index === 0) {
      if (!(await loadMoreBackward())) {
        say("Это первый пример.");
        return false;
      }
    }
    queue.index += step;
    draw();
    remember();
    say(`${positionText()}: ${shortText(readExample(current()).question, 140)}`);
    return true;
  }

  async function setStatus(status) {
    const example = current();
    if (!example) return;
    if (example.status !== status) {
      const updated = await assistantApi.updateExample(example.id, { status });
      queue.items[queue.index] = updated;
      context.refresh();
    }
    const done = status === "approved" ? "Одобрен" : "Отклонён";
    draw();
    if (!(await move(1))) say(`${done}. Это последний пример.`);
  }

  async function saveAnswer(text) {
    const example = current();
    const updated = await assistantApi.updateExample(example.id, { answer: text });
    queue.items[queue.index] = updated;
    queue.editing = false;
    draw();
    toast("Ответ сохранён");
    focusAction("edit");
  }

  async function approveShown() {
    const shown = blockItems().filter((example) => example.status === "pending");
    if (!shown.length) return;
    const ids = shown.map((example) => example.id);
    const { changed } = await assistantApi.review(context.datasetId, ids, "approved");
    for (const example of shown) example.status = "approved";
    context.refresh();
    draw();
    toast(`Одобрено ${number(changed)} ${pluralRu(changed, "пример", "примера", "примеров")}`);
  }

  // Actions run one after another, so keys pressed quickly are all carried out in order.
  let chain = Promise.resolve();
  const perform = (action) => {
    chain = chain.then(() => run(action)).catch((error) => {
      toast(`Не удалось выполнить действие. ${problemText(error)}`, { kind: "error" });
      draw();
    });
    return chain;
  };

  async function run(action) {
    if (!node.isConnected || !current()) return;
    switch (action) {
      case "approve":
        return setStatus("approved");
      case "reject":
        return setStatus("rejected");
      case "edit":
        queue.editing = true;
        draw();
        node.querySelector(".answer-editor textarea")?.focus();
        return;
      case "next":
        return move(1);
      case "previous":
        return move(-1);
      case "approveShown":
        return approveShown();
    }
  }

  // The position is saved as the example's id; a newer one waits for the one in flight.
  let saving = null;
  let wanted = null;
  let saved = context.dataset.review_position ?? null;
  function remember() {
    wanted = current()?.id ?? null;
    if (!saving && wanted && wanted !== saved) {
      const id = wanted;
      saving = assistantApi
        .updateDataset(context.datasetId, { review_position: id })
        .then(() => {
          saved = id;
        })
        .catch(() => {})
        .finally(() => {
          saving = null;
          if (wanted !== saved && node.isConnected) remember();
        });
    }
  }

  function say(text) {
    announce.textContent = "";
    announce.textContent = text;
  }

  // ---- drawing ---------------------------------------------------------------------------

  const positionText = () => {
    const total = Math.max(queue.total, queue.startOffset + queue.items.length);
    return `Пример ${number(queue.startOffset + queue.index + 1)} из ${number(total)}`;
  };

  const blockStart = () => Math.floor(queue.index / BLOCK) * BLOCK;
  const blockItems = () => queue.items.slice(blockStart(), blockStart() + BLOCK);

  /** Draws the queue afresh; a button that had focus has it again in the new drawing. */
  function draw() {
    const example = current();
    if (!example) {
      replaceChildren(body, emptyQueue(context, queue.filter));
      return;
    }
    const focused = body.contains(document.activeElement) ? document.activeElement.dataset.action : null;
    replaceChildren(
      body,
      exampleCard(example, positionText(), queue.editing, { onSave: saveAnswer, onCancel: cancelEdit }),
      reviewActions(perform),
      shownList(),
    );
    if (focused) focusAction(focused);
  }

  function focusAction(action) {
    const button = body.querySelector(`[data-action="${action}"]`);
    if (button && !button.disabled) button.focus();
    else node.querySelector(".example-card")?.focus();
  }

  function cancelEdit() {
    queue.editing = false;
    draw();
    focusAction("edit");
  }

  function shownList() {
    const items = blockItems();
    const pending = items.filter((example) => example.status === "pending").length;
    const first = queue.startOffset + blockStart() + 1;
    const captionId = uniqueId("shown");
    const bulk = h(
      "button",
      { type: "button", class: "btn btn-secondary btn-sm", disabled: !pending },
      `Одобрить все показанные (${pending})`,
    );
    bulk.addEventListener("click", async () => {
      busy(bulk, true, "Одобрение…");
      await perform("approveShown");
      node.querySelector(".example-card")?.focus(); // the button went with the redrawn list
    });
    return h(
      "section",
      { class: "shown-examples", "aria-labelledby": captionId },
      h(
        "div",
        { class: "shown-head" },
        h(
          "h3",
          { id: captionId, class: "shown-title" },
          `Примеры ${number(first)}–${number(first + items.length - 1)}`,
        ),
        bulk,
      ),
      h(
        "ol",
        { class: "shown-list", start: first },
        items.map((item, offset) => {
          const index = blockStart() + offset;
          const isCurrent = index === queue.index;
          return h(
            "li",
            { class: `shown-item${isCurrent ? " is-current" : ""}` },
            h(
              "span",
              { class: "shown-row" },
              statusBadge(item.status),
              h(
              "button",
              {
                type: "button",
                class: "shown-open",
                "aria-current": isCurrent ? "true" : null,
                onclick: () => {
                  queue.index = index;
                  queue.editing = false;
                  draw();
                  remember();
                  node.querySelector(".example-card")?.focus();
                },
              },
                shortText(readExample(item).question) || `Пример №${item.id}`,
              ),
            ),
          );
        }),
      ),
    );
  }

  filterSelect.addEventListener("change", () => {
    queue.filter = filterSelect.value;
    load(current()?.id ?? null);
  });

  activeQueue = { node, perform };
  load(context.dataset.review_position);
  return node;
}

function statusBadge(status) {
  return h("span", { class: `state-badge status-${status}` }, STATUS_LABELS[status] || status);
}

function emptyQueue(context, filter) {
  const text = {
    pending: "Примеров на проверке нет.",
    approved: "Одобренных примеров нет.",
    rejected: "Отклонённых примеров нет.",
    all: "В наборе пока нет примеров.",
  }[filter];
  return h(
    "div",
    { class: "empty-state" },
    h("p", { class: "empty-title" }, text),
    h(
      "p",
      {},
      "Примеры появятся после ",
      h("a", { href: context.href("generate") }, "генерации"),
      ", ",
      h("a", { href: context.href("import") }, "импорта"),
      " или когда вы ",
      h("a", { href: context.href("write") }, "напишете свой"),
      ".",
    ),
  );
}

function exampleCard(example, position, editing, { onSave, onCancel }) {
  const { question, sources, answer } = readExample(example);
  const titleId = uniqueId("example-title");
  const facts = [
    ORIGIN_LABELS[example.origin] || example.origin,
    KIND_LABELS[example.kind] || example.kind,
    example.split ? `Выборка: ${SPLIT_LABELS[example.split] || example.split}` : null,
    tokensText(example.tokens),
  ].filter(Boolean);
  return h(
    "article",
    { class: "example-card", tabindex: -1, "aria-labelledby": titleId, dataset: { exampleId: example.id } },
    h(
      "header",
      { class: "example-head" },
      h("h3", { id: titleId, class: "example-position" }, position),
      statusBadge(example.status),
      h("span", { class: "muted example-facts" }, facts.join(" · ")),
    ),
    h("h4", { class: "example-label" }, "Вопрос студента"),
    h("p", { class: "example-question" }, question || "—"),
    h("h4", { class: "example-label" }, "Источники"),
    sources.length ? sourceList(sources, { focusable: true }) : h("p", { class: "muted" }, "Без источников."),
    h("h4", { class: "example-label", id: `${titleId}-answer` }, "Идеальный ответ"),
    editing
      ? answerEditor(answer, `${titleId}-answer`, { onSave, onCancel })
      : h("div", { class: "example-answer" }, answer || "—"),
  );
}

function answerEditor(answer, labelId, { onSave, onCancel }) {
  const textarea = h("textarea", {
    rows: 8,
    maxlength: 20000,
    "aria-labelledby": labelId,
    "aria-describedby": `${labelId}-hint`,
  });
  textarea.value = answer;
  const error = h("p", { class: "field-error", role: "alert", hidden: true });
  const save = h("button", { type: "button", class: "btn btn-primary btn-sm" }, "Сохранить ответ");
  const cancel = h("button", { type: "button", class: "btn btn-secondary btn-sm", onclick: onCancel }, "Отмена");
  const submit = async () => {
    const text = textarea.value.trim();
    if (!text) {
      error.textContent = "Ответ не может быть пустым.";
      error.hidden = false;
      textarea.focus();
      return;
    }
    busy(save, true, "Сохранение…");
    try {
      await onSave(text);
    } catch (problem) {
      busy(save, false);
      error.textContent = `Ответ не сохранён. ${problemText(problem)}`;
      error.hidden = false;
    }
  };
  save.addEventListener("click", submit);
  textarea.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      submit();
    } else if (event.key === "Escape") {
      event.preventDefault();
      onCancel();
    }
  });
  return h(
    "div",
    { class: "field answer-editor" },
    textarea,
    h("p", { class: "field-hint", id: `${labelId}-hint` }, "Ctrl + Enter — сохранить, Esc — отменить."),
    error,
    h("div", { class: "form-actions" }, cancel, save),
  );
}

/** The buttons under the card; each names its key in aria-keyshortcuts and shows it. */
function reviewActions(perform) {
  const button = (action, label, keys, shortcut, className = "btn-secondary") =>
    h(
      "button",
      {
        type: "button",
        class: `btn ${className}`,
        dataset: { action },
        "aria-keyshortcuts": keys,
        onclick: () => perform(action),
      },
      label,
      h("kbd", { "aria-hidden": "true" }, shortcut),
    );
  return h(
    "div",
    { class: "review-actions", role: "group", "aria-label": "Действия с примером" },
    h(
      "div",
      { class: "review-decide" },
      button("approve", "Одобрить", "A", "A", "btn-primary"),
      button("reject", "Отклонить", "R", "R", "btn-danger-ghost review-reject-btn"),
      button("edit", "Изменить ответ", "E", "E"),
    ),
    h(
      "div",
      { class: "review-move" },
      button("previous", [h("span", { "aria-hidden": "true" }, "← "), "Предыдущий"], "K ArrowLeft", "K"),
      button("next", ["Следующий", h("span", { "aria-hidden": "true" }, " →")], "J ArrowRight", "J"),
    ),
  );
}
