// A material's body as HTML. The catalog renders the Markdown and sanitises the result (only
// headings, paragraphs, lists, code, tables, quotes, emphasis and links with rel set), and this
// is the one place the page inserts HTML from the API. It is parsed inert in a <template>
// (nothing in it runs or loads there) and checked once more against the same allowlist before
// it is moved into the page, so a mistake on either side alone cannot run a script.

import { h } from "./dom.js";

const ALLOWED_TAGS = new Set(
  "h1 h2 h3 h4 h5 h6 p br ul ol li pre code table thead tbody tfoot tr th td a strong em b i del s blockquote hr span sup sub".split(
    " ",
  ),
);
const ALLOWED_ATTRIBUTES = {
  a: new Set(["href", "title", "rel"]),
  ol: new Set(["start"]),
  th: new Set(["align", "colspan", "rowspan"]),
  td: new Set(["align", "colspan", "rowspan"]),
  code: new Set(["class"]),
};
// Dropped with everything inside them; any other unknown element keeps its text.
const DROPPED_WITH_CONTENT = new Set(["script", "style", "template", "iframe", "object", "embed", "svg", "math"]);

function safeHref(value) {
  const href = (value || "").trim();
  if (href.startsWith("#")) return href;
  try {
    const url = new URL(href, location.href);
    return ["http:", "https:", "mailto:"].includes(url.protocol) ? href : null;
  } catch {
    return null;
  }
}

function cleanAttributes(element, tag) {
  const allowed = ALLOWED_ATTRIBUTES[tag] || new Set();
  for (const { name } of [...element.attributes]) {
    if (!allowed.has(name)) element.removeAttribute(name);
  }
  if (tag === "a") {
    const href = safeHref(element.getAttribute("href"));
    if (href) element.setAttribute("href", href);
    else element.removeAttribute("href");
    element.setAttribute("rel", "noopener noreferrer nofollow");
    if (href && !href.startsWith("#")) element.setAttribute("target", "_blank");
  }
}

function clean(parent) {
  for (const node of [...parent.childNodes]) {
    if (node.nodeType === Node.TEXT_NODE) continue;
    if (node.nodeType !== Node.ELEMENT_NODE) {
      node.remove();
      continue;
    }
    const tag = node.localName;
    if (DROPPED_WITH_CONTENT.has(tag)) {
      node.remove();
      continue;
    }
    clean(node);
    if (ALLOWED_TAGS.has(tag)) cleanAttributes(node, tag);
    else node.replaceWith(...node.childNodes);
  }
}

/** The body's HTML as DOM nodes in a fresh `.material-body` container, headings one level down. */
export function materialBody(html, attrs = {}) {
  const container = h("div", { ...attrs, class: `material-body ${attrs.class || ""}`.trim() });
  const template = document.createElement("template");
  template.innerHTML = typeof html === "string" ? html : "";
  clean(template.content);
  // The material's title is the page's one h1: the body's headings sit one level below it.
  for (const heading of template.content.querySelectorAll("h1, h2, h3, h4, h5")) {
    const lower = document.createElement(`h${Number(heading.localName[1]) + 1}`);
    lower.append(...heading.childNodes);
    heading.replaceWith(lower);
  }
  // Wide tables and code scroll inside the body, not the page, and take focus so the keyboard
  // can scroll them too.
  for (const table of template.content.querySelectorAll("table")) {
    const wrapper = h("div", { class: "table-scroll", tabindex: 0 });
    table.replaceWith(wrapper);
    wrapper.append(table);
  }
  for (const pre of template.content.querySelectorAll("pre")) pre.setAttribute("tabindex", "0");
  container.append(template.content);
  return container;
}
