// The Runs page's Orchestrations tab: each orchestration step by step, with each ended
// step's result; every change arrives on the events stream (`onEvent`).
import { api } from "../../api.js";
import { clear, errorBox, h, when } from "../../dom.js";
import { PAGE, badge, keepingFocus, meter, openedDetails, path, seconds } from "./widgets.js";

/** Fill `panel` with the tab; `shared`: the page's state `s`, `heard`, the caller `me` and
 *  `select(tab, id)`. Returns what the page frame wires up. */
export function orchestrationsSection(panel, { s, heard, me, select }) {
  const orchList = h("ul", { class: "runs-list", id: "orchestrations", "aria-label": "Orchestrations" });
  const orchDetail = h("section", { class: "card runs-detail", id: "orchestration-detail", "aria-label": "Orchestration", hidden: true });
  clear(panel,
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

  return { list: orchList, load: loadOrchestrations, open: openOrchestration, onEvent: onOrchestration };
}
