// The Runs page's Sandboxes tab: create, start, stop and delete sandboxes, and a terminal into
// a running one, its output heard on the events stream (`onStatus`, `onTerminal`).
import { api } from "../../api.js";
import { clear, h, sentence, toast, when } from "../../dom.js";
import { badge, busy, keepingFocus, meter, path } from "./widgets.js";

const TERMINAL_CHARS = 200000; // what the output pane keeps, newest last

/** Fill `panel` with the tab; `shared`: the page's state `s` (its `live` enables the terminal),
 *  `heard`, the caller `me` and `select(tab, id)`. Returns what the page frame wires up. */
export function sandboxesSection(panel, { s, heard, me, select }) {
  const sandboxName = h("input", { id: "sandbox-name", required: true, maxlength: "100", autocomplete: "off", placeholder: "my-workspace" });
  const templatePicker = h("select", { id: "sandbox-template" });
  const createButton = h("button", { type: "submit", class: "primary", id: "sandbox-create", disabled: true }, "Create");
  const sandboxForm = h("form", { class: "card runs-new", "aria-label": "Create a sandbox" },
    h("div", { class: "runs-row" },
      h("label", { for: "sandbox-name" }, "Name"), sandboxName,
      h("label", { for: "sandbox-template" }, "Template"), templatePicker, createButton));
  const sandboxList = h("ul", { class: "runs-list", id: "sandboxes", "aria-label": "Sandboxes" });
  const terminalTitle = h("h2", {}, "Terminal");
  const output = h("pre", { class: "runs-terminal-output", id: "terminal-output", tabindex: "0", role: "log", "aria-live": "polite", "aria-label": "Terminal output" });
  const commandInput = h("input", { id: "terminal-input", "aria-label": "Command", autocomplete: "off", spellcheck: "false", autocapitalize: "off", placeholder: "Type a command and press Enter" });
  const sendButton = h("button", { type: "submit", class: "primary" }, "Run");
  const terminalForm = h("form", { class: "runs-terminal-input" },
    h("label", { for: "terminal-input", "aria-hidden": "true" }, "$"), commandInput, sendButton);
  const terminal = h("section", { class: "card runs-terminal", id: "terminal", "aria-label": "Terminal", hidden: true },
    h("div", { class: "runs-detail-head" }, terminalTitle,
      h("button", { type: "button", class: "ghost", "aria-label": "Close the terminal", onclick: () => closeTerminal() }, "×")),
    output, terminalForm);
  const confirmText = h("p", {});
  const confirmDialog = h("dialog", { class: "runs-confirm", "aria-label": "Delete the sandbox" },
    h("form", { method: "dialog" }, confirmText,
      h("div", { class: "runs-actions" },
        h("button", { type: "submit", value: "cancel" }, "Cancel"),
        h("button", { type: "submit", value: "delete", class: "danger", id: "confirm-delete" }, "Delete"))));
  clear(panel, sandboxForm, h("div", { class: "runs-split" }, h("div", { class: "runs-column" }, sandboxList), terminal), confirmDialog);

  function sandboxItem(box) {
    const moving = box.status === "starting" || box.status === "stopping";
    const actions = [];
    if (box.terminal && box.status === "running") {
      actions.push(h("button", { type: "button", class: "primary", dataset: { action: "terminal" }, "aria-label": `Open a terminal in ${box.name}`, onclick: () => openTerminal(box.id) }, "Terminal"));
    }
    if (box.status === "running") actions.push(h("button", { type: "button", dataset: { action: "stop" }, "aria-label": `Stop ${box.name}`, onclick: (e) => sandboxAction(box.id, "stop", e.currentTarget) }, "Stop"));
    if (box.status === "stopped" || box.status === "pending") actions.push(h("button", { type: "button", dataset: { action: "start" }, "aria-label": `Start ${box.name}`, onclick: (e) => sandboxAction(box.id, "start", e.currentTarget) }, "Start"));
    actions.push(h("button", { type: "button", class: "danger", dataset: { action: "delete" }, "aria-label": `Delete ${box.name}`, onclick: () => deleteSandbox(box.id) }, "Delete"));
    return h("li", { class: "runs-item", dataset: { id: box.id, status: box.status } },
      h("div", { class: "runs-title" },
        h("span", { class: "runs-name" }, box.name),
        h("span", { class: "runs-meta" }, [box.template, box.kind === "sandbox" ? "allowed commands only" : "shell", when(box.created_at)].filter(Boolean).join(" · "))),
      badge(box.status),
      moving ? meter(box.progress, `${box.current_step || box.status} ${box.name}`) : null,
      moving && box.current_step ? h("span", { class: "runs-meta" }, box.current_step) : null,
      box.error ? h("p", { class: "error runs-error" }, box.error) : null,
      h("div", { class: "runs-actions" }, actions));
  }

  function drawSandboxes() {
    const all = [...s.sandboxes.values()].sort((a, b) => (b.created_at || "").localeCompare(a.created_at || ""));
    keepingFocus(sandboxList, () => clear(sandboxList, all.length ? all.map(sandboxItem) : h("li", { class: "empty" }, "No sandboxes yet. Create one above.")));
  }

  let creating = 0; // creations awaiting their answer: their events need no list read

  async function loadSandboxes() {
    const generation = ++s.sandboxReads; // answers that come back out of order are not drawn
    const mark = heard.mark();
    const page = await api("/sandboxes");
    if (generation !== s.sandboxReads) return;
    s.sandboxes = new Map(page.sandboxes.map((b) => heard.over(b, mark))
      .filter((b) => b.status !== "terminated" || !b.deleted).map((b) => [b.id, b]));
    drawSandboxes();
  }

  sandboxForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = sandboxName.value.trim();
    if (!name) { sandboxName.focus(); return; }
    createButton.disabled = true;
    const mark = heard.mark();
    creating += 1;
    try {
      // its status events may have come before the answer: what they said stands
      const box = heard.over(await api("/sandboxes", { method: "POST", body: { name, template: templatePicker.value } }), mark);
      if (!box.deleted) s.sandboxes.set(box.id, box);
      sandboxName.value = "";
      drawSandboxes();
    } catch (error) {
      toast(sentence(error), "error");
    } finally {
      creating -= 1;
      createButton.disabled = false;
      sandboxName.focus();
    }
  });

  async function sandboxAction(id, action, button) {
    if (!busy(button)) return;
    const mark = heard.mark();
    try {
      const box = heard.over(await api(path("sandboxes", id, action), { method: "POST" }), mark);
      if (!box.deleted) s.sandboxes.set(id, box);
      drawSandboxes();
    } catch (error) {
      busy(button, false);
      toast(sentence(error), "error");
    }
  }

  async function deleteSandbox(id) {
    const box = s.sandboxes.get(id);
    confirmText.textContent = `Delete “${box.name}”? Its files and anything running in it go with it.`;
    confirmDialog.returnValue = "";
    confirmDialog.showModal();
    const answer = await new Promise((resolve) => confirmDialog.addEventListener("close", () => resolve(confirmDialog.returnValue), { once: true }));
    if (answer !== "delete") return;
    try {
      await api(path("sandboxes", id), { method: "DELETE" });
      s.sandboxes.delete(id);
      if (s.terminal?.sandbox === id) closeTerminal(false);
      drawSandboxes();
      toast(`“${box.name}” deleted.`);
    } catch (error) {
      toast(sentence(error), "error");
    }
  }

  function onSandbox(payload) {
    if (payload.user_id !== me) return;
    // a sandbox is terminated when deleted (or reclaimed): either way it leaves the list
    const change = { status: payload.status, progress: payload.progress, current_step: payload.current_step, deleted: payload.status === "terminated" };
    heard.note(payload.sandbox_id, change);
    const known = s.sandboxes.get(payload.sandbox_id);
    if (!known) {
      // made elsewhere, or its creation's answer is still on the way (it reads what was heard)
      if (!change.deleted && !creating) loadSandboxes().catch(() => {});
      return;
    }
    if (change.deleted) s.sandboxes.delete(payload.sandbox_id);
    else s.sandboxes.set(known.id, { ...known, ...change });
    if (known.status === "starting" && payload.status === "stopped") {
      // a start that failed: its reason is on the sandbox, not in the event
      const mark = heard.mark();
      api(path("sandboxes", known.id)).then((box) => {
        if (!s.sandboxes.has(box.id)) return;
        s.sandboxes.set(box.id, heard.over(box, mark));
        drawSandboxes();
      }).catch(() => {});
    }
    drawSandboxes();
    if (s.terminal?.sandbox === payload.sandbox_id) readyTerminal();
  }

  // -- the terminal ---------------------------------------------------------------------------
  const history = [];
  let recalled = 0;

  function write(text, kind) {
    output.append(kind === "stdout" ? document.createTextNode(text) : h("span", { class: `runs-${kind}` }, text));
    // the oldest output goes once the pane holds too much: a long-running shell stays light
    while (output.textContent.length > TERMINAL_CHARS && output.firstChild) output.firstChild.remove();
    output.scrollTop = output.scrollHeight;
  }

  function readyTerminal() {
    const box = s.terminal && s.sandboxes.get(s.terminal.sandbox);
    const running = box && box.status === "running";
    commandInput.disabled = sendButton.disabled = !(running && s.live);
    terminal.dataset.ready = String(Boolean(running && s.live));
    if (box && !running) commandInput.placeholder = `The sandbox is ${box.status}: start it to use the terminal`;
    else if (!s.live) commandInput.placeholder = "Waiting for the live connection…";
    else commandInput.placeholder = "Type a command and press Enter";
  }

  function openTerminal(id) {
    const box = s.sandboxes.get(id);
    if (!box) return;
    if (s.terminal?.sandbox !== id) {
      closeTerminal(false);
      const random = crypto.getRandomValues(new Uint32Array(2)).join("");
      s.terminal = { sandbox: id, session: `console-${random}` };
      clear(output);
      write(`Terminal in ${box.name} (${box.working_directory}). A plain shell: no prompt, one command line at a time.\n`, "system");
    }
    terminalTitle.textContent = `Terminal · ${box.name}`;
    terminal.hidden = false;
    select("sandboxes", id);
    readyTerminal();
    commandInput.focus();
  }

  function closeTerminal(reroute = true) {
    const open = s.terminal;
    s.terminal = null;
    terminal.hidden = true;
    if (open) api(path("sandboxes", open.sandbox, "terminal", open.session), { method: "DELETE" }).catch(() => {});
    if (reroute) select("sandboxes");
  }

  terminalForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const open = s.terminal;
    const command = commandInput.value;
    if (!open || !command.trim()) return;
    history.push(command);
    recalled = history.length;
    commandInput.value = "";
    write(`$ ${command}\n`, "echo");
    try {
      await api(path("sandboxes", open.sandbox, "terminal"), { method: "POST", body: { session_id: open.session, command } });
    } catch (error) {
      write(`${sentence(error)}\n`, "stderr");
    }
  });

  commandInput.addEventListener("keydown", (event) => {
    if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
    event.preventDefault();
    recalled = Math.max(0, Math.min(history.length, recalled + (event.key === "ArrowUp" ? -1 : 1)));
    commandInput.value = history[recalled] || "";
  });

  function onTerminal(payload) {
    const open = s.terminal;
    if (!open || payload.sandbox_id !== open.sandbox || payload.session_id !== open.session) return;
    write(payload.output_type === "system" ? `${payload.output}\n` : payload.output, payload.output_type);
  }

  /** The templates' answer (a settled promise): the picker, then the create button. */
  function setTemplates(templates) {
    if (templates.status === "fulfilled") {
      s.templates = templates.value.templates;
      clear(templatePicker, s.templates.map((t) => h("option", { value: t.name, selected: t.name === templates.value.default }, t.title)));
    } else {
      clear(templatePicker, h("option", { value: "workspace" }, "Development workspace (shell)"));
    }
    createButton.disabled = false;
  }

  /** Open the terminal of a sandbox the list holds (from the address); false if it is not there. */
  function open(id) {
    if (!s.sandboxes.has(id)) return false;
    openTerminal(id);
    return true;
  }

  /** Let go of the terminal's session and the dialog when the page goes. */
  function dispose() {
    if (s.terminal) closeTerminal(false);
    if (confirmDialog.open) confirmDialog.close();
  }

  return { list: sandboxList, load: loadSandboxes, open, onStatus: onSandbox, onTerminal, ready: readyTerminal, setTemplates, dispose };
}
