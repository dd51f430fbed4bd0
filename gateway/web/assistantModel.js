// The course's model and spend, on the course's assistant page. "Модель курса": which model
// answers the course's students, the choices (the base model or one of the course's fine-tuned
// models, those an evaluation recommends marked), activating one and rolling back. "Расход": the
// chat by month, this month's spend against the monthly budget, what building the assistant
// cost, and, for admins, the course's budgets and its chat switch.

import { assistantApi } from "./assistantApi.js";
import { SETTINGS_CHANGED } from "./assistantJobs.js";
import { panel } from "./assistantPage.js";
import {
  busy,
  fieldErrors,
  formAlert,
  inRussian,
  number,
  problemText,
  setAlert,
  setFieldError,
  usd,
} from "./assistantParts.js";
import { confirmAction, field } from "./dialogs.js";
import { errorBox, h, loading, replaceChildren, uniqueId } from "./dom.js";
import { routeHref } from "./router.js";
import { state } from "./state.js";
import { toast } from "./toast.js";

// ---- the course's model ------------------------------------------------------------------

export function modelPanel(courseId) {
  const body = h("div", { class: "model-body" }, loading("Загрузка модели курса…"));
  const section = panel("Модель курса", [
    h(
      "p",
      { class: "muted panel-lead" },
      "Какая модель отвечает студентам курса в чате: базовая или одна из дообученных для курса. ",
      "Смена действует на следующие вопросы студентов; прежнюю модель можно вернуть.",
    ),
    body,
  ]);
  const load = async () => {
    let model, jobs;
    try {
      [model, jobs] = await Promise.all([assistantApi.model(courseId), assistantApi.jobs(courseId)]);
    } catch (error) {
      replaceChildren(body, errorBox(`Не удалось загрузить модель курса. ${problemText(error)}`, load));
      return;
    }
    replaceChildren(body, modelView(courseId, model, jobs, load));
  };
  load();
  return section;
}

/** Words for a model: the base one, or a fine-tuned one with the job that made it. */
function modelLabel(model, modelState, jobOf) {
  if (model === null || model === modelState.base_model) return `базовая модель ${modelState.base_model}`;
  const job = jobOf.get(model);
  return job ? `дообученная модель (обучение №${job.id})` : "дообученная модель";
}

function modelView(courseId, model, jobs, reload) {
  const jobOf = new Map(jobs.filter((job) => job.fine_tuned_model).map((job) => [job.fine_tuned_model, job]));
  const recommended = new Set(model.recommended || []);
  const groupName = uniqueId("course-model");
  const current = model.model ?? null;
  const option = (value, title, details) => {
    const input = h("input", { type: "radio", name: groupName, value: value ?? "", checked: value === current });
    return h(
      "label",
      { class: `model-option${value === current ? " is-active" : ""}`, dataset: { model: value ?? "" } },
      input,
      h(
        "span",
        { class: "model-option-text" },
        h(
          "span",
          { class: "model-option-title" },
          title,
          value === current ? h("span", { class: "state-badge model-active" }, "Отвечает сейчас") : null,
        ),
        details,
      ),
    );
  };
  const choices = [
    option(null, `Базовая модель`, h("code", { class: "model-name" }, model.base_model)),
    ...(model.choices || []).map((choice) => {
      const job = jobOf.get(choice);
      return option(
        choice,
        [
          job ? `Обучение №${job.id}` : "Дообученная модель",
          recommended.has(choice)
            ? h("span", { class: "state-badge model-recommended" }, "Рекомендована оценкой")
            : null,
        ],
        [
          h("code", { class: "model-name" }, choice),
          job
            ? h(
                "a",
                { class: "model-job-link", href: routeHref({ name: "assistantJob", courseId, jobId: job.id }) },
                "Страница обучения",
              )
            : null,
        ],
      );
    }),
  ];
  const alert = formAlert();
  const activate = h("button", { type: "submit", class: "btn btn-primary" }, "Сделать моделью курса");
  const canRollBack = model.model !== null || model.previous_model !== null;
  const previousText = modelLabel(model.previous_model ?? null, model, jobOf);
  const rollBack = h(
    "button",
    { type: "button", class: "btn btn-secondary", disabled: !canRollBack },
    "Вернуть прежнюю модель",
  );
  const form = h(
    "form",
    { class: "form model-form", novalidate: true },
    h(
      "p",
      { class: "model-current" },
      "Сейчас студентам отвечает ",
      h("code", { class: "model-name" }, model.active_model),
      ` — ${modelLabel(current, model, jobOf)}.`,
    ),
    alert,
    h(
      "fieldset",
      { class: "choice-group model-choices" },
      h("legend", {}, "Модель для студентов курса"),
      choices,
      model.choices?.length
        ? null
        : h(
            "p",
            { class: "field-hint" },
            "Дообученных моделей пока нет: они появятся здесь, когда обучение курса завершится.",
          ),
    ),
    h(
      "div",
      { class: "form-actions" },
      activate,
      rollBack,
      canRollBack ? h("span", { class: "field-hint" }, `Прежняя: ${previousText}.`) : null,
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setAlert(alert, "");
    const chosen = form.querySelector(`input[name="${groupName}"]:checked`)?.value || null;
    if (chosen === current) {
      setAlert(alert, "Эта модель уже отвечает студентам курса.");
      return;
    }
    const words = chosen ? `дообученная модель ${chosen}` : `базовая модель ${model.base_model}`;
    const warning =
      chosen && !recommended.has(chosen) ? " Оценка не рекомендовала эту модель или её не оценивали." : "";
    const question = `Студентам курса будет отвечать ${words}.${warning} Продолжить?`;
    if (!(await confirmAction(question, "Сделать моделью курса"))) return;
    busy(activate, true, "Сохранение…");
    try {
      await assistantApi.chooseModel(courseId, chosen);
    } catch (error) {
      busy(activate, false);
      setAlert(alert, `Модель не изменена. ${problemText(error)}`);
      return;
    }
    toast("Модель курса изменена");
    await reload();
  });
  rollBack.addEventListener("click", async () => {
    setAlert(alert, "");
    const question = `Вернуть студентам курса прежнюю модель — ${previousText}?`;
    if (!(await confirmAction(question, "Вернуть прежнюю"))) return;
    busy(rollBack, true, "Возврат…");
    try {
      await assistantApi.rollBackModel(courseId);
    } catch (error) {
      busy(rollBack, false);
      setAlert(alert, `Модель не возвращена. ${problemText(error)}`);
      return;
    }
    toast("Прежняя модель курса возвращена");
    await reload();
  });
  return form;
}

// ---- usage and spend ---------------------------------------------------------------------

export function usagePanel(courseId) {
  const body = h("div", { class: "usage-body" }, loading("Загрузка расхода…"));
  const section = panel("Расход", [
    h(
      "p",
      { class: "muted panel-lead" },
      "Сколько стоил ассистент курса: ответы студентам по месяцам и сборка — генерация примеров, дообучение и ",
      "оценка моделей. Суммы — по ценам поставщика модели в долларах США.",
    ),
    body,
  ]);
  const load = async () => {
    let usage, settings;
    try {
      [usage, settings] = await Promise.all([assistantApi.usage(courseId), assistantApi.settings(courseId)]);
    } catch (error) {
      replaceChildren(body, errorBox(`Не удалось загрузить расход. ${problemText(error)}`, load));
      return;
    }
    replaceChildren(
      body,
      thisMonth(usage, settings),
      chatByMonth(usage.chat_by_month || []),
      buildingCosts(usage, settings),
      isAdmin() ? settingsForm(courseId, settings, load) : settingsFacts(settings),
    );
  };
  load();
  return section;
}

function isAdmin() {
  return (state.user?.permissions || []).includes("courses:admin");
}

function noLimit(value) {
  return value === null || value === undefined;
}

function thisMonth(usage, settings) {
  const spent = usage.chat_this_month?.spent_usd ?? 0;
  const reserved = usage.chat_this_month?.reserved_usd ?? 0;
  const budget = settings.monthly_chat_budget_usd;
  const labelId = uniqueId("chat-budget");
  return h(
    "section",
    { class: "usage-month", "aria-labelledby": labelId },
    h("h3", { class: "findings-title", id: labelId }, "Чат в этом месяце"),
    h(
      "p",
      { class: "usage-month-text" },
      `Потрачено ${usd(spent)}, зарезервировано ответами, которые пишутся сейчас, — ${usd(reserved)}. `,
      noLimit(budget)
        ? "Месячный бюджет чата не ограничен."
        : `Месячный бюджет чата — ${usd(budget)}, остаётся ${usd(Math.max(0, budget - spent - reserved))}.`,
    ),
    noLimit(budget)
      ? null
      : h("meter", {
          class: "budget-meter",
          min: 0,
          max: Math.max(budget, 0.000001),
          low: budget * 0.7,
          high: budget * 0.9,
          optimum: 0,
          value: Math.min(spent + reserved, budget),
          "aria-labelledby": labelId,
          "aria-valuetext": `${usd(spent + reserved)} из ${usd(budget)}`,
        }),
  );
}

function monthName(month) {
  const date = new Date(`${month}-01T00:00:00Z`);
  if (Number.isNaN(date.getTime())) return month;
  return date.toLocaleString("ru-RU", { month: "long", year: "numeric", timeZone: "UTC" });
}

function chatByMonth(months) {
  if (!months.length) {
    return h("p", { class: "muted usage-empty" }, "Студенты ещё не получали ответов ассистента курса.");
  }
  return h(
    "div",
    { class: "table-scroll", tabindex: 0, role: "region", "aria-label": "Чат по месяцам" },
    h(
      "table",
      { class: "data-table usage-table" },
      h("caption", {}, "Чат по месяцам"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Месяц", "Ответов", "Токенов вопросов", "Токенов ответов", "Расход"].map((text) =>
            h("th", { scope: "col" }, text),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        months.map((row) =>
          h(
            "tr",
            { dataset: { month: row.month } },
            h("th", { scope: "row" }, monthName(row.month)),
            h("td", { class: "num" }, number(row.answers)),
            h("td", { class: "num" }, number(row.prompt_tokens)),
            h("td", { class: "num" }, number(row.completion_tokens)),
            h("td", { class: "num" }, usd(row.cost_usd)),
          ),
        ),
      ),
    ),
  );
}

function buildingCosts(usage, settings) {
  const fact = (term, value, key) => h("div", { dataset: { cost: key } }, h("dt", {}, term), h("dd", {}, value));
  const total = (usage.generation_usd ?? 0) + (usage.fine_tuning_usd ?? 0) + (usage.evaluation_usd ?? 0);
  const budget = settings.training_budget_usd;
  return h(
    "section",
    { class: "usage-building", "aria-label": "Сборка ассистента" },
    h("h3", { class: "findings-title" }, "Сборка ассистента"),
    h(
      "dl",
      { class: "details usage-costs" },
      fact("Генерация примеров", usd(usage.generation_usd ?? 0), "generation"),
      fact("Дообучение", usd(usage.fine_tuning_usd ?? 0), "fine_tuning"),
      fact("Оценка моделей", usd(usage.evaluation_usd ?? 0), "evaluation"),
      fact("Всего", usd(total), "total"),
    ),
    h(
      "p",
      { class: "field-hint" },
      noLimit(budget) ? "Бюджет на дообучение не ограничен; " : `Бюджет на дообучение — ${usd(budget)}; `,
      `потрачено или зарезервировано идущими обучениями — ${usd(settings.committed_usd ?? 0)}.`,
    ),
  );
}

function settingsFacts(settings) {
  return h(
    "p",
    { class: "muted usage-settings" },
    settings.chat_enabled ? "Чат курса включён. " : "Чат курса выключен. ",
    "Бюджеты и включение чата задаёт администратор.",
  );
}

/** The admins' form: both budgets (empty: no limit) and the chat's switch. */
function settingsForm(courseId, settings, reload) {
  const money = (name, value) =>
    h("input", {
      name,
      type: "number",
      min: 0,
      max: 1000000,
      step: "0.01",
      inputmode: "decimal",
      value: noLimit(value) ? "" : String(value),
    });
  const training = money("training_budget_usd", settings.training_budget_usd);
  const chat = money("monthly_chat_budget_usd", settings.monthly_chat_budget_usd);
  const enabled = h("input", { type: "checkbox", name: "chat_enabled", checked: settings.chat_enabled !== false });
  const alert = formAlert();
  const submit = h("button", { type: "submit", class: "btn btn-primary" }, "Сохранить настройки");
  const form = h(
    "form",
    { class: "form assistant-form settings-form", novalidate: true },
    h("h3", { class: "findings-title" }, "Настройки курса"),
    alert,
    h(
      "div",
      { class: "field-row settings-fields" },
      field("Бюджет на дообучение, $", training, { hint: "На все обучения курса; пусто — без ограничения." }),
      field("Бюджет чата в месяц, $", chat, { hint: "Пусто — без ограничения." }),
    ),
    h("label", { class: "choice" }, enabled, " Чат курса включён"),
    h("div", { class: "form-actions" }, submit),
  );
  const amount = (input) => {
    const text = input.value.trim();
    if (!text) return { value: null };
    const value = Number(text);
    return Number.isFinite(value) && value >= 0 && value <= 1_000_000
      ? { value }
      : { problem: "Сумма от 0 до 1 000 000 или пусто." };
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    setAlert(alert, "");
    const trainingValue = amount(training);
    const chatValue = amount(chat);
    setFieldError(training, trainingValue.problem);
    setFieldError(chat, chatValue.problem);
    if (trainingValue.problem || chatValue.problem) {
      (trainingValue.problem ? training : chat).focus();
      return;
    }
    busy(submit, true, "Сохранение…");
    try {
      await assistantApi.updateSettings(courseId, {
        training_budget_usd: trainingValue.value,
        monthly_chat_budget_usd: chatValue.value,
        chat_enabled: enabled.checked,
      });
    } catch (error) {
      busy(submit, false);
      const byField = fieldErrors(error.errors);
      const say = (name) => (byField[name] ? [].concat(byField[name]).map(inRussian).join(" ") : "");
      setFieldError(training, say("training_budget_usd"));
      setFieldError(chat, say("monthly_chat_budget_usd"));
      setAlert(alert, `Настройки не сохранены. ${problemText(error)}`);
      return;
    }
    toast("Настройки курса сохранены");
    window.dispatchEvent(new CustomEvent(SETTINGS_CHANGED, { detail: { courseId } }));
    await reload();
  });
  return form;
}
