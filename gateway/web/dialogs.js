// Modal forms on the native <dialog> element (it traps focus, closes on Escape and makes the
// page behind it inert): login / registration, confirmation, and the teacher's material editor.

import { api } from "./api.js";
import { login, register, signInProviders, signInWithProvider } from "./auth.js";
import { h, replaceChildren, uniqueId } from "./dom.js";
import { fileZone } from "./fileZone.js";
import { materialTypes } from "./materialTypes.js";
import { materialBody } from "./richText.js";

export function modal(titleText, { className = "" } = {}) {
  const titleId = uniqueId("dialog-title");
  const title = h("h2", { id: titleId, class: "dialog-title" }, titleText);
  const closeButton = h("button", { type: "button", class: "icon-btn dialog-close", "aria-label": "Закрыть" }, "×");
  const content = h("div", { class: "dialog-content" });
  const dialog = h(
    "dialog",
    { class: `dialog ${className}`, "aria-labelledby": titleId },
    h("div", { class: "dialog-head" }, title, closeButton),
    content,
  );
  closeButton.addEventListener("click", () => dialog.close());
  // A click on the backdrop (outside the box) closes it, as people expect of a modal.
  dialog.addEventListener("mousedown", (event) => {
    if (event.target === dialog) dialog.close();
  });
  document.body.appendChild(dialog);
  dialog.addEventListener("close", () => dialog.remove());
  return { dialog, title, content };
}

export function field(labelText, input, { hint } = {}) {
  const id = input.id || uniqueId("field");
  input.id = id;
  const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
  const describedBy = [`${id}-error`];
  let hintNode = null;
  if (hint) {
    hintNode = h("p", { class: "field-hint", id: `${id}-hint` }, hint);
    describedBy.push(`${id}-hint`);
  }
  input.setAttribute("aria-describedby", describedBy.join(" "));
  // A corrected field stops saying it is wrong.
  input.addEventListener("input", () => {
    error.hidden = true;
    input.removeAttribute("aria-invalid");
  });
  return h("div", { class: "field" }, h("label", { for: id }, labelText), input, hintNode, error);
}

function showFieldErrors(form, errors) {
  for (const node of form.querySelectorAll(".field-error")) {
    node.hidden = true;
    node.textContent = "";
  }
  for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  // Body validation errors come as {"json": {"field": ["message"]}} or {"field": [...]}.
  const byField = errors?.json && typeof errors.json === "object" ? errors.json : errors || {};
  let first = null;
  for (const [name, messages] of Object.entries(byField)) {
    const input = form.elements.namedItem(name);
    if (!input || !input.id) continue;
    const node = form.querySelector(`#${CSS.escape(input.id)}-error`);
    if (!node) continue;
    node.textContent = [].concat(messages).map(String).join(" ");
    node.hidden = false;
    input.setAttribute("aria-invalid", "true");
    first ||= input;
  }
  first?.focus();
  return Boolean(first);
}

export function formAlert() {
  return h("p", { class: "form-alert", role: "alert", hidden: true });
}

export function setAlert(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}

function busy(button, isBusy, busyText) {
  if (isBusy) {
    button.dataset.label = button.textContent;
    button.textContent = busyText;
  } else if (button.dataset.label) {
    button.textContent = button.dataset.label;
  }
  button.disabled = isBusy;
  button.setAttribute("aria-busy", String(isBusy));
}

// ---- login / registration ---------------------------------------------------------------

let openAuth = null;

/** Opens the login form; resolves true once the user has logged in (or registered). */
export function requestLogin(reason = "", mode = "login") {
  if (openAuth) return openAuth;
  openAuth = new Promise((resolve) => {
    const { dialog, title, content } = modal("Вход", { className: "auth-dialog" });
    let succeeded = false;
    dialog.addEventListener("close", () => {
      openAuth = null;
      resolve(succeeded);
    });
    const onSuccess = () => {
      succeeded = true;
      dialog.close();
    };
    const show = (currentMode) => {
      if (currentMode === "forgot") {
        title.textContent = "Восстановление пароля";
        const { form, firstInput } = forgotForm({ onBack: () => show("login") });
        replaceChildren(content, form);
        firstInput.focus();
        return;
      }
      const registering = currentMode === "register";
      title.textContent = registering ? "Регистрация" : "Вход";
      const onSwitch = () => show(registering ? "login" : "register");
      const onForgot = () => show("forgot");
      const { form, firstInput } = authForm({ registering, reason, onSwitch, onForgot, onSuccess });
      replaceChildren(content, form);
      firstInput.focus();
    };
    show(mode);
    dialog.showModal();
    content.querySelector("input")?.focus();
  });
  return openAuth;
}

function authInputs(registering) {
  return {
    email: h("input", { name: "email", type: "email", required: true, autocomplete: "email", maxlength: 254 }),
    password: h("input", {
      name: "password",
      type: "password",
      required: true,
      minlength: registering ? 8 : null,
      maxlength: 128,
      autocomplete: registering ? "new-password" : "current-password",
    }),
    fullName: registering
      ? h("input", { name: "full_name", type: "text", required: true, autocomplete: "name", maxlength: 200 })
      : null,
  };
}

/** "Забыли пароль?": the login dialog asks for the address a reset link goes to. */
export function requestPasswordReset() {
  return requestLogin("", "forgot");
}

function forgotForm({ onBack }) {
  const email = h("input", { name: "email", type: "email", required: true, autocomplete: "email", maxlength: 254 });
  const alert = formAlert();
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block" }, "Отправить ссылку");
  const back = h("button", { type: "button", class: "link-btn", onclick: onBack }, "Вернуться ко входу");
  const form = h(
    "form",
    { class: "form", novalidate: true },
    h("p", { class: "form-note" }, "Пришлём на почту ссылку, по которой можно задать новый пароль."),
    alert,
    field("Электронная почта", email),
    submit,
    h("p", { class: "form-switch" }, back),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setAlert(alert, "");
    if (!email.checkValidity()) {
      setAlert(alert, "Введите адрес электронной почты.");
      email.focus();
      return;
    }
    busy(submit, true, "Отправляем…");
    try {
      await api.requestPasswordReset(email.value.trim());
    } catch (error) {
      busy(submit, false);
      setAlert(alert, authErrorMessage(error, false));
      email.focus();
      return;
    }
    const sent = h(
      "p",
      { class: "form-note", role: "status" },
      `Если аккаунт с адресом ${email.value.trim()} есть, мы отправили на него письмо со ссылкой `,
      "для смены пароля. Ссылка действует 1 час. Не пришло — проверьте папку «Спам».",
    );
    replaceChildren(form, sent, h("p", { class: "form-switch" }, back));
    back.focus();
  });
  return { form, firstInput: email };
}

function authForm({ registering, reason, onSwitch, onForgot, onSuccess }) {
  const inputs = authInputs(registering);
  const alert = formAlert();
  const submit = h("button", { type: "submit", class: "btn btn-primary btn-block" }, registering ? "Зарегистрироваться" : "Войти");
  const form = h(
    "form",
    { class: "form", novalidate: true },
    reason && !registering ? h("p", { class: "form-note" }, reason) : null,
    alert,
    inputs.fullName ? field("Имя и фамилия", inputs.fullName) : null,
    field("Электронная почта", inputs.email),
    field("Пароль", inputs.password, { hint: registering ? "От 8 до 128 символов." : null }),
    registering
      ? null
      : h("p", { class: "form-forgot" }, h("button", { type: "button", class: "link-btn", onclick: onForgot }, "Забыли пароль?")),
    submit,
    registering ? null : providerSignIn(),
    authSwitch(registering, onSwitch),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submitAuth({ form, alert, submit, registering, ...inputs }, onSuccess);
  });
  return { form, firstInput: inputs.fullName || inputs.email };
}

/** "Войти через университет": one button per configured provider, none without them. */
function providerSignIn() {
  const box = h("div", { class: "provider-signin" });
  signInProviders().then((providers) => {
    if (!providers?.length) return;
    replaceChildren(
      box,
      h("p", { class: "form-divider" }, h("span", {}, "или")),
      ...providers.map((provider) =>
        h(
          "button",
          { type: "button", class: "btn btn-secondary btn-block", onclick: () => signInWithProvider(provider) },
          provider.label,
        ),
      ),
    );
  });
  return box;
}

// Why a sign-in through the university's provider came back without a session, by the code
// the auth service put in the address.
const SIGN_IN_ERRORS = {
  cancelled: "Вход через университет отменён.",
  denied: "Вход через университет отклонён: учётная запись отключена или привязана к другому аккаунту.",
  link_required:
    "Аккаунт с этой почтой уже есть. Войдите с паролем — и университетский аккаунт будет к нему привязан.",
  misconfigured: "Вход через университет настроен неверно. Сообщите администратору портала.",
  unavailable: "Сервис входа университета не отвечает. Попробуйте позже.",
  state_invalid: "Вход устарел или начат в другом браузере. Попробуйте ещё раз.",
  code_rejected: "Код входа уже использован или устарел. Попробуйте ещё раз.",
  wrong_issuer: "Ответ пришёл не от сервиса входа университета. Вход отклонён.",
  wrong_audience: "Ответ сервиса входа выдан другому приложению. Вход отклонён.",
  wrong_nonce: "Ответ сервиса входа относится к другому входу. Попробуйте ещё раз.",
  token_expired: "Ответ сервиса входа устарел. Проверьте часы компьютера и попробуйте ещё раз.",
  token_invalid: "Ответ сервиса входа не прошёл проверку. Попробуйте ещё раз.",
};

export function signInErrorMessage(code) {
  return SIGN_IN_ERRORS[code] || "Не удалось войти через университет. Попробуйте ещё раз.";
}

function authSwitch(registering, onSwitch) {
  return h(
    "p",
    { class: "form-switch" },
    registering ? "Уже есть аккаунт? " : "Нет аккаунта? ",
    h("button", { type: "button", class: "link-btn", onclick: onSwitch }, registering ? "Войти" : "Зарегистрироваться"),
  );
}

async function submitAuth({ form, alert, submit, registering, email, password, fullName }, onSuccess) {
  setAlert(alert, "");
  if (!form.checkValidity()) {
    const invalid = [...form.elements].find((element) => element.validity && !element.validity.valid);
    setAlert(alert, registering ? "Заполните все поля: пароль — от 8 символов." : "Введите почту и пароль.");
    invalid?.focus();
    return;
  }
  busy(submit, true, registering ? "Регистрация…" : "Вход…");
  try {
    if (registering) await register(email.value.trim(), password.value, fullName.value.trim());
    else await login(email.value.trim(), password.value);
    onSuccess();
  } catch (error) {
    busy(submit, false);
    password.value = "";
    setAlert(alert, authErrorMessage(error, registering));
    if (error.status === 422 && showFieldErrors(form, error.errors)) return;
    (error.status === 409 ? email : password).focus();
  }
}

function authErrorMessage(error, registering) {
  if (error.status === 401) return "Неверная почта или пароль.";
  if (error.status === 403) {
    return /university account/.test(error.serverMessage || "")
      ? "Для этого адреса вход только через университет: нажмите «Войти через университет»."
      : "Регистрация открыта только для адресов университета.";
  }
  if (error.status === 409) return "Пользователь с такой почтой уже зарегистрирован.";
  if (error.status === 429) {
    return error.retryAfter
      ? `Слишком много попыток. Попробуйте через ${error.retryAfter} с.`
      : "Слишком много попыток. Попробуйте позже.";
  }
  if (error.status === 422 || error.status === 400) {
    return registering ? "Проверьте данные: почта, пароль от 8 символов, имя." : "Проверьте почту и пароль.";
  }
  if (error.unavailable) return "Сервис входа временно недоступен. Попробуйте позже.";
  return error.message;
}

// ---- confirmation ------------------------------------------------------------------------

export function confirmAction(question, confirmText = "Удалить") {
  return new Promise((resolve) => {
    const { dialog, content } = modal("Подтверждение", { className: "confirm-dialog" });
    let confirmed = false;
    const cancel = h("button", { type: "button", class: "btn btn-secondary", onclick: () => dialog.close() }, "Отмена");
    const ok = h(
      "button",
      {
        type: "button",
        class: "btn btn-danger",
        onclick: () => {
          confirmed = true;
          dialog.close();
        },
      },
      confirmText,
    );
    replaceChildren(content, h("p", {}, question), h("div", { class: "dialog-actions" }, cancel, ok));
    dialog.addEventListener("close", () => resolve(confirmed));
    dialog.showModal();
    cancel.focus();
  });
}

// ---- the teacher's material editor -------------------------------------------------------

/**
 * Opens the create / edit form of a material of course `courseId`. `save(fields)` performs the
 * request and returns the saved material. Resolves with {saved, fileChanged}: the saved
 * material or null when the form was closed, and whether the file was uploaded or removed
 * (that happens at once, saved or not). `knownMaterials` add their types to the type select.
 */
export function editMaterial({ courseId, material = null, knownMaterials = [], save }) {
  return new Promise((resolve) => {
    const editing = Boolean(material);
    const { dialog, content } = modal(editing ? "Изменить материал" : "Новый материал", {
      className: "editor-dialog",
    });
    let saved = null;
    let fileChanged = false;
    const zone = editing
      ? fileZone({ courseId, material, confirm: confirmAction, onChange: () => (fileChanged = true) })
      : { node: h("p", { class: "field-hint file-later" }, "Файл можно прикрепить после создания материала."), close() {} };
    dialog.addEventListener("close", () => {
      zone.close();
      resolve({ saved, fileChanged });
    });
    // Escape must not close the editor in the middle of an upload without asking.
    dialog.addEventListener("cancel", (event) => {
      if (zone.busy?.()) event.preventDefault();
    });
    const onSaved = (result) => {
      saved = result;
      dialog.close();
    };
    const inputs = editorInputs(material, knownMaterials);
    const alert = formAlert();
    const submit = h("button", { type: "submit", class: "btn btn-primary" }, editing ? "Сохранить" : "Добавить");
    const bodyEditor = markdownEditor(inputs.body, (text, signal) => api.previewMaterial(courseId, text, signal));
    const form = editorForm({ inputs, alert, submit, bodyEditor, zone }, () => dialog.close());
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submitMaterial({ form, inputs, alert, submit, save }, onSaved);
    });
    replaceChildren(content, form);
    dialog.showModal();
    inputs.title.focus();
  });
}

function editorInputs(material, knownMaterials) {
  const types = materialTypes([...(knownMaterials || []), ...(material ? [material] : [])]);
  const type = h(
    "select",
    { name: "material_type_code", required: true },
    types.map(({ code, label }) => h("option", { value: code }, label)),
  );
  type.value = material?.material_type_code || types[0]?.code || "";
  const description = h("textarea", { name: "description", rows: 3, maxlength: 5000 });
  description.value = material?.description ?? "";
  const body = h("textarea", {
    name: "body",
    rows: 12,
    maxlength: BODY_MAX_CHARS,
    class: "body-input",
    spellcheck: "true",
  });
  body.value = material?.body ?? "";
  return {
    body,
    type,
    lesson: h("input", {
      name: "lesson_number",
      type: "number",
      min: 1,
      max: 1000,
      step: 1,
      required: true,
      inputmode: "numeric",
      value: material?.lesson_number ?? 1,
    }),
    title: h("input", { name: "title", type: "text", required: true, maxlength: 200, value: material?.title ?? "" }),
    description,
    fileUrl: h("input", {
      name: "file_url",
      type: "url",
      maxlength: 2000,
      placeholder: "https://…",
      value: material?.file_url ?? "",
    }),
  };
}

function editorForm({ inputs, alert, submit, bodyEditor, zone }, onCancel) {
  return h(
    "form",
    { class: "form", novalidate: true },
    alert,
    h("div", { class: "field-row" }, field("Тип", inputs.type), field("Номер занятия", inputs.lesson)),
    field("Название", inputs.title),
    field("Описание", inputs.description),
    bodyEditor,
    zone.node,
    field("Ссылка на файл", inputs.fileUrl, { hint: "Необязательно. Адрес http:// или https://" }),
    h(
      "div",
      { class: "dialog-actions" },
      h("button", { type: "button", class: "btn btn-secondary", onclick: onCancel }, "Отмена"),
      submit,
    ),
  );
}

function materialFields({ type, lesson, title, description, body, fileUrl }) {
  return {
    material_type_code: type.value,
    lesson_number: Number.parseInt(lesson.value, 10),
    title: title.value.trim(),
    description: description.value.trim(),
    body: body.value,
    file_url: fileUrl.value.trim() || null,
  };
}

/** What the form can tell is wrong before sending, by field name. */
function materialProblems(fields) {
  const problems = {};
  if (!Number.isInteger(fields.lesson_number) || fields.lesson_number < 1) {
    problems.lesson_number = ["Укажите номер занятия — целое число от 1."];
  }
  if (!fields.title) problems.title = ["Введите название."];
  if (fields.body.length > BODY_MAX_CHARS) {
    problems.body = [`Текст длиннее ${BODY_MAX_CHARS.toLocaleString("ru-RU")} символов.`];
  }
  if (fields.file_url !== null && !/^https?:\/\/\S+$/i.test(fields.file_url)) {
    problems.file_url = ["Нужна ссылка, начинающаяся с http:// или https://."];
  }
  return problems;
}

async function submitMaterial({ form, inputs, alert, submit, save }, onSaved) {
  setAlert(alert, "");
  const fields = materialFields(inputs);
  const problems = materialProblems(fields);
  if (Object.keys(problems).length) {
    setAlert(alert, "Проверьте выделенные поля.");
    showFieldErrors(form, problems);
    return;
  }
  showFieldErrors(form, {});
  busy(submit, true, "Сохранение…");
  try {
    onSaved(await save(fields));
  } catch (error) {
    busy(submit, false);
    setAlert(alert, saveErrorMessage(error));
    if (error.status === 422 || error.status === 400) showFieldErrors(form, error.errors);
  }
}

function saveErrorMessage(error) {
  if (error.status === 422 || error.status === 400) return "Сервер не принял данные: проверьте поля.";
  if (error.status === 403) return "Вы не можете изменять материалы этого курса.";
  if (error.status === 401) return "Сессия истекла. Войдите снова.";
  return error.unavailable ? "Сервис временно недоступен. Попробуйте позже." : error.message;
}

// ---- the body's Markdown, with a preview -------------------------------------------------

const BODY_MAX_CHARS = 200_000;
const PREVIEW_DELAY_MS = 400;

/**
 * The body's textarea under two tabs, "Текст" and "Предпросмотр". The preview is the server's
 * rendering (the same code as the material page), asked for a moment after the last change
 * while the preview tab is open; a newer request aborts the older one.
 */
function markdownEditor(textarea, preview) {
  const id = uniqueId("body");
  textarea.id = `${id}-input`;
  const label = h("label", { for: textarea.id, id: `${id}-label` }, "Текст материала (Markdown)");
  const error = h("p", { class: "field-error", id: `${id}-input-error`, hidden: true });
  textarea.setAttribute("aria-describedby", `${id}-input-error ${id}-hint`);
  textarea.addEventListener("input", () => {
    error.hidden = true;
    textarea.removeAttribute("aria-invalid");
  });
  const output = h("div", { class: "preview-output" });
  const previewStatus = h("p", { class: "preview-status muted", "aria-live": "polite" });
  const panels = {
    text: h("div", { role: "tabpanel", id: `${id}-text`, "aria-labelledby": `${id}-tab-text` }, textarea),
    preview: h(
      "div",
      { role: "tabpanel", id: `${id}-preview`, "aria-labelledby": `${id}-tab-preview`, class: "preview-panel", tabindex: 0, hidden: true },
      previewStatus,
      output,
    ),
  };
  const tab = (name, text) =>
    h("button", { type: "button", role: "tab", id: `${id}-tab-${name}`, "aria-controls": `${id}-${name}`, class: "tab" }, text);
  const tabs = { text: tab("text", "Текст"), preview: tab("preview", "Предпросмотр") };

  let controller = null;
  let timer = null;
  let shownText = null;
  let previewOpened = false;
  const renderPreview = async () => {
    const text = textarea.value;
    if (text === shownText) return;
    controller?.abort();
    const mine = new AbortController();
    controller = mine;
    if (!text.trim()) {
      shownText = text;
      previewStatus.textContent = "Текст пока пуст.";
      output.replaceChildren();
      return;
    }
    previewStatus.textContent = "Обновление предпросмотра…";
    try {
      const { html } = await preview(text, mine.signal);
      if (controller !== mine) return;
      shownText = text;
      previewStatus.textContent = "";
      output.replaceChildren(materialBody(html));
    } catch (problem) {
      if (controller !== mine || problem?.name === "AbortError") return;
      previewStatus.textContent = `Не удалось показать предпросмотр. ${problem.message}`;
    }
  };
  const select = (name, { focus = false } = {}) => {
    for (const [key, button] of Object.entries(tabs)) {
      const selected = key === name;
      button.setAttribute("aria-selected", String(selected));
      button.tabIndex = selected ? 0 : -1;
      panels[key].hidden = !selected;
    }
    if (focus) tabs[name].focus();
    if (name === "preview") {
      previewOpened = true;
      renderPreview();
    }
  };
  tabs.text.addEventListener("click", () => select("text"));
  tabs.preview.addEventListener("click", () => select("preview"));
  // Arrow keys move between the tabs, as in any tab list.
  const tablist = h("div", { role: "tablist", class: "tabs", "aria-label": "Вид текста материала" }, tabs.text, tabs.preview);
  tablist.addEventListener("keydown", (event) => {
    if (!["ArrowLeft", "ArrowRight", "Home", "End"].includes(event.key)) return;
    event.preventDefault();
    const next = tabs.text.getAttribute("aria-selected") === "true" ? "preview" : "text";
    select(event.key === "Home" ? "text" : event.key === "End" ? "preview" : next, { focus: true });
  });
  // Once the preview has been opened, it follows the text as it is typed.
  textarea.addEventListener("input", () => {
    clearTimeout(timer);
    if (previewOpened) timer = setTimeout(renderPreview, PREVIEW_DELAY_MS);
  });
  select("text");
  return h(
    "div",
    { class: "field body-field" },
    h("div", { class: "body-head" }, label, tablist),
    panels.text,
    panels.preview,
    h(
      "p",
      { class: "field-hint", id: `${id}-hint` },
      "Заголовки #, списки, **жирный**, `код`, блоки кода ```, таблицы и ссылки.",
    ),
    error,
  );
}
