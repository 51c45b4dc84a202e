// The console's shell: sign-in, the navigation bar, the theme, and a hash router that loads
// each page's module when it is first opened (#/chat, #/memories, #/tools …).
import { api, ApiError, configure } from "./api.js";
import { clear, errorBox, h, sentence } from "./dom.js";

// each page: its hash, its label, its module; `admin`: shown to admins only
const PAGES = [
  { path: "chat", label: "Chat", module: "./pages/chat.js" },
  { path: "memories", label: "Memories", module: "./pages/memories.js" },
  { path: "tools", label: "Tools", module: "./pages/tools.js" },
  { path: "models", label: "Models", module: "./pages/models.js" },
  { path: "runs", label: "Runs", module: "./pages/runs.js" },
  { path: "monitor", label: "Monitoring", module: "./pages/monitor.js", admin: true },
];

const view = document.getElementById("view");
const state = { user: null, unmount: null, generation: 0 };

function applyTheme(theme) {
  if (theme) document.documentElement.dataset.theme = theme;
  else delete document.documentElement.dataset.theme;
}

function toggleTheme() {
  const dark = document.documentElement.dataset.theme
    ? document.documentElement.dataset.theme === "dark"
    : matchMedia("(prefers-color-scheme: dark)").matches;
  const theme = dark ? "light" : "dark";
  localStorage.setItem("menagerie.theme", theme);
  applyTheme(theme);
}

function route() {
  const [path, ...rest] = location.hash.replace(/^#\/?/, "").split("/");
  const page = PAGES.find((p) => p.path === path && (!p.admin || state.user?.user.is_admin));
  return { page: page || PAGES[0], params: rest.map(decodeURIComponent) };
}

function drawNav(current) {
  const nav = document.getElementById("nav");
  clear(nav, PAGES.filter((p) => !p.admin || state.user.user.is_admin).map((p) =>
    h("a", { href: `#/${p.path}`, "aria-current": p === current ? "page" : false }, p.label)));
}

async function show() {
  if (!state.user) return;
  const generation = ++state.generation;
  const { page, params } = route();
  drawNav(page);
  if (state.unmount) {
    try { state.unmount(); } catch (error) { console.error(error); }
    state.unmount = null;
  }
  clear(view, h("p", { class: "loading" }, "Loading…"));
  view.setAttribute("aria-busy", "true");
  document.title = `${page.label} · Menagerie`;
  try {
    const module = await import(page.module);
    if (generation !== state.generation) return;
    const root = h("section", { class: `page page-${page.path}`, "aria-label": page.label });
    clear(view, root);
    const ctx = { user: state.user, params, navigate, replace };
    state.unmount = (await module.mount(root, ctx)) || null;
    if (generation === state.generation) view.setAttribute("aria-busy", "false");
  } catch (error) {
    if (generation !== state.generation) return;
    console.error(error);
    clear(view, errorBox(error instanceof ApiError ? error : new Error(`The ${page.label} page could not be opened: ${sentence(error)}`)));
    view.setAttribute("aria-busy", "false");
  }
}

/** Go to a page (`navigate("chat", id)`), or change the address without reloading (`replace`). */
function navigate(...parts) {
  location.hash = "#/" + parts.map(encodeURIComponent).join("/");
}

function replace(...parts) {
  history.replaceState(null, "", "#/" + parts.map(encodeURIComponent).join("/"));
}

function signedIn(user) {
  state.user = user;
  configure({ token: user.csrf_token });
  document.getElementById("bar").hidden = false;
  const who = user.user.name || user.user.email || user.user.id;
  document.getElementById("who").textContent = user.user.is_admin ? `${who} (admin)` : who;
  show();
}

function signInForm(problem) {
  state.user = null;
  document.getElementById("bar").hidden = true;
  const message = h("div", { "aria-live": "polite" }, problem ? errorBox(problem) : null);
  const token = h("input", { id: "token", name: "token", type: "password", autocomplete: "off", placeholder: "podplay_api_…" });
  const email = h("input", { id: "email", name: "email", type: "email", autocomplete: "username" });
  const password = h("input", { id: "password", name: "password", type: "password", autocomplete: "current-password" });
  const button = h("button", { type: "submit", class: "primary" }, "Sign in");
  const form = h("form", { class: "card sign-in", "aria-label": "Sign in" },
    h("h1", {}, "Sign in to Menagerie"),
    h("label", { for: "token" }, "API token"),
    token,
    h("p", { class: "hint" }, "The admin token printed at the server's first start is one."),
    h("p", { class: "or" }, "or an account"),
    h("label", { for: "email" }, "Email"), email,
    h("label", { for: "password" }, "Password"), password,
    message, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    clear(message);
    const body = token.value.trim() ? { token: token.value.trim() } : { email: email.value, password: password.value };
    try {
      signedIn(await api("/session", { method: "POST", body }));
    } catch (error) {
      clear(message, errorBox(error));
    } finally {
      button.disabled = false;
    }
  });
  clear(view, form);
  token.focus();
}

async function signOut() {
  // the page lets go of what it holds (a terminal, a stream) while it is still signed in
  if (state.unmount) {
    try { state.unmount(); } catch (error) { console.error(error); }
  }
  state.unmount = null;
  state.generation++;
  try {
    await api("/session", { method: "DELETE" });
  } finally {
    configure({ token: null });
    signInForm();
  }
}

async function boot() {
  applyTheme(localStorage.getItem("menagerie.theme"));
  document.getElementById("theme").addEventListener("click", toggleTheme);
  document.getElementById("sign-out").addEventListener("click", signOut);
  configure({ signedOut: (error) => { if (state.user) signInForm(error); } });
  window.addEventListener("hashchange", show);
  try {
    signedIn(await api("/session"));
  } catch (error) {
    signInForm(error instanceof ApiError && error.status === 401 ? null : error);
  }
}

boot();
