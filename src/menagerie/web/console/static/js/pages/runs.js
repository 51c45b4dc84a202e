// Runs: the caller's agent tasks (start one, stop one, read its steps and answer), their
// orchestrations step by step, and their sandboxes with a terminal into a workspace. Every
// change arrives live on the events stream; nothing here polls.
//
// This module is the page's frame: the tabs, the live connection and the first screen. Each
// tab is its own module under runs/ (tasks, orchestrations, sandboxes with the terminal), the
// helpers they share are in runs/widgets.js.
import { api } from "../api.js";
import { clear, errorBox, h, sentence, stylesheet, toast } from "../dom.js";
import { orchestrationsSection } from "./runs/orchestrations.js";
import { sandboxesSection } from "./runs/sandboxes.js";
import { tasksSection } from "./runs/tasks.js";
import { Heard, listen } from "./runs/widgets.js";

const TABS = [
  { id: "tasks", label: "Tasks" },
  { id: "orchestrations", label: "Orchestrations" },
  { id: "sandboxes", label: "Sandboxes" },
];
const TOPICS = ["task.*", "orchestration.*", "sandbox.status", "sandbox.terminal_output"];

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

  // -- the tabs' contents, each from its module, sharing the state and what was heard ----------
  const shared = { s, heard, me, select };
  const tasks = tasksSection(panels.tasks, shared);
  const orchestrations = orchestrationsSection(panels.orchestrations, shared);
  const sandboxes = sandboxesSection(panels.sandboxes, shared);
  const sections = [tasks, orchestrations, sandboxes];

  // -- live -----------------------------------------------------------------------------------
  function setLive(on) {
    s.live = on;
    liveNote.textContent = on ? "Live" : "Reconnecting…";
    liveNote.classList.toggle("on", on);
    root.dataset.live = String(on);
    sandboxes.ready();
  }

  const stopListening = listen(TOPICS, (topic, payload) => {
    if (topic.startsWith("task.")) tasks.onEvent(payload);
    else if (topic.startsWith("orchestration.")) orchestrations.onEvent(payload);
    else if (topic === "sandbox.status") sandboxes.onStatus(payload);
    else if (topic === "sandbox.terminal_output") sandboxes.onTerminal(payload);
  }, () => {
    // after a dropped connection, what changed meanwhile is read again
    if (s.opened) refresh();
    s.opened = true;
    setLive(true);
  }, () => setLive(false));

  async function refresh() {
    const results = await Promise.allSettled(sections.map((section) => section.load()));
    const failed = results.find((r) => r.status === "rejected");
    if (failed) toast(sentence(failed.reason), "error");
  }

  // -- first screen ---------------------------------------------------------------------------
  select(s.tab);
  for (const section of sections) clear(section.list, h("li", { class: "hint" }, "Loading…"));
  const [agents, templates] = await Promise.allSettled([api("/agents"), api("/sandbox/templates")]);
  tasks.setAgents(agents);
  sandboxes.setTemplates(templates);
  const loads = await Promise.allSettled(sections.map((section) => section.load()));
  sections.forEach((section, index) => {
    if (loads[index].status === "rejected") clear(section.list, h("li", {}, errorBox(loads[index].reason)));
  });
  const [tab, id] = ctx.params;
  if (id && tab === "tasks") tasks.open(id);
  else if (id && tab === "orchestrations") orchestrations.open(id);
  else if (id && tab === "sandboxes") sandboxes.open(id);
  setLive(s.live);

  return () => {
    stopListening();
    sandboxes.dispose();
  };
}
