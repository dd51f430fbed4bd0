// The links of the portal's mails: #/verify-email?token=… proves a new account's address,
// #/reset-password?token=… sets a new password. The token is taken out of the address at once
// (it is secret and works once), then used.

import { api } from "./api.js";
import { forgetUser, reloadUser } from "./auth.js";
import { field, formAlert, modal, requestLogin, requestPasswordReset, setAlert } from "./dialogs.js";
import { h, replaceChildren } from "./dom.js";
import { state } from "./state.js";
import { toast } from "./toast.js";

export function followEmailLink(route) {
  if (!route.token) {
    toast("В ссылке из письма нет кода. Скопируйте её из письма целиком.", { kind: "error" });
    return;
  }
  if (route.purpose === "verify-email") verifyEmail(route.token);
  else newPasswordDialog(route.token);
}

function linkErrorMessage(error) {
  if (error.status === 410) return `${translateGone(error.serverMessage || "")} Запросите новую ссылку.`;
  if (error.status === 400) return "Ссылка неверна: возможно, она скопирована не полностью.";
  if (error.unavailable) return "Сервис входа временно недоступен. Попробуйте позже.";
  return error.message;
}

function translateGone(message) {
  if (/already been used/.test(message)) return "Эта ссылка уже использована.";
  if (/deactivated/.test(message)) return "Учётная запись отключена.";
  return "Срок действия ссылки истёк.";
}

async function verifyEmail(token) {
  try {
    await api.verifyEmail(token);
  } catch (error) {
    toast(linkErrorMessage(error), { kind: "error" });
    return;
  }
  toast("Почта подтверждена. Теперь можно собирать избранное и спрашивать ассистента курса.");
  if (state.user) await reloadUser().catch(() => null);
}

function newPasswordDialog(token) {
  // A login or "Забыли пароль?" form left open in this tab gives way to the link's own.
  for (const open of document.querySelectorAll("dialog.auth-dialog[open]")) open.close();
  const { dialog, content } = modal("Новый пароль", { className: "auth-dialog" });
  const alert = formAlert();
  const password = h("input", {
    name: "password",
    type: "password",
    required: true,
    minlength: 8,
    maxlength: 128,
    autocomplete: "new-password",
  });
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block" }, "Сохранить пароль");
  const form = h(
    "form",
    { class: "form", novalidate: true },
    alert,
    field("Новый пароль", password, { hint: "От 8 до 128 символов. После смены все входы завершатся." }),
    submit,
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setAlert(alert, "");
    if (!password.checkValidity()) {
      setAlert(alert, "Пароль — от 8 до 128 символов.");
      password.focus();
      return;
    }
    submit.disabled = true;
    try {
      await api.resetPassword(token, password.value);
    } catch (error) {
      submit.disabled = false;
      if (error.status === 410 || error.status === 400) {
        replaceChildren(content, linkFailed(dialog, linkErrorMessage(error)));
      } else {
        setAlert(alert, error.status === 422 ? "Пароль — от 8 до 128 символов." : error.message);
        password.focus();
      }
      return;
    }
    dialog.close();
    if (state.user) forgetUser(); // every session of the account has just ended
    toast("Пароль изменён. Войдите с новым паролем.");
    requestLogin("Пароль изменён. Войдите с новым паролем.");
  });
  replaceChildren(content, form);
  dialog.showModal();
  password.focus();
}

function linkFailed(dialog, message) {
  const again = h(
    "button",
    {
      type: "button",
      class: "btn btn-primary btn-block",
      onclick: () => {
        dialog.close();
        requestPasswordReset();
      },
    },
    "Запросить новую ссылку",
  );
  const box = h("div", { class: "form" }, h("p", { class: "form-alert", role: "alert" }, message), again);
  queueMicrotask(() => again.focus());
  return box;
}
