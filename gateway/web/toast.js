// Short notices in the corner. Polite ones go into a role=status region, failures into a
// role=alert region, so screen readers announce both without moving focus.

import { h } from "./dom.js";

const VISIBLE_MS = 4000;

export function toast(message, { kind = "success" } = {}) {
  const region = document.getElementById(kind === "error" ? "toasts-alert" : "toasts-status");
  const item = h(
    "div",
    { class: `toast toast-${kind}` },
    h("span", { class: "toast-icon", "aria-hidden": "true" }, kind === "error" ? "!" : "✓"),
    h("span", { class: "toast-text" }, message),
    h(
      "button",
      { type: "button", class: "toast-close", "aria-label": "Закрыть уведомление", onclick: () => dismiss(item) },
      "×",
    ),
  );
  region.appendChild(item);
  const timer = setTimeout(() => dismiss(item), VISIBLE_MS);
  item.addEventListener("mouseenter", () => clearTimeout(timer), { once: true });
  return item;
}

function dismiss(item) {
  if (!item.isConnected || item.classList.contains("toast-leaving")) return;
  item.classList.add("toast-leaving");
  const remove = () => item.remove();
  item.addEventListener("animationend", remove, { once: true });
  setTimeout(remove, 400); // reduced motion: no animation, no animationend
}
