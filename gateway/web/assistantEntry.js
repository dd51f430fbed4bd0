// "Спросить ассистента" on a course page: the way to the course assistant's chat. A visitor is
// asked to log in first; when the assistant does not answer now (switched off, or no provider
// key), a note under the link says so — the chat page still holds the earlier conversations.

import { canAskAssistant, chatStatus } from "./assistantChatApi.js";
import { requestLogin } from "./dialogs.js";
import { h, uniqueId } from "./dom.js";
import { navigate, routeHref } from "./router.js";
import { state } from "./state.js";

const LABEL = "Спросить ассистента";

/** The entry for course `courseId`, or null for a user who may not ask (or while logging in). */
export function askAssistantEntry(courseId) {
  if (state.restoringSession) return null;
  if (!state.user) return loginButton(courseId);
  if (!canAskAssistant()) return null;
  const noteId = uniqueId("ask-note");
  const note = h("span", { class: "ask-entry-note", id: noteId, hidden: true });
  const link = h("a", { class: "btn btn-primary ask-entry-link", href: routeHref({ name: "ask", courseId }) }, LABEL);
  showAvailability(courseId, link, note);
  return h("span", { class: "ask-entry" }, link, note);
}

function loginButton(courseId) {
  const onclick = async () => {
    if (await requestLogin("Войдите, чтобы задать вопрос ассистенту курса.")) navigate({ name: "ask", courseId });
  };
  return h("button", { type: "button", class: "btn btn-primary ask-entry-link", onclick }, LABEL);
}

/** Fills the note once the status is known; a status that cannot be read says nothing. */
async function showAvailability(courseId, link, note) {
  let status;
  try {
    status = await chatStatus(courseId);
  } catch {
    return;
  }
  const text = unavailableText(status);
  if (!text) return;
  note.textContent = text;
  note.hidden = false;
  link.setAttribute("aria-describedby", note.id);
}

/** Why the assistant does not answer now, in a few words, or "" when it does. */
export function unavailableText(status) {
  if (status?.chat_enabled === false) return "Сейчас выключен";
  if (status?.provider_configured === false) return "Не настроен: нет ключа модели";
  return "";
}
