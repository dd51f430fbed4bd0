// "Вопросы ассистенту": a student asks the course assistant (#/courses/3/ask; ?conversation=7
// goes on with one of their conversations). The answer grows as it streams in, its citations
// [n] link to the cited materials and the cited sources are listed under it; a running answer
// can be stopped. Beside the chat: the asker's conversations of the course, to reopen or
// delete. Each answer takes 👍/👎 and a comment. The model's text is only ever text nodes.

import { isAbort } from "./api.js";
import { askAssistant, canAskAssistant, chatApi, chatStatus } from "./assistantChatApi.js";
import { dateTime, inRussian } from "./assistantParts.js";
import { confirmAction, requestLogin } from "./dialogs.js";
import { errorBox, h, loading, replaceChildren, uniqueId } from "./dom.js";
import { navigate, routeHref } from "./router.js";
import { state } from "./state.js";
import { toast } from "./toast.js";
import { breadcrumbs, claimView, pageTitle, setTitle } from "./views.js";

const TITLE = "Вопросы ассистенту";
const QUESTION_MAX = 2000;
const CITATION = /\[(\d{1,3})\]/g;

// The answer being received, whichever render started it: a newer page stops it.
let running = null;

window.addEventListener("hashchange", () => {
  if (running && !running.isCurrent()) running.controller.abort();
});

// ---- the page ----------------------------------------------------------------------------

export async function renderAsk(route) {
  running?.controller.abort();
  const { view, isCurrent } = claimView();
  setTitle(TITLE, state.courses.get(route.courseId)?.name);
  const denied = accessPanel(route.courseId);
  if (denied) {
    replaceChildren(view, denied);
    return;
  }
  replaceChildren(view, loading("Загрузка ассистента…"));
  const [course, status, conversation] = await Promise.allSettled([
    chatApi.course(route.courseId),
    chatStatus(route.courseId, { fresh: true }),
    route.conversationId ? chatApi.conversation(route.conversationId) : Promise.resolve(null),
  ]);
  if (!isCurrent()) return;
  if (course.status === "rejected") {
    setTitle("Ошибка");
    replaceChildren(view, loadErrorPanel(course.reason, () => renderAsk(route)));
    return;
  }
  const name = course.value?.name || state.courses.get(route.courseId)?.name || `Курс №${route.courseId}`;
  setTitle(conversation.value?.title || TITLE, name);
  replaceChildren(
    view,
    chatPage({
      courseId: route.courseId,
      name,
      status: status.status === "fulfilled" ? status.value : null,
      conversation: conversation.status === "fulfilled" ? conversation.value : null,
      conversationError: conversation.status === "rejected" ? conversation.reason : null,
      isCurrent,
    }),
  );
}

/** The page for a visitor or a user who may not ask, or null when they may. */
function accessPanel(courseId) {
  if (state.restoringSession) return loading("Вход…");
  if (!state.user) {
    return h(
      "section",
      { class: "panel empty-state" },
      pageTitle(TITLE),
      h("p", {}, "Войдите, чтобы задать вопрос ассистенту курса: он отвечает по материалам курса и ссылается на них."),
      h("button", { type: "button", class: "btn btn-primary", onclick: () => requestLogin() }, "Войти"),
    );
  }
  if (!canAskAssistant()) {
    const why =
      state.user.email_verified === false
        ? "Подтвердите почту по ссылке из письма — и можно будет спрашивать ассистента."
        : "Вашей учётной записи вопросы ассистенту недоступны.";
    return h(
      "section",
      { class: "panel empty-state" },
      pageTitle(TITLE),
      h("p", {}, why),
      h("a", { class: "btn btn-secondary", href: routeHref({ name: "course", courseId }) }, "К материалам курса"),
    );
  }
  return null;
}

function loadErrorPanel(error, onRetry) {
  if (error.status === 404) {
    return h(
      "section",
      { class: "panel empty-state" },
      pageTitle("Курс не найден"),
      h("p", {}, "Возможно, его удалили или ссылка устарела."),
      h("a", { class: "btn btn-secondary", href: "#/" }, "На главную"),
    );
  }
  return h("section", { class: "panel" }, pageTitle("Ошибка загрузки"), errorBox(`Не удалось открыть ассистента. ${problemText(error)}`, onRetry));
}

function chatPage({ courseId, name, status, conversation, conversationError, isCurrent }) {
  let currentId = conversation?.id ?? null;
  const conversations = historyPanel(courseId, { currentId: () => currentId });
  const chat = chatPanel({
    courseId,
    status,
    conversation,
    conversationError,
    isCurrent,
    onConversation: (id) => {
      currentId = id;
      history.replaceState(null, "", routeHref({ name: "ask", courseId, conversationId: id }));
    },
    onAnswered: () => conversations.load(),
  });
  conversations.load();
  return h(
    "article",
    { class: "ask-page" },
    h(
      "header",
      { class: "course-header" },
      breadcrumbs(h("a", { href: routeHref({ name: "course", courseId }) }, name), h("span", {}, TITLE)),
      pageTitle(TITLE),
      h(
        "p",
        { class: "lead" },
        `«${name}»: ассистент отвечает по материалам курса и ссылается на них — номер в квадратных скобках `,
        "ведёт к материалу. Он может ошибаться: сверяйтесь с источниками.",
      ),
    ),
    statusNotice(status),
    h("div", { class: "ask-layout" }, chat, conversations.node),
  );
}

/** Why the assistant cannot answer now (switched off, no provider key), or null. */
function statusNotice(status) {
  if (status?.chat_enabled === false) {
    return h(
      "div",
      { class: "notice notice-warning ask-status" },
      h("p", { class: "notice-title" }, "Ассистент курса сейчас выключен."),
      h("p", {}, "Задать вопрос пока нельзя; прежние разговоры можно открыть и удалить."),
    );
  }
  if (status?.provider_configured === false) {
    return h(
      "div",
      { class: "notice notice-warning ask-status" },
      h("p", { class: "notice-title" }, "Ассистент не может отвечать: не настроен ключ поставщика модели (OPENAI_API_KEY)."),
      h(
        "p",
        {},
        "С ключом (а для совместимого сервиса — ещё с адресом OPENAI_BASE_URL) ассистент отвечал бы на вопросы ",
        "по материалам курса со ссылками на них. Без ключа можно открыть и удалить прежние разговоры.",
      ),
      status.chat_message
        ? h("p", { class: "notice-source" }, "Сообщение сервиса: ", h("span", { lang: "en" }, status.chat_message))
        : null,
    );
  }
  return null;
}

// ---- the chat ----------------------------------------------------------------------------

function chatPanel({ courseId, status, conversation, conversationError, isCurrent, onConversation, onAnswered }) {
  const titleId = uniqueId("chat-title");
  let conversationId = conversation?.id ?? null;
  let lastQuestion = "";
  let controller = null;

  const title = h("h2", { id: titleId, class: "panel-title" }, conversation?.title || "Новый разговор");
  const thread = h("ol", { class: "ask-thread", "aria-label": "Вопросы и ответы" });
  const empty = h(
    "p",
    { class: "ask-empty muted" },
    "Задайте вопрос по материалам курса: ассистент найдёт подходящие места в лекциях, семинарах и лабораторных ",
    "и ответит со ссылками на них.",
  );
  const announcer = h("p", { class: "visually-hidden", role: "status" });
  const errorSlot = h("div", { class: "ask-error" });
  const composer = questionForm({ disabled: status?.chat_enabled === false || status?.provider_configured === false });

  for (const message of conversation?.messages || []) {
    thread.append(message.role === "user" ? questionItem(message.content) : storedAnswer(courseId, message).node);
  }
  if (conversationError) {
    errorSlot.append(
      conversationError.status === 404
        ? h("p", { class: "notice notice-warning" }, "Разговор не найден: возможно, его удалили. Задайте вопрос — начнётся новый.")
        : errorBox(`Не удалось открыть разговор. ${problemText(conversationError)}`),
    );
  }
  const showEmpty = () => {
    empty.hidden = thread.children.length > 0;
  };
  showEmpty();

  const announce = (text) => {
    // Emptied first, so the same words said twice are announced twice.
    announcer.textContent = "";
    setTimeout(() => {
      announcer.textContent = text;
    }, 50);
  };

  const showError = (message, retry) => {
    const again = () => {
      composer.forget(lastQuestion);
      ask(lastQuestion);
    };
    replaceChildren(errorSlot, errorBox(message, retry ? again : null));
  };

  const adopt = (id) => {
    if (conversationId || !Number.isInteger(id)) return;
    conversationId = id;
    title.textContent = lastQuestion.slice(0, 80);
    onConversation(id);
  };

  async function ask(question) {
    if (controller) return;
    lastQuestion = question;
    replaceChildren(errorSlot);
    const asked = questionItem(question);
    const answer = answerView(courseId);
    thread.append(asked, answer.node);
    showEmpty();
    asked.scrollIntoView({ block: "nearest" });
    controller = new AbortController();
    const mine = { controller, isCurrent };
    running = mine;
    composer.setRunning(true, () => controller?.abort());
    announce("Вопрос отправлен. Ассистент отвечает…");
    let started = false;
    let ended = false;
    try {
      await askAssistant(courseId, {
        question,
        conversationId,
        signal: controller.signal,
        onEvent: (name, data) => {
          if (!isCurrent()) {
            mine.controller.abort();
            return;
          }
          if (name === "sources") {
            started = true;
            adopt(data?.conversation_id);
            answer.setSources(data?.sources);
          } else if (name === "delta") {
            answer.append(data?.text);
          } else if (name === "done") {
            ended = true;
            answer.finish(data || {});
            announce(`Ответ ассистента: ${answer.text() || "пустой ответ"}`);
          } else if (name === "error") {
            ended = true;
            answer.fail();
            showError(cutOffText(data?.message), true);
          }
        },
      });
      if (!ended) {
        answer.fail();
        showError(cutOffText(), true);
      }
    } catch (error) {
      if (isAbort(error)) {
        if (isCurrent()) {
          answer.stop();
          announce("Ответ остановлен.");
        }
      } else if (!started) {
        // Refused before any answer: the question goes back to the field, nothing stays.
        if (error.status === 404) conversationId = null; // deleted meanwhile: a retry starts anew
        asked.remove();
        answer.node.remove();
        showEmpty();
        composer.restore(question);
        showError(askProblem(error), true);
      } else {
        answer.fail();
        showError(cutOffText(), true);
      }
    } finally {
      if (running === mine) running = null;
      controller = null;
      composer.setRunning(false);
      if (isCurrent()) onAnswered();
    }
  }

  composer.onQuestion(ask);
  return h(
    "section",
    { class: "panel ask-chat", "aria-labelledby": titleId },
    title,
    empty,
    thread,
    announcer,
    errorSlot,
    composer.node,
  );
}

/** The question's textarea, "Спросить" and "Остановить"; Enter sends, Shift+Enter is a new line,
 * Escape stops the answer being written. */
function questionForm({ disabled }) {
  const id = uniqueId("question");
  const input = h("textarea", {
    id,
    name: "question",
    class: "ask-input",
    rows: 3,
    maxlength: QUESTION_MAX,
    placeholder: "Например: чем стек отличается от очереди?",
    "aria-describedby": `${id}-hint ${id}-error`,
    disabled,
  });
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  const send = h("button", { type: "submit", class: "btn btn-primary", disabled }, "Спросить");
  const stop = h("button", { type: "button", class: "btn btn-secondary ask-stop", hidden: true }, "Остановить");
  let onQuestion = () => {};
  let stopping = null;
  const form = h(
    "form",
    { class: "ask-form", novalidate: true },
    h(
      "div",
      { class: "field" },
      h("label", { for: id }, "Ваш вопрос"),
      input,
      h("p", { class: "field-hint", id: `${id}-hint` }, "Enter — отправить, Shift+Enter — новая строка, Esc — остановить ответ."),
      error,
    ),
    h("div", { class: "ask-actions" }, send, stop),
  );
  const setError = (text) => {
    error.textContent = text;
    error.hidden = !text;
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
  };
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    } else if (event.key === "Escape" && stopping) {
      event.preventDefault();
      stopping();
    }
  });
  input.addEventListener("input", () => setError(""));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (send.disabled) return;
    const question = input.value.trim();
    if (!question) {
      setError("Напишите вопрос.");
      input.focus();
      return;
    }
    input.value = "";
    onQuestion(question);
  });
  stop.addEventListener("click", () => {
    stopping?.();
    input.focus();
  });
  return {
    node: form,
    onQuestion: (callback) => {
      onQuestion = callback;
    },
    /** While an answer streams: "Спросить" waits, "Остановить" shows. */
    setRunning: (isRunning, onStop = null) => {
      stopping = onStop;
      send.disabled = isRunning || disabled;
      send.setAttribute("aria-busy", String(isRunning));
      const hadFocus = document.activeElement === stop;
      stop.hidden = !isRunning;
      if (hadFocus && !isRunning) input.focus();
    },
    /** A refused question back in the field, unless something new was typed meanwhile. */
    restore: (question) => {
      if (!input.value.trim()) input.value = question;
    },
    /** The field emptied of `question`, when it is asked again by "Повторить". */
    forget: (question) => {
      if (input.value.trim() === question) input.value = "";
    },
  };
}

// ---- one question and one answer ---------------------------------------------------------

function questionItem(text) {
  return h(
    "li",
    { class: "ask-message ask-question" },
    h("p", { class: "ask-who" }, "Вы"),
    h("div", { class: "ask-text" }, text),
  );
}

/**
 * An answer in the thread: it grows with append(), then finish() (the stored answer with its
 * citations and feedback), stop() or fail(). Citations link only to sources the service named.
 */
function answerView(courseId) {
  const body = h("div", { class: "ask-text" }, h("span", { class: "ask-thinking" }, h("span", { class: "spinner", "aria-hidden": "true" }), "Ассистент ищет ответ в материалах…"));
  const note = h("p", { class: "ask-note", hidden: true });
  const sources = h("div", { class: "ask-sources-slot" });
  const feedback = h("div", { class: "ask-feedback-slot" });
  const node = h(
    "li",
    { class: "ask-message ask-answer", "aria-busy": "true" },
    h("p", { class: "ask-who" }, "Ассистент"),
    body,
    note,
    sources,
    feedback,
  );
  let given = new Map();
  let text = "";
  const draw = (linked) => replaceChildren(body, answerNodes(courseId, text, linked));
  const end = (noteText, kind) => {
    node.removeAttribute("aria-busy");
    if (!text) replaceChildren(body, h("span", { class: "muted" }, "Ответа нет."));
    note.textContent = noteText;
    note.className = `ask-note ask-note-${kind}`;
    note.hidden = false;
  };
  return {
    node,
    text: () => text,
    setSources: (list) => {
      given = sourceMap(list);
    },
    append: (piece) => {
      if (typeof piece !== "string") return;
      text += piece;
      draw(given);
    },
    /** The stored answer: `answer`, the `citations` it kept, `message_id`, earlier feedback. */
    finish: ({ message_id: messageId, answer, citations, feedback: rating = null, feedback_comment: comment = null }) => {
      node.removeAttribute("aria-busy");
      text = typeof answer === "string" ? answer : text;
      const cited = sourceMap(citations);
      if (text) draw(cited);
      else replaceChildren(body, h("span", { class: "muted" }, "Ассистент не дал ответа."));
      replaceChildren(sources, sourcesList(courseId, [...cited.values()]));
      if (Number.isInteger(messageId)) replaceChildren(feedback, feedbackView(messageId, { rating, comment }));
    },
    stop: () => end("Ответ остановлен: показано то, что ассистент успел написать.", "stopped"),
    fail: () => end("Ответ оборвался.", "failed"),
  };
}

/** A stored answer of a conversation, as the history gives it. */
function storedAnswer(courseId, message) {
  const view = answerView(courseId);
  const given = Array.isArray(message.sources) ? message.sources : [];
  const numbers = Array.isArray(message.citations) ? message.citations : given.map((source) => source.n);
  view.finish({
    message_id: message.id,
    answer: message.content,
    citations: given.filter((source) => numbers.includes(source.n)),
    feedback: message.feedback,
    feedback_comment: message.feedback_comment,
  });
  return view;
}

/** n → source, for the well-formed sources only: a number without one is never a link. */
function sourceMap(list) {
  const map = new Map();
  for (const source of Array.isArray(list) ? list : []) {
    const valid = Number.isInteger(source?.n) && source.n >= 1 && Number.isInteger(source.material_id) && source.material_id >= 1;
    if (valid && !map.has(source.n)) map.set(source.n, source);
  }
  return new Map([...map].sort(([a], [b]) => a - b));
}

/** The answer's text with each [n] of a known source made a link to its material. */
function answerNodes(courseId, text, linked) {
  const nodes = [];
  let from = 0;
  for (const match of text.matchAll(CITATION)) {
    const source = linked.get(Number(match[1]));
    if (!source) continue;
    nodes.push(text.slice(from, match.index), citationLink(courseId, source));
    from = match.index + match[0].length;
  }
  nodes.push(text.slice(from));
  return nodes;
}

function materialHref(courseId, source) {
  return routeHref({ name: "material", courseId, materialId: source.material_id });
}

function sourceTitle(source) {
  return String(source.title || `Материал №${source.material_id}`);
}

function citationLink(courseId, source) {
  return h(
    "a",
    { class: "ask-cite", href: materialHref(courseId, source), title: sourceTitle(source) },
    `[${source.n}]`,
    h("span", { class: "visually-hidden" }, ` (источник: ${sourceTitle(source)})`),
  );
}

/** The passage's heading without the material's title it starts with ("Title › Part"). */
function sourceHeading(source) {
  const heading = String(source.heading || "").trim();
  const title = sourceTitle(source);
  if (heading === title) return "";
  return heading.startsWith(`${title} › `) ? heading.slice(title.length + 3) : heading;
}

function sourcesList(courseId, cited) {
  if (!cited.length) return null;
  const titleId = uniqueId("sources-title");
  return h(
    "div",
    { class: "ask-sources" },
    h("p", { class: "ask-sources-title", id: titleId }, "Источники"),
    h(
      "ol",
      { class: "ask-source-list", "aria-labelledby": titleId },
      cited.map((source) =>
        h(
          "li",
          { class: "ask-source" },
          h("span", { class: "ask-source-number" }, `[${source.n}]`),
          h("a", { href: materialHref(courseId, source) }, sourceTitle(source)),
          sourceHeading(source) ? h("span", { class: "ask-source-heading" }, sourceHeading(source)) : null,
        ),
      ),
    ),
  );
}

// ---- feedback ----------------------------------------------------------------------------

/** 👍/👎 on an answer (saved at once), then an optional comment saved with the rating. */
function feedbackView(messageId, { rating, comment }) {
  let current = rating === 1 || rating === -1 ? rating : null;
  const labelId = uniqueId("feedback-label");
  const commentId = uniqueId("feedback-comment");
  const saved = h("span", { class: "ask-feedback-status", role: "status" });
  // The words beside the emoji are for a screen without an emoji font; the name says it all.
  const rateButton = (value, emoji, word, label) =>
    h(
      "button",
      { type: "button", class: "btn btn-secondary btn-sm ask-rate", "aria-label": label, dataset: { rating: value } },
      h("span", { "aria-hidden": "true" }, emoji),
      word,
    );
  const up = rateButton(1, "👍", "Помог", "Ответ помог");
  const down = rateButton(-1, "👎", "Не помог", "Ответ не помог");
  const input = h("textarea", { id: commentId, class: "ask-comment-input", rows: 2, maxlength: QUESTION_MAX, value: comment || "" });
  const submit = h("button", { type: "submit", class: "btn btn-secondary btn-sm" }, "Сохранить комментарий");
  const form = h(
    "form",
    { class: "ask-comment", hidden: current === null },
    h("div", { class: "field" }, h("label", { for: commentId }, "Комментарий к оценке (необязательно)"), input),
    submit,
  );
  const press = () => {
    up.setAttribute("aria-pressed", String(current === 1));
    down.setAttribute("aria-pressed", String(current === -1));
  };
  const save = async (value, withComment) => {
    const buttons = [up, down, submit];
    for (const button of buttons) button.disabled = true;
    saved.textContent = "Сохранение…";
    try {
      const stored = await chatApi.feedback(messageId, value, input.value.trim());
      current = stored?.feedback ?? value;
      press();
      form.hidden = false;
      saved.textContent = withComment ? "Комментарий сохранён. Спасибо!" : "Оценка сохранена. Спасибо!";
    } catch (error) {
      saved.textContent = `Отзыв не сохранён. ${problemText(error)}`;
    } finally {
      for (const button of buttons) button.disabled = false;
    }
  };
  up.addEventListener("click", () => save(1, false));
  down.addEventListener("click", () => save(-1, false));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (current !== null) save(current, true);
  });
  press();
  return h(
    "div",
    { class: "ask-feedback" },
    h(
      "div",
      { class: "ask-rating", role: "group", "aria-labelledby": labelId },
      h("span", { id: labelId, class: "ask-rating-label" }, "Ответ полезен?"),
      up,
      down,
      saved,
    ),
    form,
  );
}

// ---- the conversations -------------------------------------------------------------------

function historyPanel(courseId, { currentId }) {
  const titleId = uniqueId("history-title");
  const body = h("div", { class: "ask-history-body" }, loading("Загрузка разговоров…"));
  const newLink = h("a", { class: "btn btn-secondary btn-sm ask-new", href: routeHref({ name: "ask", courseId }) }, "Новый разговор");

  const load = async () => {
    let conversations;
    try {
      conversations = await chatApi.conversations(courseId);
    } catch (error) {
      replaceChildren(body, errorBox(`Не удалось загрузить разговоры. ${problemText(error)}`, load));
      return;
    }
    draw(Array.isArray(conversations) ? conversations : []);
  };

  const draw = (conversations) => {
    if (!conversations.length) {
      replaceChildren(body, h("p", { class: "muted" }, "Разговоров пока нет: они появятся здесь после первого вопроса."));
      return;
    }
    replaceChildren(
      body,
      h(
        "ul",
        { class: "ask-conversations" },
        conversations.map((conversation) => conversationRow(conversation)),
      ),
    );
  };

  const conversationRow = (conversation) =>
    h(
      "li",
      { class: "ask-conversation", dataset: { conversationId: conversation.id } },
      h(
        "a",
        {
          class: "ask-conversation-link",
          href: routeHref({ name: "ask", courseId, conversationId: conversation.id }),
          "aria-current": conversation.id === currentId() ? "page" : null,
        },
        h("span", { class: "ask-conversation-title" }, conversation.title || "Без названия"),
        h("span", { class: "ask-conversation-date" }, dateTime(conversation.updated_at)),
      ),
      h(
        "button",
        {
          type: "button",
          class: "icon-btn small ask-conversation-delete",
          "aria-label": `Удалить разговор «${conversation.title || "Без названия"}»`,
          title: "Удалить разговор",
          onclick: () => remove(conversation),
        },
        "×",
      ),
    );

  const remove = async (conversation) => {
    const question = `Удалить разговор «${conversation.title || "Без названия"}»? Его вопросы и ответы пропадут.`;
    if (!(await confirmAction(question))) return;
    try {
      await chatApi.deleteConversation(conversation.id);
    } catch (error) {
      toast(`Не удалось удалить разговор. ${problemText(error)}`, { kind: "error" });
      return;
    }
    toast("Разговор удалён");
    if (conversation.id === currentId()) {
      navigate({ name: "ask", courseId });
      return;
    }
    await load();
    newLink.focus();
  };

  const node = h(
    "section",
    { class: "panel ask-history", "aria-labelledby": titleId },
    h("div", { class: "panel-head" }, h("h2", { id: titleId, class: "panel-title" }, "Мои разговоры"), newLink),
    body,
  );
  return { node, load };
}

// ---- problems in words -------------------------------------------------------------------

/** Why a question was refused, from the status and the service's message (which is English). */
function askProblem(error) {
  const message = error.serverMessage || "";
  if (error.status === 429) {
    if (/budget/i.test(message)) {
      return "Ассистент этого курса израсходовал бюджет на месяц. Вопросы снова можно будет задавать в следующем месяце.";
    }
    if (/today|midnight/i.test(message)) {
      return "Ваша дневная доля вопросов ассистенту исчерпана. Она обновится в полночь по UTC.";
    }
    return error.retryAfter
      ? `Слишком много вопросов — попробуйте через ${error.retryAfter} с.`
      : "Слишком много вопросов — попробуйте чуть позже.";
  }
  if (error.status === 503) {
    if (/switched off/i.test(message)) return "Ассистент курса сейчас выключен. Прежние разговоры по-прежнему доступны.";
    if (/needs a model provider/i.test(message)) {
      return "Ассистент не может отвечать: не настроен ключ поставщика модели (OPENAI_API_KEY).";
    }
    if (/provider/i.test(message)) {
      const detail = inRussian(message);
      return `Ответа нет: поставщик модели сейчас недоступен. ${detail === message ? "Попробуйте позже." : detail}`;
    }
  }
  if (error.status === 404) return "Разговор не найден: возможно, его удалили. Начните новый разговор.";
  if (error.status === 422 || error.status === 400) return `Вопрос не принят: он должен быть длиной от 1 до ${QUESTION_MAX} символов.`;
  return `Не удалось получить ответ. ${problemText(error)}`;
}

/** An answer that ended before it was complete, with the service's reason when it gave one. */
function cutOffText(message = "") {
  const detail = message ? inRussian(message) : "";
  const reason = detail && detail !== message ? ` ${detail}` : " Связь прервалась или поставщик модели не ответил до конца.";
  return `Ответ оборвался.${reason} Можно спросить ещё раз.`;
}

function problemText(error) {
  if (error.status === 0 || error.unavailable) return "Сервис ассистента временно недоступен. Попробуйте позже.";
  if (error.status === 404) return "Разговор не найден: возможно, его удалили.";
  return error.message;
}
