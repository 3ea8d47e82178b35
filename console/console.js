// The console's shell: log in, the screens' navigation (#email, #whatsapp, …: the fragment
// names a screen and nothing else), messages, the one-time secret panel and the password
// step-up every screen shares. Screens are in screens.js.
import { Api } from "./api.js";
import { h, field } from "./dom.js";
import { screens } from "./screens.js";

const api = new Api();
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const who = document.getElementById("who");
const logoutButton = document.getElementById("logout");

// What every screen is given.
const ui = {
  api,
  content: null,  // the screen's element
  messages: null,
  say(text) { this.messages.replaceChildren(h("p", { class: "message ok", role: "status" }, text)); },
  // An API refusal is shown as the API's own words.
  fail(error) {
    this.messages.replaceChildren(h("p", { class: "message error", role: "alert" }, error.message));
  },
  clear() { this.messages.replaceChildren(); },
  // Runs an action, showing its refusal if any (and no older message); returns whether it
  // succeeded.
  async attempt(action) {
    this.clear();
    try {
      await action();
      return true;
    } catch (error) {
      this.fail(error);
      return false;
    }
  },
  // A secret shown this once, with a copy button; "Done" removes it from the page.
  showSecretOnce(title, secret, note) {
    let text = secret;
    const code = h("code", { class: "secret", "aria-label": "the key" }, text);
    const copied = h("span", { role: "status", class: "hint" });
    const panel = h("section", { class: "secret-once", "aria-label": title },
      h("h2", {}, title),
      h("p", {}, note || "Copy it now: it is shown this once, and is gone when you leave this panel."),
      code,
      h("div", { class: "actions" },
        h("button", {
          type: "button", class: "secondary", "data-action": "copy",
          onclick: async () => {
            try {
              await navigator.clipboard.writeText(text);
              copied.textContent = "Copied.";
            } catch {
              window.getSelection().selectAllChildren(code);
              copied.textContent = "Select and copy the key with your keyboard.";
            }
          },
        }, "Copy"),
        h("button", {
          type: "button", "data-action": "done",
          onclick: () => { text = ""; panel.remove(); },
        }, "Done")),
      copied);
    this.content.prepend(panel);
    panel.querySelector("button").focus();
  },
  // A password field and a button: `action(password)` runs with the password, and the field
  // is cleared whatever happens.
  stepUp(label, action) {
    const input = field({ label: "Your password", type: "password", name: "password", autocomplete: "current-password" });
    const form = h("form", { class: "stepup", "aria-label": label }, input, h("button", { type: "submit" }, label));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const box = form.querySelector("input");
      const password = box.value;
      box.value = "";
      await this.attempt(() => action(password));
    });
    return form;
  },
  refresh() { show(); },
};

function loggedOut(reason) {
  api.logout();
  nav.hidden = true;
  logoutButton.hidden = true;
  who.textContent = "";
  if (location.hash) history.replaceState(null, "", location.pathname);
  renderLogin(reason);
}

function renderLogin(reason) {
  const error = h("div", {});
  if (reason) error.append(h("p", { class: "message error", role: "alert" }, reason));
  const form = h("form", { class: "card login", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title" }, "Log in to your dashboard"),
    error,
    field({ label: "Dashboard ID", name: "dashboard", required: true, placeholder: "dsh_…" }),
    field({ label: "Email", type: "email", name: "email", required: true, autocomplete: "username" }),
    field({ label: "Password", type: "password", name: "password", required: true, autocomplete: "current-password" }),
    h("button", { type: "submit" }, "Log in"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = new FormData(form);
    const password = form.elements.password.value;
    form.elements.password.value = "";
    try {
      await api.login(String(values.get("dashboard")).trim(), String(values.get("email")).trim(), password);
    } catch (failure) {
      error.replaceChildren(h("p", { class: "message error", role: "alert" }, failure.message));
      return;
    }
    who.textContent = `${api.email} · ${api.role} · ${api.dashboard}`;
    logoutButton.hidden = false;
    // The overview; a change of fragment renders it (hashchange), an equal one does not.
    if (location.hash === "#overview") show();
    else location.hash = "#overview";
  });
  main.replaceChildren(form);
  form.querySelector("input").focus();
}

// The screens this role may open, in the navigation's order.
function allowedScreens() { return screens.filter((s) => s.roles.includes(api.role)); }

function renderNav(current) {
  nav.replaceChildren(h("ul", {}, allowedScreens().map((s) =>
    h("li", {}, h("a", { href: `#${s.id}`, "aria-current": s.id === current.id ? "page" : undefined }, s.title)))));
  nav.hidden = false;
}

let rendering = 0;
async function show() {
  if (!api.loggedIn) return renderLogin();
  const allowed = allowedScreens();
  const id = location.hash.slice(1);
  const screen = allowed.find((s) => s.id === id) || allowed[0];
  renderNav(screen);
  const ticket = ++rendering;
  const messages = h("div", { class: "messages" });
  const content = h("div", {});
  const heading = h("h1", { tabindex: "-1" }, screen.title);
  main.replaceChildren(heading, messages, content);
  document.title = `${screen.title} · keyledger console`;
  ui.messages = messages;
  ui.content = content;
  try {
    await screen.render(ui);
  } catch (error) {
    if (ticket === rendering) ui.fail(error);
  }
  if (document.activeElement === document.body || !main.contains(document.activeElement)) heading.focus();
}

window.addEventListener("hashchange", () => { if (api.loggedIn) show(); });
window.addEventListener("keyledger:logged-out", (event) => loggedOut(event.detail || "Your session has ended: log in again."));
logoutButton.addEventListener("click", () => loggedOut(""));
loggedOut("");
