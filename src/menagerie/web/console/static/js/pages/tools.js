// Tools: the MCP catalogue (search, categories), installing a server with live progress,
// configuring it from its schema (secrets as password fields, shown masked afterwards), the
// installed servers with badges that follow `mcp.server_status`, calling a server's tools
// from forms built from their input schemas, and importing a Claude Desktop / VS Code mcp.json.
import { api, subscribe } from "../api.js";
import { clear, debounce, errorBox, h, sentence, stylesheet, toast, when } from "../dom.js";
import { schemaForm, slug } from "../forms.js";

const CATALOG_PAGE = 24;
const HEALTH = { running: "healthy", offline: "unhealthy", failed: "unhealthy" };

/** A tool's result: structured content as JSON, text blocks as text. */
function resultView(result) {
  const content = result.content;
  let text;
  if (Array.isArray(content) && content.every((b) => b && b.type === "text")) {
    text = content.map((b) => b.text).join("\n");
  } else {
    text = typeof content === "string" ? content : JSON.stringify(content, null, 2);
  }
  const meta = `${result.is_error ? "The tool reported an error" : "Result"} · ${Math.round(result.duration_ms)} ms`;
  return h("div", { class: `tool-result${result.is_error ? " failed" : ""}`, role: result.is_error ? "alert" : null },
    h("p", { class: result.is_error ? "error" : "hint" }, meta),
    h("pre", { class: "output" }, text));
}

export async function mount(root, ctx) {
  stylesheet("tools");
  const s = {
    servers: new Map(), // name -> server as the API gives it
    progress: new Map(), // name -> the latest mcp.installation_progress payload
    query: "",
    category: "",
    page: 1,
    openTools: null, // the server whose tools are shown
  };

  // -- layout ---------------------------------------------------------------------------------
  const serverList = h("ul", { class: "grid servers", id: "servers", "aria-label": "Installed servers", "aria-live": "polite" });
  const toolsHeading = h("h2", { tabindex: "-1" }, "Tools");
  const toolsBody = h("div", { id: "tool-list" });
  const closeTools = h("button", { type: "button", class: "ghost", "aria-label": "Close the tools" }, "×");
  const toolsPanel = h("section", { class: "card tools-panel", id: "tools-panel", hidden: true, "aria-labelledby": "tools-heading" },
    h("div", { class: "panel-head" }, toolsHeading, closeTools), toolsBody);
  toolsHeading.id = "tools-heading";

  const search = h("input", { type: "search", id: "tool-search", placeholder: "Search servers", "aria-label": "Search the catalogue" });
  const category = h("select", { id: "tool-category", "aria-label": "Category" }, h("option", { value: "" }, "All categories"));
  const catalog = h("ul", { class: "grid catalog", id: "catalog", "aria-label": "Catalogue", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "ghost", hidden: true }, "More servers");

  const importText = h("textarea", { id: "import-text", rows: "6", spellcheck: "false",
    placeholder: '{"mcpServers": {"name": {"command": "…", "args": []}}}' });
  const importFile = h("input", { id: "import-file", type: "file", accept: ".json,application/json" });
  const importButton = h("button", { type: "submit", class: "primary", id: "import" }, "Import");
  const importResult = h("div", { id: "import-result", "aria-live": "polite" });
  const importForm = h("form", { class: "fields import" },
    h("label", { for: "import-text" }, "Paste a Claude Desktop or VS Code mcp.json"), importText,
    h("label", { for: "import-file" }, "or choose the file"), importFile,
    h("div", { class: "actions" }, importButton), importResult);

  const dialog = h("dialog", { id: "tool-dialog", "aria-labelledby": "tool-dialog-title" });

  clear(root,
    h("section", { class: "tools-section" }, h("h2", {}, "Installed servers"), serverList),
    toolsPanel,
    h("section", { class: "tools-section" }, h("h2", {}, "Catalogue"),
      h("div", { class: "toolbar" }, search, category), catalog, more),
    h("section", { class: "tools-section" },
      h("details", { class: "card" }, h("summary", {}, h("h2", {}, "Import servers")), importForm)),
    dialog);

  // -- a form in the dialog -------------------------------------------------------------------
  function openDialog(title, content, submitLabel, onSubmit) {
    const problem = h("div", { "aria-live": "polite" });
    const submit = h("button", { type: "submit", class: "primary" }, submitLabel);
    const cancel = h("button", { type: "button", class: "ghost" }, "Cancel");
    const form = h("form", { class: "fields", method: "dialog" },
      h("h2", { id: "tool-dialog-title" }, title), content, problem, h("div", { class: "actions" }, cancel, submit));
    cancel.addEventListener("click", () => dialog.close());
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      submit.disabled = true;
      clear(problem);
      try {
        await onSubmit();
        dialog.close();
      } catch (error) {
        clear(problem, errorBox(error));
      } finally {
        submit.disabled = false;
      }
    });
    clear(dialog, form);
    dialog.showModal();
    const first = form.querySelector("input, select, textarea");
    if (first) first.focus();
  }

  // -- installed servers ----------------------------------------------------------------------
  function progressLine(name) {
    const event = s.progress.get(name);
    const value = event ? event.progress : 0;
    const bar = h("progress", { max: "100", value: String(value), "aria-label": `Installing ${name}` });
    const left = event && event.state === "installing" && event.remaining_s > 0 ? ` · about ${Math.ceil(event.remaining_s)} s left` : "";
    const step = event ? `${value} % · ${event.step}${left}` : "Waiting to start…";
    return h("div", { class: `progress-line${event && event.state === "failed" ? " failed" : ""}` },
      bar, h("span", { class: "step" }, step));
  }

  function configurationView(server) {
    const entries = Object.entries(server.configuration || {});
    if (!entries.length) return null;
    return h("dl", { class: "config" }, entries.map(([key, value]) => [
      h("dt", {}, key),
      h("dd", {}, typeof value === "string" ? value : JSON.stringify(value)),
    ]));
  }

  function serverCard(server) {
    const name = server.name;
    const action = (label, handler, attrs = {}) =>
      h("button", { type: "button", ...attrs, "aria-label": `${label} ${name}`, onclick: handler }, label);
    const running = server.status === "running";
    const hasFields = Object.keys(server.configuration_schema.properties || {}).length > 0;
    return h("li", { class: "card server", dataset: { server: name } },
      h("div", { class: "server-head" },
        h("h3", {}, name),
        h("span", { class: `badge status ${server.status}`, title: "Status" }, server.status),
        h("span", { class: `badge health ${server.health}`, title: "Health" }, server.health)),
      h("p", { class: "description" }, server.description),
      s.progress.has(name) || server.status === "installing" ? progressLine(name) : null,
      server.error ? h("p", { class: "error" }, server.error) : null,
      h("p", { class: "hint meta" },
        `${server.tool_count} tool${server.tool_count === 1 ? "" : "s"} · installed ${when(server.installed_at)}`,
        server.last_health_check ? ` · checked ${when(server.last_health_check)}` : ""),
      configurationView(server),
      h("div", { class: "actions" },
        action("Tools", () => openTools(name), { class: "primary", disabled: !running }),
        hasFields ? action("Configure", () => configure(server)) : null,
        action("Restart", () => lifecycle(name, "restart"), { disabled: ["installing", "failed"].includes(server.status) }),
        action("Stop", () => lifecycle(name, "stop"), { disabled: !running }),
        action("Uninstall", () => uninstall(name), { class: "danger" })));
  }

  function drawServer(server) {
    s.servers.set(server.name, server);
    const card = serverCard(server);
    const old = serverList.querySelector(`li[data-server="${CSS.escape(server.name)}"]`);
    serverList.querySelector(".empty")?.remove();
    if (old) old.replaceWith(card);
    else serverList.prepend(card);
  }

  function drawServers() {
    clear(serverList, s.servers.size
      ? [...s.servers.values()].map(serverCard)
      : h("li", { class: "empty" }, "No server installed yet: install one from the catalogue below."));
  }

  async function loadServers() {
    const { servers } = await api("/tools/servers");
    s.servers = new Map(servers.map((server) => [server.name, server]));
    drawServers();
  }
  const reloadServers = debounce(() => loadServers().catch((error) => toast(sentence(error), "error")), 150);

  async function lifecycle(name, verb) {
    try {
      drawServer(await api(`/tools/servers/${encodeURIComponent(name)}/${verb}`, { method: "POST" }));
      toast(verb === "stop" ? `${name} stopped.` : `${name} restarted.`);
    } catch (error) {
      toast(sentence(error), "error");
    }
  }

  async function uninstall(name) {
    if (!confirm(`Uninstall ${name}? Its configuration is deleted.`)) return;
    try {
      await api(`/tools/servers/${encodeURIComponent(name)}`, { method: "DELETE" });
      removeServer(name);
      toast(`${name} uninstalled.`);
      loadCatalog().catch(() => {}); // its catalogue card offers Install again
    } catch (error) {
      toast(sentence(error), "error");
    }
  }

  function removeServer(name) {
    s.servers.delete(name);
    s.progress.delete(name);
    if (s.openTools === name) hideTools();
    drawServers();
  }

  function configure(server) {
    const form = schemaForm(server.configuration_schema, {
      prefix: "cfg", values: server.configuration, secrets: server.secret_fields, patch: true });
    openDialog(`Configure ${server.name}`, form.elements, "Save", async () => {
      const answer = await api(`/tools/servers/${encodeURIComponent(server.name)}`, {
        method: "PATCH", body: { configuration: form.read(), restart: true } });
      drawServer(answer.server);
      toast(answer.message);
    });
  }

  // -- tools of a server ----------------------------------------------------------------------
  function hideTools() {
    s.openTools = null;
    toolsPanel.hidden = true;
    clear(toolsBody);
    ctx.replace("tools");
  }
  closeTools.addEventListener("click", hideTools);

  function toolForm(server, tool) {
    const prefix = `tool-${slug(tool.name)}`;
    const form = schemaForm(tool.input_schema, { prefix });
    const output = h("div", { class: "output-area", "aria-live": "polite" });
    const run = h("button", { type: "submit", class: "primary" }, "Call");
    const element = h("form", { class: "fields tool-form", id: prefix, "aria-label": `Call ${tool.name}` },
      form.empty ? h("p", { class: "hint" }, "This tool takes no arguments.") : form.elements,
      h("div", { class: "actions" }, run), output);
    element.addEventListener("submit", async (event) => {
      event.preventDefault();
      run.disabled = true;
      clear(output, h("p", { class: "loading" }, "Calling…"));
      try {
        const result = await api(`/tools/servers/${encodeURIComponent(server)}/tools/${encodeURIComponent(tool.name)}/call`, {
          method: "POST", body: { arguments: form.read() } });
        clear(output, resultView(result));
      } catch (error) {
        clear(output, errorBox(error));
      } finally {
        run.disabled = false;
      }
    });
    return h("details", { class: "tool", dataset: { tool: tool.name } },
      h("summary", {}, h("code", {}, tool.name), tool.description ? h("span", { class: "hint" }, ` ${tool.description}`) : null),
      element);
  }

  async function openTools(name) {
    s.openTools = name;
    ctx.replace("tools", name);
    toolsPanel.hidden = false;
    toolsHeading.textContent = `Tools of ${name}`;
    clear(toolsBody, h("p", { class: "loading" }, "Loading tools…"));
    toolsHeading.focus();
    try {
      const { tools } = await api(`/tools/servers/${encodeURIComponent(name)}/tools`);
      if (s.openTools !== name) return;
      clear(toolsBody, tools.length
        ? tools.map((tool) => toolForm(name, tool))
        : h("p", { class: "empty" }, `${name} offers no tools.`));
    } catch (error) {
      if (s.openTools === name) clear(toolsBody, errorBox(error));
    }
  }

  // -- the catalogue --------------------------------------------------------------------------
  function entryCard(entry) {
    const install = entry.installed
      ? h("span", { class: "badge completed" }, "installed")
      : h("button", { type: "button", class: "primary", "aria-label": `Install ${entry.name}`, onclick: () => startInstall(entry) }, "Install");
    return h("li", { class: "card entry", dataset: { entry: entry.name } },
      h("div", { class: "server-head" },
        h("h3", {}, entry.name),
        h("span", { class: "badge" }, entry.category),
        entry.official ? h("span", { class: "badge available" }, "official") : null),
      h("p", { class: "description" }, entry.description),
      h("p", { class: "hint meta" }, [entry.author, entry.version, entry.installation_method].filter(Boolean).join(" · ")),
      h("div", { class: "actions" }, install));
  }

  async function loadCatalog(append = false) {
    if (!append) s.page = 1;
    const page = await api("/tools/catalog", { query: { q: s.query, category: s.category, limit: CATALOG_PAGE, page: s.page } });
    if (!append) clear(catalog);
    if (!append && !page.entries.length) catalog.append(h("li", { class: "empty" }, "No server matches."));
    catalog.append(...page.entries.map(entryCard));
    more.hidden = !page.has_more;
  }

  async function loadCategories() {
    const { categories } = await api("/tools/categories");
    category.append(...categories.filter((c) => c.server_count > 0).map((c) =>
      h("option", { value: c.name }, `${c.display_name} (${c.server_count})`)));
  }

  function startInstall(entry) {
    const form = schemaForm(entry.configuration_schema, { prefix: "cfg", secrets: entry.secret_fields });
    if (form.empty) {
      install(entry, {}).catch((error) => toast(sentence(error), "error"));
      return;
    }
    openDialog(`Install ${entry.name}`, form.elements, "Install", () => install(entry, form.read()));
  }

  async function install(entry, configuration) {
    const server = await api("/tools/servers", { method: "POST", body: { name: entry.name, configuration } });
    if (!s.progress.has(server.name)) s.progress.set(server.name, { progress: 0, step: "Queued", state: "installing", remaining_s: server.expected_install_s });
    drawServer(server);
    const card = catalog.querySelector(`li[data-entry="${CSS.escape(entry.name)}"]`);
    if (card) card.replaceWith(entryCard({ ...entry, installed: true }));
    toast(`Installing ${entry.name}…`);
  }

  search.addEventListener("input", debounce(() => {
    s.query = search.value.trim();
    loadCatalog().catch((error) => clear(catalog, h("li", {}, errorBox(error))));
  }));
  category.addEventListener("change", () => {
    s.category = category.value;
    loadCatalog().catch((error) => clear(catalog, h("li", {}, errorBox(error))));
  });
  more.addEventListener("click", () => {
    s.page += 1;
    loadCatalog(true).catch((error) => toast(sentence(error), "error"));
  });

  // -- import ---------------------------------------------------------------------------------
  importFile.addEventListener("change", async () => {
    const file = importFile.files[0];
    if (!file) return;
    try {
      importText.value = await file.text();
      clear(importResult, h("p", { class: "hint" }, `${file.name} loaded: check it, then Import.`));
    } catch (error) {
      clear(importResult, errorBox(new Error(`${file.name} could not be read.`)));
    }
  });

  importForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    let configuration;
    try {
      configuration = JSON.parse(importText.value);
    } catch {
      clear(importResult, errorBox(new Error("This is not valid JSON: paste the whole mcp.json file.")));
      return;
    }
    importButton.disabled = true;
    clear(importResult);
    try {
      const answer = await api("/tools/import", { method: "POST", body: { configuration } });
      for (const server of answer.servers) drawServer(server);
      clear(importResult,
        h("p", { class: "ok" }, answer.message),
        h("ul", { class: "imported" }, answer.servers.map((server) =>
          h("li", { dataset: { server: server.name } }, h("strong", {}, server.name), " ",
            h("span", { class: `badge ${server.status}` }, server.status), " ",
            h("span", { class: "hint" }, server.configuration.command
              ? [server.configuration.command, ...(server.configuration.args || [])].join(" ")
              : server.configuration.url || "")))));
      importText.value = "";
      importFile.value = "";
    } catch (error) {
      clear(importResult, errorBox(error));
    } finally {
      importButton.disabled = false;
    }
  });

  // -- live events ----------------------------------------------------------------------------
  function onEvent(topic, payload) {
    const name = payload.server_name;
    if (!name) return;
    if (topic === "mcp.installation_progress") {
      s.progress.set(name, payload);
      const card = serverList.querySelector(`li[data-server="${CSS.escape(name)}"]`);
      const line = card?.querySelector(".progress-line");
      if (line) line.replaceWith(progressLine(name));
      else if (s.servers.has(name)) drawServer(s.servers.get(name));
      // the finished installation's status, tools and error come from the server
      if (payload.state !== "installing") reloadServers();
    } else if (topic === "mcp.server_status") {
      if (payload.status === "uninstalled") {
        if (s.servers.has(name)) removeServer(name);
        return;
      }
      const server = s.servers.get(name);
      if (!server) { reloadServers(); return; }
      const status = payload.status;
      drawServer({
        ...server,
        status,
        health: HEALTH[status] || "unknown",
        error: payload.error ?? (status === "running" ? null : server.error),
        last_health_check: payload.checked_at || server.last_health_check,
      });
      if (status === "running" && server.status !== "running") reloadServers(); // its tool count
      if (s.openTools === name && status !== "running") {
        clear(toolsBody, errorBox(new Error(`${name} is ${status}: its tools come back when it runs again.`)));
      }
    }
  }
  const close = subscribe(["mcp.*"], onEvent);

  // -- first draw -----------------------------------------------------------------------------
  const results = await Promise.allSettled([loadServers(), loadCatalog(), loadCategories()]);
  const [servers, entries] = results;
  if (servers.status === "rejected") clear(serverList, h("li", {}, errorBox(servers.reason)));
  if (entries.status === "rejected") clear(catalog, h("li", {}, errorBox(entries.reason)));
  if (results[2].status === "rejected") toast(sentence(results[2].reason), "error");
  if (ctx.params[0] && s.servers.has(ctx.params[0])) openTools(ctx.params[0]);

  return () => {
    close();
    if (dialog.open) dialog.close();
  };
}
