// Start-up: wire the header, the course list, the Sider and the main view together, restore the
// session, and render whatever the URL points at.

import { renderAssistant, renderAssistantDataset } from "./assistant.js";
import { renderAsk } from "./assistantChat.js";
import { renderAssistantEvaluation } from "./assistantEvaluation.js";
import { renderAssistantJob } from "./assistantJobs.js";
import { api } from "./api.js";
import { linkProvider, logout, restoreSession, takeSignInError } from "./auth.js";
import { initCatalog, loadCatalog } from "./catalog.js";
import { requestLogin, signInErrorMessage } from "./dialogs.js";
import { h, replaceChildren } from "./dom.js";
import { followEmailLink } from "./emailLinks.js";
import { loadFavorites } from "./favorites.js";
import { parseRoute } from "./router.js";
import { initSider, setCurrentCourse } from "./sider.js";
import { emit, on, state } from "./state.js";
import { toast } from "./toast.js";
import { initViews, renderCourse, renderHome, renderMaterial, renderNotFound, setRerender } from "./views.js";

let currentRoute = null;

// Resolved once the stored session (if any) is restored: a mail's link is followed then.
let sessionKnown;
const whenSessionKnown = new Promise((resolve) => {
  sessionKnown = resolve;
});

async function renderRoute({ reuse = false } = {}) {
  let route = parseRoute();
  if (route.name === "emailLink") {
    // Its token is secret and single-use: out of the address (and history) before anything.
    history.replaceState(null, "", `${location.pathname}#/`);
    const link = route;
    whenSessionKnown.then(() => followEmailLink(link));
    route = { name: "home" };
  }
  const previousRoute = currentRoute;
  currentRoute = route;
  setCurrentCourse(route.courseId ?? null);
  switch (route.name) {
    case "home":
      renderHome();
      break;
    case "course":
      await renderCourse(route, { previousRoute, reuse });
      break;
    case "material":
      await renderMaterial(route, { previousRoute });
      break;
    case "assistant":
      await renderAssistant(route);
      break;
    case "assistantDataset":
      await renderAssistantDataset(route, { previousRoute });
      break;
    case "ask":
      await renderAsk(route);
      break;
    case "assistantJob":
      await renderAssistantJob(route);
      break;
    case "assistantEvaluation":
      await renderAssistantEvaluation(route);
      break;
    default:
      renderNotFound();
  }
  return { route, previousRoute };
}

async function onNavigate() {
  const { route, previousRoute } = await renderRoute();
  if (route !== currentRoute) return; // a newer navigation took over
  const sameCourse =
    previousRoute?.name === "course" && route.name === "course" && previousRoute.courseId === route.courseId;
  if (sameCourse) return; // a chip: focus stays on it
  const sameDataset =
    previousRoute?.name === "assistantDataset" &&
    route.name === "assistantDataset" &&
    previousRoute.datasetId === route.datasetId;
  if (sameDataset) return; // a section link: focus stays on it
  const backToRow =
    previousRoute?.name === "material" && route.name === "course"
      ? document.querySelector(`.material-row[data-material-id="${previousRoute.materialId}"] .material-link`)
      : null;
  if (backToRow) {
    backToRow.focus();
    return;
  }
  // A new page: start at its top, with focus on its heading for screen-reader users.
  window.scrollTo(0, 0);
  document.querySelector("#view .page-title")?.focus({ preventScroll: true });
}

function renderAccount() {
  const account = document.getElementById("account");
  if (state.restoringSession) {
    replaceChildren(account, h("span", { class: "account-pending", role: "status" }, "Вход…"));
  } else if (!state.user) {
    replaceChildren(
      account,
      h("button", { type: "button", class: "btn btn-ghost", onclick: () => requestLogin() }, "Войти"),
      h(
        "button",
        { type: "button", class: "btn btn-outline hide-narrow", onclick: () => requestLogin("", "register") },
        "Регистрация",
      ),
    );
  } else {
    replaceChildren(account, userChip(state.user), logoutButton());
  }
  renderAccountNotice();
}

/** A new account whose address is not verified yet: what it waits for, and a second mail. */
function renderAccountNotice() {
  const notice = document.getElementById("account-notice");
  const user = state.user;
  if (!user || user.email_verified !== false) {
    notice.hidden = true;
    replaceChildren(notice);
    return;
  }
  const resend = h("button", { type: "button", class: "link-btn", onclick: () => resendVerification(resend) }, "Отправить письмо ещё раз");
  replaceChildren(
    notice,
    h(
      "p",
      {},
      h("strong", {}, "Подтвердите почту. "),
      `Мы отправили ссылку на ${user.email}. До подтверждения можно читать материалы, `,
      "но не собирать избранное и не спрашивать ассистента. ",
      resend,
    ),
  );
  notice.hidden = false;
}

async function resendVerification(button) {
  button.disabled = true;
  try {
    await api.resendVerification();
    toast(`Письмо отправлено на ${state.user?.email}.`);
  } catch (error) {
    toast(
      error.status === 429 ? `Письмо уже отправлено. Следующее — через ${error.retryAfter || 60} с.` : error.message,
      { kind: "error" },
    );
  } finally {
    button.disabled = false;
  }
}

function initials(name) {
  return name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((part) => part[0].toUpperCase())
    .join("");
}

function userChip(user) {
  const name = user.full_name || user.email;
  const roleLabel = { teacher: "Преподаватель", admin: "Администратор" }[user.role];
  return h(
    "span",
    { class: "user-chip", title: user.email },
    h("span", { class: "avatar", "aria-hidden": "true" }, initials(name) || "?"),
    h(
      "span",
      { class: "user-text hide-narrow" },
      h("span", { class: "user-name" }, name),
      roleLabel ? h("span", { class: "user-role" }, roleLabel) : null,
    ),
    h("span", { class: "visually-hidden" }, `Вы вошли как ${name}`),
  );
}

function logoutButton() {
  const onclick = async () => {
    const providerLogout = await logout();
    // Signed in through the university: its session ends too, and it sends the browser back.
    if (providerLogout) location.assign(providerLogout);
    else toast("Вы вышли из системы");
  };
  return h("button", { type: "button", class: "btn btn-ghost", onclick }, "Выйти");
}

/** Redraw what depends on who is logged in and on the catalog list when they change. */
function listenToChanges() {
  on("user", () => {
    renderAccount();
    loadFavorites();
    // Edit controls depend on who is logged in.
    if (currentRoute?.name === "course") renderRoute({ reuse: true });
    else if (
      ["material", "assistant", "assistantDataset", "assistantJob", "assistantEvaluation", "ask"].includes(
        currentRoute?.name,
      )
    ) {
      renderRoute();
    }
  });
  on("catalog", () => {
    // Course names, descriptions and semesters come from the catalog list.
    if (currentRoute?.name === "home") renderHome();
    else if (currentRoute?.name === "course") renderRoute({ reuse: true });
  });
  window.addEventListener("hashchange", onNavigate);
}

/** A stored session is renewed while the page already shows what it can without it. */
async function restoreStoredSession() {
  try {
    await restoreSession();
  } catch (error) {
    // The auth service could not answer: the cookie stays for the next visit.
    toast(
      error.unavailable
        ? "Не удалось восстановить вход: сервис авторизации недоступен."
        : `Не удалось восстановить вход. ${error.message}`,
      { kind: "error" },
    );
    state.user = null;
  } finally {
    state.restoringSession = false;
    emit("user", state.user);
  }
}

/** A sign-in through the university's provider that failed, said in words; for an account
 * that exists with a password, the login form, then the link. */
function reportSignInError({ code, provider }) {
  if (code === "link_required" && provider) {
    requestLogin(signInErrorMessage(code)).then((loggedIn) => {
      if (loggedIn) linkProvider(provider).catch((error) => toast(error.message, { kind: "error" }));
    });
  } else {
    toast(signInErrorMessage(code), { kind: "error" });
  }
}

async function start() {
  const signInError = takeSignInError();
  initViews();
  initCatalog();
  initSider();
  setRerender(() => renderRoute({ reuse: false }));
  listenToChanges();

  state.restoringSession = true;
  renderAccount();
  renderRoute();
  loadCatalog();
  await restoreStoredSession();
  sessionKnown();
  if (signInError) reportSignInError(signInError);
}

start();
