// Building the page without inline script or style: elements are made here, never parsed
// from HTML strings, so nothing a server or a user typed can become markup.

export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") element.className = value;
    else if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "text") element.textContent = value;
    else if (value === true) element.setAttribute(name, "");
    else element.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
  return element;
}

let nextId = 0;
export function uid(prefix) { nextId += 1; return `${prefix}-${nextId}`; }

// A labelled input: {label, type, name, hint, required, value, autocomplete, options (select)}.
export function field(spec) {
  const id = uid(spec.name);
  const hintId = spec.hint ? `${id}-hint` : undefined;
  let control;
  if (spec.options) {
    control = h("select", { id, name: spec.name, "aria-describedby": hintId },
      spec.options.map(([value, text]) => h("option", { value, selected: value === spec.value }, text)));
  } else if (spec.type === "textarea") {
    control = h("textarea", { id, name: spec.name, "aria-describedby": hintId, placeholder: spec.placeholder });
    if (spec.value) control.value = spec.value;
  } else {
    control = h("input", {
      id, name: spec.name, type: spec.type || "text", required: spec.required, autocomplete: spec.autocomplete || "off",
      "aria-describedby": hintId, placeholder: spec.placeholder, min: spec.min, max: spec.max,
      spellcheck: "false",
    });
    if (spec.value !== undefined) control.value = spec.value;
  }
  return h("div", { class: "field" }, h("label", { for: id }, spec.label), control,
    spec.hint ? h("span", { class: "hint", id: hintId }, spec.hint) : null);
}

export function table(caption, columns, rows, emptyText) {
  const body = rows.length
    ? rows.map((cells) => h("tr", {}, cells.map((cell) => h("td", {}, cell))))
    : [h("tr", {}, h("td", { class: "empty", colspan: String(columns.length) }, emptyText))];
  return h("div", { class: "scroll", role: "region", "aria-label": caption, tabindex: "0" },
    h("table", {}, h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, body)));
}

export function when(text) {
  if (!text) return "never";
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? text : date.toLocaleString();
}

export function statusCell(status) { return h("span", { class: `status-${status}` }, status); }
