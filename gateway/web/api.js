// The one way the page talks to the gateway. It keeps the access token in memory only and the
// refresh token in localStorage, renews the pair when a request comes back 401, and turns every
// failure into an ApiError with a message a person can read.

const REFRESH_TOKEN_KEY = "coursePortal.refreshToken";
// Renew a little before the access token expires rather than collect a 401 first.
const EXPIRY_MARGIN_MS = 30_000;

let accessToken = null;
let accessTokenExpiresAt = 0;
let refreshInFlight = null;
const sessionLostListeners = new Set();

export class ApiError extends Error {
  constructor(status, message, { errors = null, retryAfter = null } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status; // 0 when the server could not be reached at all
    this.errors = errors;
    this.retryAfter = retryAfter;
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
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

async function errorFrom(response) {
  const body = await readBody(response);
  const retryAfter = Number.parseInt(response.headers.get("Retry-After") || "", 10);
  return new ApiError(response.status, messageFor(response.status), {
    errors: body && typeof body === "object" ? body.errors || null : null,
    retryAfter: Number.isFinite(retryAfter) ? retryAfter : null,
  });
}

async function send(method, path, body, token) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    return await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      redirect: "error",
    });
  } catch {
    throw new ApiError(0, messageFor(0));
  }
}

// ---- tokens ---------------------------------------------------------------------------------

function storedRefreshToken() {
  try {
    return localStorage.getItem(REFRESH_TOKEN_KEY);
  } catch {
    return null; // storage disabled: the session simply does not survive a reload
  }
}

function storeRefreshToken(token) {
  try {
    if (token) localStorage.setItem(REFRESH_TOKEN_KEY, token);
    else localStorage.removeItem(REFRESH_TOKEN_KEY);
  } catch {
    /* storage disabled */
  }
}

export function acceptTokens(pair) {
  accessToken = pair.access_token;
  const lifetime = Number(pair.expires_in) > 0 ? Number(pair.expires_in) * 1000 : 15 * 60_000;
  accessTokenExpiresAt = Date.now() + lifetime;
  storeRefreshToken(pair.refresh_token);
}

export function forgetTokens() {
  accessToken = null;
  accessTokenExpiresAt = 0;
  storeRefreshToken(null);
}

export function hasSession() {
  return Boolean(accessToken || storedRefreshToken());
}

export function onSessionLost(listener) {
  sessionLostListeners.add(listener);
}

function sessionLost() {
  forgetTokens();
  for (const listener of sessionLostListeners) listener();
}

/**
 * Trade the stored refresh token for a new pair. Returns true when renewed, false when there is
 * no usable refresh token (the user is logged out); throws ApiError when the server could not
 * answer, keeping the token for a later try.
 *
 * Refresh tokens rotate and a spent one revokes its whole family, so two renewals must never
 * race: within the page one promise is shared, and across tabs a Web Lock serialises them (each
 * tab re-reads the token inside the lock, so it uses the one another tab may just have stored).
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
  const token = storedRefreshToken();
  if (!token) {
    accessToken = null;
    return false;
  }
  const response = await send("POST", "/api/auth/refresh", { refresh_token: token });
  if (response.ok) {
    acceptTokens(await response.json());
    return true;
  }
  if (response.status >= 400 && response.status < 500 && response.status !== 429) {
    // Expired, revoked or reused: this token will never work again.
    if (storedRefreshToken() === token) storeRefreshToken(null);
    accessToken = null;
    return false;
  }
  throw await errorFrom(response);
}

async function currentAccessToken() {
  if (accessToken && Date.now() < accessTokenExpiresAt - EXPIRY_MARGIN_MS) return accessToken;
  if (!storedRefreshToken()) return accessToken;
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
export async function request(method, path, { body, auth = false } = {}) {
  let token = null;
  if (auth) {
    const hadSession = hasSession();
    token = await currentAccessToken();
    if (!token) {
      if (hadSession) sessionLost();
      throw new ApiError(401, messageFor(401));
    }
  }
  let response = await send(method, path, body, token);
  if (auth && response.status === 401) {
    // If another call renewed the tokens while this one was in flight, just use the new one.
    const renewed = accessToken && accessToken !== token ? true : await refreshSession().catch(() => false);
    if (!renewed) {
      sessionLost();
      throw await errorFrom(response);
    }
    response = await send(method, path, body, accessToken);
    if (response.status === 401) sessionLost();
  }
  if (!response.ok) throw await errorFrom(response);
  return readBody(response);
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
  logout: (refreshToken) =>
    request("POST", "/api/auth/logout", { body: { refresh_token: refreshToken } }),
  me: () => request("GET", "/api/auth/me", { auth: true }),
  storedRefreshToken,
};
