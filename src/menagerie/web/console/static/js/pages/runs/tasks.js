// The Runs page's Tasks tab: start a task, stop one or run it again, and read its steps,
// tool calls and answer; every change arrives on the events stream (`onEvent`).
import { api } from "../../api.js";
import { clear, errorBox, h, sentence, toast, when } from "../../dom.js";
import { PAGE, badge, busy, field, keepingFocus, meter, openedDetails, path, seconds } from "./widgets.js";

const PRIORITIES = ["low", "medium", "high", "critical"];

/** Fill `panel` with the tab; `shared`: the page's state `s`, `heard`, the caller `me` and
 *  `select(tab, id)`. Returns what the page frame wires up. */
export function tasksSection(panel, { s, heard, me, select }) {
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
  clear(panel, taskForm,
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

  /** The agents' answer (a settled promise): the picker, then the start button. */
  function setAgents(agents) {
    if (agents.status === "fulfilled") {
      const names = agents.value.agents.map((a) => a.name);
      const chosen = names.includes("gary") ? "gary" : agents.value.default;
      clear(agentPicker, agents.value.agents.map((a) => h("option", { value: a.name, selected: a.name === chosen }, a.title)));
    } else {
      clear(agentPicker, h("option", { value: "gary" }, "gary"));
    }
    startButton.disabled = false;
  }

  return { list: taskList, load: loadTasks, open: openTask, onEvent: onTask, setAgents };
}
