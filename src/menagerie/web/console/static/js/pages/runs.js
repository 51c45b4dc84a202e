// Runs: the caller's agent tasks (start one, stop one, read its steps and answer), their
// orchestrations step by step, and their sandboxes with a terminal into a workspace. Every
// change arrives live on the events stream; nothing here polls.
import { api } from "../api.js";
import { clear, errorBox, h, sentence, stylesheet, toast, when } from "../dom.js";

const TABS = [
  { id: "tasks", label: "Tasks" },
  { id: "orchestrations", label: "Orchestrations" },
  { id: "sandboxes", label: "Sandboxes" },
];
const TOPICS = ["task.*", "orchestration.*", "sandbox.status", "sandbox.terminal_output"];
const PAGE = 30;
const TERMINAL_CHARS = 200000; // what the output pane keeps, newest last
const PRIORITIES = ["low", "medium", "high", "critical"];
const ENDED = new Set(["completed", "failed", "stopped"]);

/** The events stream, with `onOpen` once the server holds the subscription: a terminal's
 *  first command waits for it, or its output could be published before anyone listens. */
function listen(topics, onEvent, onOpen, onDrop) {
  const target = new URL("/console/api/events", location.origin);
  target.searchParams.set("topics", topics.join(","));
  const source = new EventSource(target);
  source.onopen = onOpen;
  source.onerror = onDrop;
  source.onmessage = (message) => {
    let event;
    try { event = JSON.parse(message.data); } catch { return; }
    onEvent(event.topic, event.payload);
  };
  return () => source.close();
}

/** What the events said last about each task, orchestration and sandbox, numbered as heard:
 *  an answer to a read sent before an event must not undo what the event said. */
class Heard {
  constructor() { this.count = 0; this.last = new Map(); }
  note(id, change) { this.last.set(id, { n: ++this.count, change }); }
  mark() { return this.count; }
  /** `item` with what was heard of it after `mark` laid over it. */
  over(item, mark) {
    const last = this.last.get(item.id);
    return last && last.n > mark ? { ...item, ...last.change } : item;
  }
}

/** Redraw inside `container` keeping the keyboard's place: events redraw rows while someone
 *  tabs through them, and the same control of the same row gets the focus back. */
function keepingFocus(container, redraw) {
  const active = document.activeElement;
  const inside = active && active !== container && container.contains(active);
  const row = inside ? active.closest("li[data-id]") : null;
  const key = inside ? active.dataset.action || active.getAttribute("aria-label") : null;
  redraw();
  if (!inside) return;
  const scope = row ? container.querySelector(`li[data-id="${CSS.escape(row.dataset.id)}"]`) : container;
  if (!scope) return;
  const controls = [...scope.querySelectorAll("button")];
  (controls.find((b) => (b.dataset.action || b.getAttribute("aria-label")) === key) || controls[0])?.focus();
}

/** The keys of the folded parts a reader opened: a redraw leaves them open. */
function openedDetails(container) {
  return new Set([...container.querySelectorAll("details[open][data-key]")].map((d) => d.dataset.key));
}

/** A row's button while its request is on the way: marked busy rather than disabled, since
 *  a disabled button drops the keyboard's focus. False when it was busy already. */
function busy(button, on = true) {
  if (on && button.getAttribute("aria-disabled") === "true") return false;
  if (on) button.setAttribute("aria-disabled", "true");
  else button.removeAttribute("aria-disabled");
  return true;
}

const path = (...parts) => "/" + parts.map(encodeURIComponent).join("/");
const badge = (status, label) => h("span", { class: `badge ${status}` }, label || status);
const seconds = (value) => (value === null || value === undefined ? "" : `${Number(value).toFixed(value < 10 ? 2 : 0)} s`);

function field(label, value) {
  if (value === null || value === undefined || value === "") return null;
  return [h("dt", {}, label), h("dd", {}, String(value))];
}

function meter(value, label) {
  return h("div", { class: "runs-meter" },
    h("progress", { max: "100", value: String(Math.round(value || 0)), "aria-label": label }),
    h("span", { class: "runs-percent" }, `${Math.round(value || 0)}%`));
}

export async function mount(root, ctx) {
  stylesheet("runs");
  const me = ctx.user.user.id;
  const heard = new Heard();
  const s = {
    tab: TABS.some((t) => t.id === ctx.params[0]) ? ctx.params[0] : "tasks",
    tasks: new Map(), taskOrder: [], taskTotal: 0, task: null,
    orchestrations: new Map(), orchestration: null,
    sandboxes: new Map(), sandboxReads: 0, taskReads: 0, orchestrationReads: 0, templates: [],
    terminal: null, // {sandbox id, session id}
    live: false, opened: false,
  };

  // -- the frame: tabs, a live indicator, three panels ---------------------------------------
  const liveNote = h("span", { class: "runs-live", role: "status" }, "Connecting…");
  const tabList = h("div", { class: "runs-tabs", role: "tablist", "aria-label": "Runs" });
  const panels = {};
  const tabButtons = {};
  for (const tab of TABS) {
    tabButtons[tab.id] = h("button", { type: "button", role: "tab", id: `runs-tab-${tab.id}`, "aria-controls": `runs-${tab.id}`, onclick: () => select(tab.id) }, tab.label);
    panels[tab.id] = h("div", { class: "runs-panel", role: "tabpanel", id: `runs-${tab.id}`, "aria-labelledby": `runs-tab-${tab.id}` });
    tabList.append(tabButtons[tab.id]);
  }
  tabList.addEventListener("keydown", (event) => {
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const index = (TABS.findIndex((t) => t.id === s.tab) + step + TABS.length) % TABS.length;
    select(TABS[index].id);
    tabButtons[TABS[index].id].focus();
  });
  clear(root, h("div", { class: "runs-head" }, h("h1", {}, "Runs"), liveNote), tabList, ...Object.values(panels));

  function select(tab, id) {
    s.tab = tab;
    for (const t of TABS) {
      const on = t.id === tab;
      tabButtons[t.id].setAttribute("aria-selected", String(on));
      tabButtons[t.id].tabIndex = on ? 0 : -1;
      panels[t.id].hidden = !on;
    }
    if (id) ctx.replace("runs", tab, id);
    else ctx.replace("runs", tab);
  }

  // -- tasks ----------------------------------------------------------------------------------
  const prompt = h("textarea", { id: "task-prompt", rows: "3", required: true, maxlength: "20000", placeholder: "What should the agent do? The first line is the task's title." });
  const agentPicker = h("select", { id: "task-agent" });
  const priorityPicker = h("select", { id: "task-priority" },
    PRIORITIES.map((p) => h("option", { value: p, selected: p === "medium" }, p)));
  // enabled once the agents are known: a task is never sent without one
  const startButton = h("button", { type: "submit", class: "primary", id: "task-start", disabled: true }, "Start task");
  const taskForm = h("form", { class: "card fields runs-new", "aria-label": "Start a task" },
    h("label", { for: "task-prompt" }, "New task"), prompt,
    h("div", { class: "runs-row" },
      h("label", { for: "task-agent" }, "Agent"), agentPicker,
      h("label", { for: "task-priority" }, "Priority"), priorityPicker,
      startButton));
  const taskList = h("ul", { class: "runs-list", id: "tasks", "aria-label": "Tasks" });
  const moreTasks = h("button", { type: "button", class: "ghost", hidden: true }, "More tasks");
  const taskDetail = h("section", { class: "card runs-detail", id: "task-detail", "aria-label": "Task", hidden: true });
  clear(panels.tasks, taskForm,
    h("div", { class: "runs-split" }, h("div", { class: "runs-column" }, taskList, moreTasks), taskDetail));

  function taskButtons(task, detail) {
    const buttons = [];
    if (task.status === "running") {
      buttons.push(h("button", { type: "button", class: "danger", dataset: { action: "stop" }, "aria-label": `Stop ${task.title}`, onclick: (e) => stopTask(task.id, e.currentTarget) }, "Stop"));
    } else if (task.status === "stopped" || task.status === "failed") {
      buttons.push(h("button", { type: "button", dataset: { action: "again" }, "aria-label": `Run ${task.title} again`, onclick: (e) => restartTask(task.id, e.currentTarget) }, "Run again"));
    }
    if (!detail) {
      buttons.unshift(h("button", { type: "button", class: "ghost", dataset: { action: "open" }, "aria-label": `Details of ${task.title}`, onclick: () => openTask(task.id) }, "Details"));
    }
    return h("div", { class: "runs-actions" }, buttons);
  }

  function taskItem(task) {
    return h("li", { class: "runs-item", dataset: { id: task.id, status: task.status }, "aria-current": s.task === task.id ? "true" : false },
      h("div", { class: "runs-title" },
        h("span", { class: "runs-name" }, task.title),
        h("span", { class: "runs-meta" }, [task.agent, task.priority, when(task.created_at)].filter(Boolean).join(" · "))),
      badge(task.status), meter(task.progress, `Progress of ${task.title}`),
      task.error ? h("p", { class: "error runs-error" }, task.error) : null,
      taskButtons(task, false));
  }

  function drawTasks() {
    keepingFocus(taskList, () => clear(taskList, s.taskOrder.length
      ? s.taskOrder.map((id) => taskItem(s.tasks.get(id)))
      : h("li", { class: "empty" }, "No tasks yet. Start one above.")));
    moreTasks.hidden = s.taskOrder.length >= s.taskTotal;
  }

  function keepTask(task, first = false, mark = heard.mark()) {
    const known = s.tasks.get(task.id);
    s.tasks.set(task.id, heard.over({ ...known, ...task }, mark));
    if (!known) {
      if (first) s.taskOrder.unshift(task.id);
      else s.taskOrder.push(task.id);
      s.taskTotal += first ? 1 : 0;
    }
  }

  function paintTask(id) {
    const task = s.tasks.get(id);
    const item = taskList.querySelector(`li[data-id="${CSS.escape(id)}"]`);
    if (item) keepingFocus(taskList, () => item.replaceWith(taskItem(task)));
    else drawTasks();
  }

  async function loadTasks(reset = true) {
    const mark = heard.mark();
    const page = await api("/tasks", { query: { limit: PAGE, offset: reset ? 0 : s.taskOrder.length } });
    if (reset) { s.tasks.clear(); s.taskOrder = []; }
    for (const task of page.tasks) keepTask(task, false, mark);
    s.taskTotal = page.total;
    drawTasks();
  }

  moreTasks.addEventListener("click", () => loadTasks(false).catch((error) => toast(sentence(error), "error")));

  taskForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = prompt.value.trim();
    if (!text) { prompt.focus(); return; }
    startButton.disabled = true;
    const mark = heard.mark();
    try {
      const task = await api("/tasks", { method: "POST", body: { prompt: text, agent: agentPicker.value, priority: priorityPicker.value } });
      prompt.value = "";
      keepTask(task, true, mark);
      paintTask(task.id);
      toast(`Task “${task.title}” started.`);
    } catch (error) {
      toast(sentence(error), "error");
    } finally {
      startButton.disabled = false;
      prompt.focus(); // the button lost the focus while disabled: ready for the next task
    }
  });

  async function stopTask(id, button) {
    if (!busy(button)) return;
    const mark = heard.mark();
    try {
      const task = await api(path("tasks", id, "stop"), { method: "POST" });
      keepTask(task, false, mark);
      paintTask(id);
      if (s.task === id) await openTask(id);
    } catch (error) {
      busy(button, false);
      toast(sentence(error), "error");
    }
  }

  async function restartTask(id, button) {
    if (!busy(button)) return;
    const mark = heard.mark();
    try {
      keepTask(await api(path("tasks", id, "start"), { method: "POST" }), false, mark);
      paintTask(id);
      if (s.task === id) await openTask(id);
    } catch (error) {
      busy(button, false);
      toast(sentence(error), "error");
    }
  }

  function drawTaskDetail(task) {
    const run = task.run;
    const steps = run && run.steps.length
      ? h("ol", { class: "runs-steps" }, run.steps.map((step) => h("li", {},
        badge(step.status), " ", h("span", { class: "runs-name" }, step.name), " ",
        h("span", { class: "runs-meta" }, seconds(step.duration_s)),
        step.detail ? h("p", { class: "runs-meta" }, step.detail) : null)))
      : h("p", { class: "hint" }, "No steps logged yet.");
    const unfolded = task.id === taskDetail.dataset.id ? openedDetails(taskDetail) : new Set();
    taskDetail.dataset.id = task.id;
    const tools = task.tool_calls.map((call, index) => h("details", { class: call.is_error ? "failed" : "", open: unfolded.has(`tool-${index}`), dataset: { key: `tool-${index}` } },
      h("summary", {}, `Tool ${call.name}${call.is_error ? " failed" : ""}`),
      h("pre", {}, JSON.stringify(call.arguments, null, 2)),
      call.output !== null ? h("pre", {}, call.output) : null));
    clear(taskDetail,
      h("div", { class: "runs-detail-head" },
        h("h2", {}, task.title),
        h("button", { type: "button", class: "ghost", "aria-label": "Close the task's details", onclick: closeTask }, "×")),
      h("div", { class: "runs-detail-status" }, badge(task.status), meter(task.progress, "Task progress")),
      task.error ? h("p", { class: "error" }, task.error) : null,
      taskButtons(task, true),
      h("dl", { class: "runs-facts" },
        field("Agent", task.agent), field("Priority", task.priority), field("Model", task.model),
        field("Created", when(task.created_at)), field("Started", when(task.started_at)),
        field("Ended", when(task.completed_at))),
      h("h3", {}, "Prompt"), h("pre", { class: "runs-prompt" }, [task.title, task.description].filter(Boolean).join("\n\n")),
      task.response !== null ? [h("h3", {}, "Answer"), h("pre", { class: "runs-answer" }, task.response)] : null,
      tools.length ? [h("h3", {}, "Tool calls"), tools] : null,
      h("h3", {}, "Run"),
      run ? h("p", { class: "runs-meta" }, badge(run.status), ` attempt ${run.attempt} of ${run.max_attempts}`) : h("p", { class: "hint" }, "Not run yet."),
      steps);
  }

  async function openTask(id) {
    const reading = ++s.taskReads; // only the latest read is drawn
    const mark = heard.mark();
    s.task = id;
    taskDetail.hidden = false;
    select("tasks", id);
    for (const item of taskList.querySelectorAll("li[data-id]")) {
      item.setAttribute("aria-current", String(item.dataset.id === id));
    }
    try {
      const task = heard.over(await api(path("tasks", id)), mark);
      if (s.task !== id || reading !== s.taskReads) return;
      keepTask(task, false, mark);
      keepingFocus(taskDetail, () => drawTaskDetail(task));
    } catch (error) {
      if (s.task === id) clear(taskDetail, errorBox(error));
    }
  }

  function closeTask() {
    s.task = null;
    taskDetail.hidden = true;
    select("tasks");
    drawTasks();
  }

  function onTask(payload) {
    if (payload.user_id !== me) return; // an admin hears the tenant's; this page shows the caller's
    const known = s.tasks.get(payload.task_id);
    const changed = !known || known.status !== payload.status;
    const change = { status: payload.status, progress: payload.progress, error: payload.error, updated_at: payload.updated_at };
    heard.note(payload.task_id, change);
    keepTask({ id: payload.task_id, title: payload.title, ...change, ...(known ? {} : { created_at: payload.updated_at }) }, true);
    paintTask(payload.task_id);
    if (s.task === payload.task_id) {
      if (changed) openTask(payload.task_id);
      else {
        const bar = taskDetail.querySelector(".runs-detail-status");
        if (bar) clear(bar, badge(payload.status), meter(payload.progress, "Task progress"));
      }
    }
  }

  // -- orchestrations -------------------------------------------------------------------------
  const orchList = h("ul", { class: "runs-list", id: "orchestrations", "aria-label": "Orchestrations" });
  const orchDetail = h("section", { class: "card runs-detail", id: "orchestration-detail", "aria-label": "Orchestration", hidden: true });
  clear(panels.orchestrations,
    h("p", { class: "hint" }, "Orchestrations run steps of tools as one run; they are started through the agents and the heavy-orchestration API."),
    h("div", { class: "runs-split" }, h("div", { class: "runs-column" }, orchList), orchDetail));

  function orchItem(o) {
    const label = `Orchestration of ${o.steps.length} step${o.steps.length === 1 ? "" : "s"}`;
    return h("li", { class: "runs-item", dataset: { id: o.id, status: o.status }, "aria-current": s.orchestration === o.id ? "true" : false },
      h("div", { class: "runs-title" },
        h("span", { class: "runs-name" }, o.steps.map((step) => step.name).join(" → ") || label),
        h("span", { class: "runs-meta" }, `${label}${o.parallel ? ", in parallel" : ""} · ${when(o.created_at)}`)),
      badge(o.status), meter(o.progress, `Progress of ${label}`),
      h("div", { class: "runs-actions" }, h("button", { type: "button", class: "ghost", "aria-label": `Details of the orchestration ${o.id}`, onclick: () => openOrchestration(o.id) }, "Details")));
  }

  function drawOrchestrations() {
    const all = [...s.orchestrations.values()].sort((a, b) => (b.created_at || "").localeCompare(a.created_at || ""));
    keepingFocus(orchList, () => clear(orchList, all.length ? all.map(orchItem) : h("li", { class: "empty" }, "No orchestrations yet.")));
  }

  function drawOrchDetail(o) {
    const running = o.status === "pending" || o.status === "running";
    const unfolded = o.id === orchDetail.dataset.id ? openedDetails(orchDetail) : new Set();
    orchDetail.dataset.id = o.id;
    clear(orchDetail,
      h("div", { class: "runs-detail-head" },
        h("h2", {}, o.steps.map((step) => step.name).join(" → ") || "Orchestration"),
        h("button", { type: "button", class: "ghost", "aria-label": "Close the orchestration's details", onclick: () => { s.orchestration = null; orchDetail.hidden = true; select("orchestrations"); drawOrchestrations(); } }, "×")),
      h("div", { class: "runs-detail-status" }, badge(o.status), meter(o.progress, "Orchestration progress")),
      o.error ? h("p", { class: "error" }, o.error) : null,
      h("p", { class: "runs-meta" }, `${o.id}${o.parallel ? " · steps in parallel" : ""} · ${when(o.created_at)}`),
      running && typeof o.estimated_time_remaining === "number" ? h("p", { class: "runs-meta" }, `About ${seconds(o.estimated_time_remaining)} left`) : null,
      h("ol", { class: "runs-steps numbered", id: "orchestration-steps" }, o.steps.map((step) => h("li", { dataset: { number: String(step.number) } },
        h("div", { class: "runs-step-head" }, badge(step.status), h("span", { class: "runs-name" }, `${step.number}. ${step.name}`),
          h("span", { class: "runs-meta" }, seconds(step.duration_s))),
        meter(step.progress, `Progress of step ${step.number}`),
        step.error ? h("p", { class: "error" }, step.error) : null,
        step.result !== null && step.result !== undefined ? h("details", { open: unfolded.has(`result-${step.number}`), dataset: { key: `result-${step.number}` } }, h("summary", {}, "Result"), h("pre", {}, JSON.stringify(step.result, null, 2))) : null))));
  }

  async function openOrchestration(id) {
    const reading = ++s.orchestrationReads;
    const mark = heard.mark();
    s.orchestration = id;
    orchDetail.hidden = false;
    select("orchestrations", id);
    try {
      const read = await api(path("orchestrations", id));
      if (s.orchestration !== id || reading !== s.orchestrationReads) return;
      const o = heard.over(read, mark);
      if (o !== read) o.steps = o.steps.map((step) => ({ ...step, result: read.steps.find((r) => r.number === step.number)?.result }));
      s.orchestrations.set(id, o);
      drawOrchestrations();
      keepingFocus(orchDetail, () => drawOrchDetail(o));
    } catch (error) {
      if (s.orchestration === id) clear(orchDetail, errorBox(error));
    }
  }

  async function loadOrchestrations() {
    const mark = heard.mark();
    const page = await api("/orchestrations", { query: { limit: PAGE } });
    s.orchestrations = new Map(page.orchestrations.map((o) => [o.id, heard.over(o, mark)]));
    drawOrchestrations();
  }

  function onOrchestration(payload) {
    if (payload.user_id !== me) return;
    const known = s.orchestrations.get(payload.orchestration_id);
    const change = { status: payload.status, progress: payload.progress, error: payload.error, steps: payload.steps };
    heard.note(payload.orchestration_id, change);
    const o = { ...(known || { id: payload.orchestration_id, parallel: false, created_at: payload.updated_at }), ...change, steps: payload.steps.map((step) => ({ ...step, result: known?.steps.find((k) => k.number === step.number)?.result })) };
    s.orchestrations.set(o.id, o);
    drawOrchestrations();
    // a step that ended has a result to show: read it again; otherwise draw what came
    if (s.orchestration === o.id) {
      const ended = payload.changed_step !== null && ["completed", "failed"].includes(payload.steps.find((step) => step.number === payload.changed_step)?.status);
      if (ended || payload.changed_step === null) openOrchestration(o.id);
      else keepingFocus(orchDetail, () => drawOrchDetail({ ...o, estimated_time_remaining: payload.estimated_time_remaining }));
    }
  }

  // -- sandboxes ------------------------------------------------------------------------------
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
  clear(panels.sandboxes, sandboxForm, h("div", { class: "runs-split" }, h("div", { class: "runs-column" }, sandboxList), terminal), confirmDialog);

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

  // -- live -----------------------------------------------------------------------------------
  function setLive(on) {
    s.live = on;
    liveNote.textContent = on ? "Live" : "Reconnecting…";
    liveNote.classList.toggle("on", on);
    root.dataset.live = String(on);
    readyTerminal();
  }

  const stopListening = listen(TOPICS, (topic, payload) => {
    if (topic.startsWith("task.")) onTask(payload);
    else if (topic.startsWith("orchestration.")) onOrchestration(payload);
    else if (topic === "sandbox.status") onSandbox(payload);
    else if (topic === "sandbox.terminal_output") onTerminal(payload);
  }, () => {
    // after a dropped connection, what changed meanwhile is read again
    if (s.opened) refresh();
    s.opened = true;
    setLive(true);
  }, () => setLive(false));

  async function refresh() {
    const results = await Promise.allSettled([loadTasks(), loadOrchestrations(), loadSandboxes()]);
    const failed = results.find((r) => r.status === "rejected");
    if (failed) toast(sentence(failed.reason), "error");
  }

  // -- first screen ---------------------------------------------------------------------------
  select(s.tab);
  for (const list of [taskList, orchList, sandboxList]) clear(list, h("li", { class: "hint" }, "Loading…"));
  const [agents, templates] = await Promise.allSettled([api("/agents"), api("/sandboxes/templates")]);
  if (agents.status === "fulfilled") {
    const names = agents.value.agents.map((a) => a.name);
    const chosen = names.includes("gary") ? "gary" : agents.value.default;
    clear(agentPicker, agents.value.agents.map((a) => h("option", { value: a.name, selected: a.name === chosen }, a.title)));
  } else {
    clear(agentPicker, h("option", { value: "gary" }, "gary"));
  }
  startButton.disabled = false;
  if (templates.status === "fulfilled") {
    s.templates = templates.value.templates;
    clear(templatePicker, s.templates.map((t) => h("option", { value: t.name, selected: t.name === templates.value.default }, t.title)));
  } else {
    clear(templatePicker, h("option", { value: "workspace" }, "Development workspace (shell)"));
  }
  createButton.disabled = false;
  const loads = await Promise.allSettled([loadTasks(), loadOrchestrations(), loadSandboxes()]);
  [[taskList, loads[0]], [orchList, loads[1]], [sandboxList, loads[2]]].forEach(([list, result]) => {
    if (result.status === "rejected") clear(list, h("li", {}, errorBox(result.reason)));
  });
  const [tab, id] = ctx.params;
  if (id && tab === "tasks") openTask(id);
  else if (id && tab === "orchestrations") openOrchestration(id);
  else if (id && tab === "sandboxes" && s.sandboxes.has(id)) openTerminal(id);
  setLive(s.live);

  return () => {
    stopListening();
    if (s.terminal) closeTerminal(false);
    if (confirmDialog.open) confirmDialog.close();
  };
}
