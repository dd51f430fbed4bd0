// Building DOM nodes without innerHTML: every piece of API data ends up as a text node,
// so a course name like "<img onerror=...>" is shown, never run.

/**
 * h("button", {class: "x", onclick: fn, "aria-label": "..."}, "text", childNode, [more])
 * Attributes starting with "on" become listeners; `false`/`null` attributes are skipped;
 * strings and numbers among the children become text nodes.
 */
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (name === "hidden" || name === "disabled" || name === "required") {
      node[name] = Boolean(value);
    } else if (name === "value") {
      node.value = value;
    } else {
      node.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(node, child);
    else if (child instanceof Node) node.appendChild(child);
    else node.appendChild(document.createTextNode(String(child)));
  }
}

/** Replace all children of `node`. */
export function replaceChildren(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

/** Only http(s) links are ever put into an href: no javascript:, data: or relative tricks. */
export function safeHttpUrl(value) {
  if (typeof value !== "string" || !value.trim()) return null;
  try {
    const url = new URL(value.trim());
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

/** A spinner with a text label screen readers announce. */
export function loading(label = "Загрузка…") {
  return h("div", { class: "loading", role: "status" }, h("span", { class: "spinner", "aria-hidden": "true" }), label);
}

/** A visible error box with an optional retry button. */
export function errorBox(message, onRetry) {
  return h(
    "div",
    { class: "error-box", role: "alert" },
    h("p", {}, message),
    onRetry ? h("button", { type: "button", class: "btn btn-secondary", onclick: onRetry }, "Повторить") : null,
  );
}

let uniqueCounter = 0;
export function uniqueId(prefix) {
  uniqueCounter += 1;
  return `${prefix}-${uniqueCounter}`;
}
