// "Корзина": a course's deleted materials, for its teachers (and admins). A deleted material
// stays there until it is purged (30 days by default) and comes back with "Восстановить".

import { request } from "./api.js";
import { errorBox, h, loading, replaceChildren, uniqueId } from "./dom.js";
import { typeLabel } from "./materialTypes.js";
import { toast } from "./toast.js";

const recycleBinApi = {
  list: (courseId) => request("GET", `/api/courses/${courseId}/recycle-bin`, { auth: true }),
  restore: (courseId, materialId) =>
    request("POST", `/api/courses/${courseId}/materials/${materialId}/restore`, { auth: true }),
};

function day(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime())
    ? ""
    : date.toLocaleDateString("ru-RU", { day: "numeric", month: "long", year: "numeric" });
}

function lessonText(number) {
  return number === null || number === undefined ? "" : `Занятие ${number}`;
}

/**
 * The "Корзина" toggle and its panel (hidden until opened). `onRestored(material)` is called
 * after a material came back, so the page can show it in its list again.
 */
export function recycleBin(courseId, { open = false, onToggle = () => {}, onRestored }) {
  const panelId = uniqueId("recycle-bin");
  const headingId = uniqueId("recycle-bin-title");
  const body = h("div", { class: "recycle-bin-body" });
  const panel = h(
    "section",
    { id: panelId, class: "panel recycle-bin", "aria-labelledby": headingId, hidden: true },
    h("h2", { id: headingId, class: "section-title" }, "Корзина"),
    h(
      "p",
      { class: "muted recycle-bin-hint" },
      "Удалённые материалы хранятся здесь, пока их не удалят окончательно. Их можно восстановить.",
    ),
    body,
  );
  const toggle = h(
    "button",
    {
      type: "button",
      class: "btn btn-secondary recycle-bin-toggle",
      "aria-expanded": "false",
      "aria-controls": panelId,
      onclick: () => show(panel.hidden),
    },
    "Корзина",
  );

  function show(opened) {
    panel.hidden = !opened;
    toggle.setAttribute("aria-expanded", String(opened));
    onToggle(opened);
    if (opened) load();
  }

  async function load() {
    replaceChildren(body, loading("Загрузка корзины…"));
    let deleted;
    try {
      deleted = await recycleBinApi.list(courseId);
    } catch (error) {
      const message = error.unavailable
        ? "Корзина временно недоступна: сервис каталога не отвечает."
        : `Не удалось загрузить корзину. ${error.message}`;
      replaceChildren(body, errorBox(message, load));
      return;
    }
    if (panel.hidden) return;
    replaceChildren(
      body,
      deleted.length
        ? h("ul", { class: "recycle-bin-list" }, deleted.map((material) => row(material)))
        : h("p", { class: "empty-title" }, "Корзина пуста"),
    );
  }

  function row(material) {
    const restore = h(
      "button",
      {
        type: "button",
        class: "btn btn-secondary btn-sm",
        "aria-label": `Восстановить «${material.title}»`,
        onclick: async () => {
          restore.disabled = true;
          try {
            await recycleBinApi.restore(courseId, material.id);
          } catch (error) {
            restore.disabled = false;
            toast(
              error.status === 404
                ? "Этот материал уже удалён окончательно."
                : `Не удалось восстановить материал. ${error.message}`,
              { kind: "error" },
            );
            return;
          }
          toast(`Материал «${material.title}» восстановлен`);
          onRestored(material);
        },
      },
      "Восстановить",
    );
    return h(
      "li",
      { class: "recycle-bin-row", dataset: { materialId: material.id } },
      h(
        "div",
        { class: "recycle-bin-main" },
        h("span", { class: "material-title" }, material.title),
        h(
          "span",
          { class: "material-meta" },
          h("span", {}, typeLabel(material)),
          h("span", {}, lessonText(material.lesson_number)),
          h("span", {}, `Удалён ${day(material.deleted_at)}`),
          h("span", {}, `Будет удалён окончательно ${day(material.purge_at)}`),
        ),
      ),
      restore,
    );
  }

  if (open) show(true);
  return { toggle, panel };
}
