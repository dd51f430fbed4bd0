// The students' side of the course assistant's API (/api/assistant): who may ask, whether the
// assistant answers now, the question whose answer streams back as Server-Sent Events, the
// asker's conversations and their feedback. The answer is read from fetch()'s body stream:
// EventSource cannot send the Authorization header, and api.js renews the token as it does for
// every other call. The stream is parsed by eventsource-parser (vendored, see vendor/).

import { fetchAuthorised, request } from "./api.js";
import { createParser } from "./vendor/eventsource-parser/index.js";
import { state } from "./state.js";

const BASE = "/api/assistant";
// The status says whether the course's chat is switched off; the course page asks it on every
// redraw (a chip, a login), so an answer is reused for a little while.
const STATUS_TTL_MS = 30_000;
const statusCache = new Map();

/** Whether the logged-in user may ask course assistants (every role has `assistant:use`). */
export function canAskAssistant() {
  return Boolean(state.user?.permissions?.includes("assistant:use"));
}

const call = (method, path, body) => request(method, BASE + path, { body, auth: true });

/** The status for course `courseId`: provider_configured, chat_enabled, chat_message. */
export function chatStatus(courseId, { fresh = false } = {}) {
  const cached = statusCache.get(courseId);
  if (!fresh && cached && Date.now() - cached.at < STATUS_TTL_MS) return cached.promise;
  const promise = call("GET", `/status?course_id=${encodeURIComponent(courseId)}`);
  statusCache.set(courseId, { at: Date.now(), promise });
  promise.catch(() => statusCache.delete(courseId));
  return promise;
}

export const chatApi = {
  course: (courseId) => request("GET", `/api/courses/${courseId}`),
  /** The caller's conversations of the course, latest first (the service filters by owner). */
  conversations: (courseId) => call("GET", `/conversations?course_id=${encodeURIComponent(courseId)}`),
  conversation: (conversationId) => call("GET", `/conversations/${conversationId}`),
  deleteConversation: (conversationId) => call("DELETE", `/conversations/${conversationId}`),
  /** 👍 (rating 1) or 👎 (-1) on an answer, with an optional comment; the stored message. */
  feedback: (messageId, rating, comment) =>
    call("POST", `/messages/${messageId}/feedback`, comment ? { rating, comment } : { rating }),
};

/**
 * Asks the course's assistant and calls `onEvent(name, data)` for each event of the answer:
 * `sources` ({conversation_id, sources}), `delta` ({text}) …, then `done` or `error`.
 * Resolves when the stream ends; rejects with an ApiError when the question is refused (429,
 * 503, …) and with an AbortError when `signal` fires.
 */
export async function askAssistant(courseId, { question, conversationId = null, signal, onEvent }) {
  const body = conversationId ? { question, conversation_id: conversationId } : { question };
  const answer = await fetchAuthorised("POST", `${BASE}/courses/${courseId}/chat`, { body, signal });
  const reader = answer.body.pipeThrough(new TextDecoderStream()).getReader();
  const parser = createParser({ onEvent: (event) => deliver(event, onEvent) });
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    parser.feed(value);
  }
  parser.reset({ consume: true }); // a last event the server ended without its blank line
}

/** Hands one parsed event to `onEvent(name, data)`; an event whose data is not JSON is skipped. */
function deliver(event, onEvent) {
  let data;
  try {
    data = JSON.parse(event.data);
  } catch {
    return;
  }
  onEvent(event.event || "message", data);
}
