// The one way the page talks to the gateway. It keeps the access token in memory only; the
// refresh token lives in an HttpOnly cookie scripts cannot read (set by the auth service, sent
// only to /api/auth), renews the access token when a request comes back 401, and turns every
// failure into an ApiError with a message a person can read.

// Not a secret: only whether this browser has a session worth renewing on page load, so an
// anonymous visit does not ask the auth service for nothing.
const SESSION_HINT_KEY = "coursePortal.signedIn";
// Set on leaving for the university's sign-in page: the page that comes back looks for the
// session its callback set, unless it comes back with an error.
const SIGN_IN_PENDING_KEY = "coursePortal.signingIn";
// Where earlier versions kept the refresh token: read once, traded for the cookie, removed.
const LEGACY_REFRESH_TOKEN_KEY = "coursePortal.refreshToken";
// Every auth call carries it: proof (a cross-site form cannot send it) that the request comes
// from the portal's own page, which the cookie-authenticated endpoints require.
const CSRF_HEADERS = { "X-CSRF": "1" };
// Renew a little before the access token expires rather than collect a 401 first.
const EXPIRY_MARGIN_MS = 30_000;

let accessToken = null;
let accessTokenExpiresAt = 0;
let refreshInFlight = null;
const sessionLostListeners = new Set();

export class ApiError extends Error {
  constructor(status, message, { errors = null, retryAfter = null, serverMessage = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status; // 0 when the server could not be reached at all
    this.errors = errors;
    this.retryAfter = retryAfter;
    this.serverMessage = serverMessage; // the error body's own `message`, when it had one
  }

  get unavailable() {
    return this.status === 0 || this.status >= 500;
  }
}

const STATUS_MESSAGES = {
  0: "Нет связи с сервером. Проверьте подключение и попробуйте ещё раз.",
  400: "Некорректный запрос.",
  401: "Нужно войти в систему.",
  403: "Недостаточно прав для этого действия.",
  404: "Не найдено.",
  409: "Конфликт с текущими данными.",
  413: "Слишком большой запрос.",
  422: "Проверьте введённые данные.",
  429: "Слишком много попыток. Попробуйте позже.",
};

function messageFor(status) {
  if (STATUS_MESSAGES[status]) return STATUS_MESSAGES[status];
  if (status >= 500) return "Сервис временно недоступен. Попробуйте позже.";
  return `Ошибка ${status}.`;
}

async function readBody(response) {
  if (response.status === 204 || response.status === 304) return null;
  return parseJson(await response.text());
}

function parseJson(text) {
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function errorFromParts(status, body, retryAfterHeader) {
  const retryAfter = Number.parseInt(retryAfterHeader || "", 10);
  const isObject = body && typeof body === "object";
  return new ApiError(status, messageFor(status), {
    errors: isObject ? body.errors || null : null,
    retryAfter: Number.isFinite(retryAfter) ? retryAfter : null,
    serverMessage: isObject && typeof body.message === "string" ? body.message : null,
  });
}

async function errorFrom(response) {
  return errorFromParts(response.status, await readBody(response), response.headers.get("Retry-After"));
}

/** True for the error a fetch or an upload throws when its AbortSignal fired. */
export function isAbort(error) {
  return error?.name === "AbortError";
}

async function send(method, path, body, token, signal) {
  const headers = { Accept: "application/json" };
  if (path.startsWith("/api/auth/")) Object.assign(headers, CSRF_HEADERS);
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    return await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      redirect: "error",
      signal,
    });
  } catch (error) {
    if (isAbort(error)) throw error;
    throw new ApiError(0, messageFor(0));
  }
}

// ---- tokens ---------------------------------------------------------------------------------

function readStorage(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage disabled
  }
}

function writeStorage(key, value) {
  try {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch {
    /* storage disabled: the session simply is not renewed on a reload */
  }
}

export function acceptTokens(pair) {
  accessToken = pair.access_token;
  const lifetime = Number(pair.expires_in) > 0 ? Number(pair.expires_in) * 1000 : 15 * 60_000;
  accessTokenExpiresAt = Date.now() + lifetime;
  writeStorage(SESSION_HINT_KEY, "1");
  writeStorage(SIGN_IN_PENDING_KEY, null);
}

/** A sign-in through the university's provider is under way: its callback sets the refresh
 * cookie, so the page that comes back should look for a session. */
export function expectSession() {
  writeStorage(SIGN_IN_PENDING_KEY, "1");
}

/** The provider's sign-in came back with an error: there is no new session to look for. */
export function abandonExpectedSession() {
  writeStorage(SIGN_IN_PENDING_KEY, null);
}

export function forgetTokens() {
  accessToken = null;
  accessTokenExpiresAt = 0;
  writeStorage(SESSION_HINT_KEY, null);
  writeStorage(SIGN_IN_PENDING_KEY, null);
  writeStorage(LEGACY_REFRESH_TOKEN_KEY, null);
}

/** Whether this browser was logged in when the page was last used (the cookie may say more). */
export function hasStoredSession() {
  return Boolean(
    readStorage(SESSION_HINT_KEY) || readStorage(SIGN_IN_PENDING_KEY) || readStorage(LEGACY_REFRESH_TOKEN_KEY),
  );
}

export function hasSession() {
  return Boolean(accessToken || hasStoredSession());
}

export function onSessionLost(listener) {
  sessionLostListeners.add(listener);
}

function sessionLost() {
  forgetTokens();
  for (const listener of sessionLostListeners) listener();
}

/**
 * Trade the refresh cookie for a new access token (the cookie rotates too). Returns true when
 * renewed, false when there is no usable session (the user is logged out); throws ApiError when
 * the server could not answer, keeping the session for a later try.
 *
 * Refresh tokens rotate, so renewals should not race: within the page one promise is shared,
 * and across tabs a Web Lock serialises them (each tab's request carries the cookie another tab
 * may just have renewed). The auth service forgives a second use within a few seconds anyway.
 */
export function refreshSession() {
  if (!refreshInFlight) {
    refreshInFlight = withRefreshLock(renewTokens).finally(() => {
      refreshInFlight = null;
    });
  }
  return refreshInFlight;
}

function withRefreshLock(task) {
  if (navigator.locks?.request) return navigator.locks.request("coursePortal.refresh", task);
  return task();
}

async function renewTokens() {
  // A token an earlier version left in localStorage is sent once in the body; the answer sets
  // the cookie, and the token leaves localStorage for good.
  const legacy = readStorage(LEGACY_REFRESH_TOKEN_KEY);
  const response = await send("POST", "/api/auth/refresh", legacy ? { refresh_token: legacy } : {});
  if (response.ok) {
    writeStorage(LEGACY_REFRESH_TOKEN_KEY, null);
    acceptTokens(await response.json());
    return true;
  }
  if (response.status >= 400 && response.status < 500 && response.status !== 429) {
    // No cookie, or an expired, revoked or reused token: this session will never work again.
    if (legacy) writeStorage(LEGACY_REFRESH_TOKEN_KEY, null);
    writeStorage(SESSION_HINT_KEY, null);
    accessToken = null;
    return false;
  }
  throw await errorFrom(response);
}

async function currentAccessToken() {
  if (accessToken && Date.now() < accessTokenExpiresAt - EXPIRY_MARGIN_MS) return accessToken;
  if (!hasSession()) return accessToken;
  const renewed = await refreshSession();
  return renewed ? accessToken : null;
}

// ---- requests -------------------------------------------------------------------------------

/**
 * request("GET", "/api/semesters")
 * request("POST", "/api/user/courses", {body: {course_id: 3}, auth: true})
 * With `auth`, a missing session is a 401 ApiError before anything is sent, and a 401 answer
 * triggers one renewal and one retry.
 */
export async function request(method, path, { body, auth = false, signal } = {}) {
  const answer = await authorised(auth, (token) => send(method, path, body, token, signal));
  if (!answer.ok) throw await errorFrom(answer);
  return readBody(answer);
}

/**
 * Runs `exchange(token)` (token null without `auth`) and returns its answer, which has `status`
 * and `ok`. With `auth`, a missing session is a 401 ApiError before anything is sent, and a 401
 * answer triggers one renewal and one retry; a 401 that remains ends the session.
 */
async function authorised(auth, exchange) {
  let token = null;
  if (auth) {
    const hadSession = hasSession();
    token = await currentAccessToken();
    if (!token) {
      if (hadSession) sessionLost();
      throw new ApiError(401, messageFor(401));
    }
  }
  let answer = await exchange(token);
  if (auth && answer.status === 401) {
    // If another call renewed the tokens while this one was in flight, just use the new one.
    const renewed = accessToken && accessToken !== token ? true : await refreshSession().catch(() => false);
    if (!renewed) {
      sessionLost();
      return answer;
    }
    answer = await exchange(accessToken);
    if (answer.status === 401) sessionLost();
  }
  return answer;
}

/**
 * The answer itself of an authorised request, for what its JSON body does not carry: a header
 * (X-Pagination) or a file to save. Same token handling as `request`; ApiError when not ok.
 */
export async function fetchAuthorised(method, path, { body, signal } = {}) {
  const answer = await authorised(true, (token) => send(method, path, body, token, signal));
  if (!answer.ok) throw await errorFrom(answer);
  return answer;
}

// ---- uploads --------------------------------------------------------------------------------

function abortError() {
  return new DOMException("The upload was cancelled.", "AbortError");
}

/**
 * One XMLHttpRequest with a multipart body: unlike fetch, it reports upload progress.
 * Resolves with {status, ok, body, retryAfter} whatever the status; rejects with an ApiError(0)
 * when the server could not be reached, or an AbortError when `signal` fired.
 */
function sendForm(method, path, form, token, { onProgress, signal }) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    xhr.setRequestHeader("Accept", "application/json");
    if (token) xhr.setRequestHeader("Authorization", `Bearer ${token}`);
    const onAbortSignal = () => xhr.abort();
    signal?.addEventListener("abort", onAbortSignal, { once: true });
    const done = () => signal?.removeEventListener("abort", onAbortSignal);
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded, event.total);
    };
    xhr.onload = () => {
      done();
      resolve({
        status: xhr.status,
        ok: xhr.status >= 200 && xhr.status < 300,
        body: xhr.status === 204 ? null : parseJson(xhr.responseText),
        retryAfter: xhr.getResponseHeader("Retry-After"),
      });
    };
    xhr.onerror = () => {
      done();
      reject(new ApiError(0, messageFor(0)));
    };
    xhr.onabort = () => {
      done();
      reject(abortError());
    };
    xhr.send(form);
  });
}

/**
 * upload("PUT", "/api/courses/1/materials/2/file", formData, {onProgress(loaded, total), signal})
 * Always authorised, with the same token handling as `request`; resolves with the answer's JSON.
 */
export async function upload(method, path, form, { onProgress, signal } = {}) {
  const answer = await authorised(true, (token) => sendForm(method, path, form, token, { onProgress, signal }));
  if (!answer.ok) throw errorFromParts(answer.status, answer.body, answer.retryAfter);
  return answer.body;
}

export const api = {
  semesters: () => request("GET", "/api/semesters"),
  materials: (courseId) => request("GET", `/api/courses/${courseId}/materials`),
  material: (courseId, materialId) =>
    request("GET", `/api/courses/${courseId}/materials/${materialId}`),
  createMaterial: (courseId, fields) =>
    request("POST", `/api/courses/${courseId}/materials`, { body: fields, auth: true }),
  updateMaterial: (courseId, materialId, fields) =>
    request("PATCH", `/api/courses/${courseId}/materials/${materialId}`, {
      body: fields,
      auth: true,
    }),
  deleteMaterial: (courseId, materialId) =>
    request("DELETE", `/api/courses/${courseId}/materials/${materialId}`, { auth: true }),
  teacherCourses: () => request("GET", "/api/teacher/courses", { auth: true }),
  materialTypes: () => request("GET", "/api/material-types"),
  previewMaterial: (courseId, body, signal) =>
    request("POST", `/api/courses/${courseId}/materials/preview`, { body: { body }, auth: true, signal }),
  uploadFile: (courseId, materialId, file, { onProgress, signal } = {}) => {
    const form = new FormData();
    form.append("file", file, file.name);
    return upload("PUT", `/api/courses/${courseId}/materials/${materialId}/file`, form, { onProgress, signal });
  },
  removeFile: (courseId, materialId) =>
    request("DELETE", `/api/courses/${courseId}/materials/${materialId}/file`, { auth: true }),
  /** search({query, course_id, type, limit}, signal): the catalog's full-text search. */
  search: (params, signal) => {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value !== null && value !== undefined && value !== "") query.set(name, String(value));
    }
    return request("GET", `/api/search?${query}`, { signal });
  },

  favorites: () => request("GET", "/api/user/courses", { auth: true }),
  addFavorite: (courseId) =>
    request("POST", "/api/user/courses", { body: { course_id: courseId }, auth: true }),
  removeFavorite: (courseId) =>
    request("DELETE", `/api/user/courses/${courseId}`, { auth: true }),
  reorderFavorites: (courseIds) =>
    request("PUT", "/api/user/courses/order", { body: { course_ids: courseIds }, auth: true }),

  login: (email, password) => request("POST", "/api/auth/login", { body: { email, password } }),
  register: (email, password, fullName) =>
    request("POST", "/api/auth/register", { body: { email, password, full_name: fullName } }),
  // The refresh cookie says which login ends; the answer clears it. A login through a provider
  // answers where the provider's own session ends.
  logout: () => request("POST", "/api/auth/logout", { body: {} }),
  providers: () => request("GET", "/api/auth/providers"),
  verifyEmail: (token) => request("POST", "/api/auth/verify-email", { body: { token } }),
  resendVerification: () => request("POST", "/api/auth/verify-email/resend", { auth: true }),
  requestPasswordReset: (email) => request("POST", "/api/auth/password-reset", { body: { email } }),
  resetPassword: (token, password) =>
    request("POST", "/api/auth/password-reset/confirm", { body: { token, password } }),
  linkProvider: (name, next) =>
    request("POST", `/api/auth/oidc/${encodeURIComponent(name)}/link?next=${encodeURIComponent(next)}`, {
      auth: true,
    }),
  me: () => request("GET", "/api/auth/me", { auth: true }),
  hasStoredSession,
};
