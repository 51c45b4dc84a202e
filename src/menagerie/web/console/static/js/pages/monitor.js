// Monitoring (admins): the server's health and each component's, the machine's CPU, memory
// and disk, requests per minute and latency, the active alerts (live from the event bus), and
// the request and error logs, filtered and paged newest first.
import { api, subscribe } from "../api.js";
import { clear, debounce, errorBox, h, sentence, stylesheet, toast } from "../dom.js";

const PAGE = 50;
const FIGURES_EVERY_MS = 10_000;

/** A log's time: the time of day with seconds, and the date when it is not today. */
function stamp(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const time = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  return date.toDateString() === new Date().toDateString()
    ? time
    : `${date.toLocaleDateString([], { month: "short", day: "numeric" })} ${time}`;
}

function timeEl(iso) {
  return h("time", { datetime: iso, title: iso }, stamp(iso));
}

function ms(value) {
  if (value === null || value === undefined) return "–";
  return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value.toFixed(value < 10 ? 1 : 0)} ms`;
}

function label(name) {
  return name.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
}

function badge(status) {
  return h("span", { class: `badge ${status}` }, status.replace(/_/g, " "));
}

function card(id, title, ...rest) {
  const heading = h("h3", { id: `${id}-title` }, title);
  return h("section", { class: "card monitor-card", id, "aria-labelledby": `${id}-title` }, heading, ...rest);
}

export async function mount(root, ctx) {
  stylesheet("monitor");
  const controller = new AbortController();
  const signal = controller.signal;
  const s = { requestOffset: 0, errorOffset: 0, alertIds: null, requestsAsked: 0, errorsAsked: 0 };

  // -- the page's frame -----------------------------------------------------------------------
  const overall = h("span", { class: "badge", id: "overall" }, "checking…");
  const checked = h("span", { class: "hint" });
  const refresh = h("button", { type: "button", id: "monitor-refresh" }, "Refresh");
  const header = h("div", { class: "monitor-head" },
    h("h2", {}, "Monitoring"), h("span", { class: "overall", "aria-live": "polite" }, "Server ", overall), checked, refresh);

  const components = h("ul", { class: "components", id: "components", "aria-label": "Components" },
    h("li", { class: "loading" }, "Checking…"));
  const healthCard = card("health", "Health", components);

  const system = h("div", { class: "figures", id: "system" }, h("p", { class: "loading" }, "Reading…"));
  const systemCard = card("system-card", "System", system);

  const traffic = h("div", { class: "figures", id: "traffic" }, h("p", { class: "loading" }, "Reading…"));
  const trafficCard = card("traffic-card", "Requests", traffic);

  const alertList = h("ul", { class: "alerts", id: "alerts", "aria-live": "polite", "aria-label": "Active alerts" },
    h("li", { class: "loading" }, "Reading…"));
  const alertsCard = card("alerts-card", "Active alerts", alertList);

  const statusFilter = h("select", { id: "request-status", "aria-label": "Status" },
    h("option", { value: "" }, "Any status"),
    ["2xx", "3xx", "4xx", "5xx"].map((c) => h("option", { value: c }, c)));
  const pathFilter = h("input", { type: "search", id: "request-path", placeholder: "Path contains…", "aria-label": "Path contains", maxlength: "200" });
  const requestsReload = h("button", { type: "button", id: "requests-reload" }, "Reload");
  const requestRows = h("tbody", { id: "request-rows" });
  const requestTable = h("div", { class: "table-scroll" },
    h("table", { class: "log", id: "request-log" },
      h("caption", { class: "visually-hidden" }, "Requests, newest first"),
      h("thead", {}, h("tr", {}, ["Time", "Method", "Path", "Status", "Duration"].map((t) => h("th", { scope: "col" }, t)))),
      requestRows));
  const requestNewer = h("button", { type: "button", class: "ghost", id: "requests-newer", disabled: true }, "← Newer");
  const requestOlder = h("button", { type: "button", class: "ghost", id: "requests-older", disabled: true }, "Older →");
  const requestPlace = h("span", { class: "hint", id: "requests-place" });
  const requestProblem = h("div");
  const requestsCard = card("requests-card", "Request log",
    h("div", { class: "toolbar" }, statusFilter, pathFilter, requestsReload),
    requestProblem, requestTable, h("div", { class: "pager" }, requestNewer, requestPlace, requestOlder));

  const levelFilter = h("select", { id: "error-level", "aria-label": "Level" },
    h("option", { value: "" }, "Any level"),
    ["warning", "error", "critical"].map((l) => h("option", { value: l }, label(l))));
  const errorsReload = h("button", { type: "button", id: "errors-reload" }, "Reload");
  const errorList = h("ol", { class: "error-log", id: "error-log", "aria-label": "Warnings and errors, newest first" });
  const errorNewer = h("button", { type: "button", class: "ghost", id: "errors-newer", disabled: true }, "← Newer");
  const errorOlder = h("button", { type: "button", class: "ghost", id: "errors-older", disabled: true }, "Older →");
  const errorProblem = h("div");
  const errorsCard = card("errors-card", "Error log",
    h("div", { class: "toolbar" }, levelFilter, errorsReload),
    errorProblem, errorList, h("div", { class: "pager" }, errorNewer, errorOlder));

  clear(root, header, h("div", { class: "monitor-grid" }, healthCard, alertsCard, systemCard, trafficCard), requestsCard, errorsCard);

  // a failure shows where it happened, as a sentence; leaving the page is not a failure
  function failed(where, error) {
    if (error && error.name === "AbortError") return;
    clear(where, where.tagName === "UL" || where.tagName === "OL" ? h("li", {}, errorBox(error)) : errorBox(error));
  }

  // -- health -------------------------------------------------------------------------------
  function component(c) {
    const facts = Object.entries(c.details);
    return h("li", { class: "component", dataset: { name: c.name, status: c.status } },
      h("div", { class: "component-head" },
        h("span", { class: "name" }, label(c.name)), badge(c.status),
        c.kind === "model" ? h("span", { class: "hint" }, "model provider") : null),
      c.latency_ms !== null ? h("span", { class: "hint" }, `${c.kind === "model" ? "calls take" : "answered in"} ${ms(c.latency_ms)}`) : null,
      c.error ? h("p", { class: "error" }, c.error) : null,
      facts.length ? h("details", {}, h("summary", {}, "Details"),
        h("dl", {}, facts.map(([k, v]) => [h("dt", {}, label(k)), h("dd", {}, v)]))) : null);
  }

  async function loadHealth() {
    try {
      const report = await api("/monitor/health", { signal });
      overall.className = `badge ${report.status}`;
      overall.textContent = report.status;
      clear(checked, `checked ${stamp(report.checked_at)} · version ${report.version}`);
      clear(components, report.components.map(component));
    } catch (error) {
      overall.className = "badge unavailable";
      overall.textContent = "unknown";
      failed(components, error);
    }
  }

  // -- figures ------------------------------------------------------------------------------
  function meter(id, name, percent, detail) {
    return h("div", { class: "meter", id },
      h("div", { class: "meter-head" }, h("span", {}, name), h("strong", {}, `${percent.toFixed(1)}%`)),
      h("progress", { max: "100", value: String(Math.min(100, percent)), "aria-label": `${name} ${percent.toFixed(1)} percent` }),
      detail ? h("span", { class: "hint" }, detail) : null);
  }

  function gb(mb) {
    return mb >= 1024 ? `${(mb / 1024).toFixed(1)} GB` : `${mb} MB`;
  }

  function bars(counts) {
    const top = Math.max(1, ...counts);
    const text = `Requests in each of the last ${counts.length} minutes, oldest first: ${counts.join(", ")}`;
    return h("div", { class: "bars", role: "img", "aria-label": text, title: text },
      counts.map((n) => {
        const bar = h("span");
        bar.style.height = `${Math.max(2, Math.round((n / top) * 100))}%`; // CSSOM: no inline style attribute
        return bar;
      }));
  }

  function stat(name, value) {
    return h("div", { class: "stat" }, h("span", { class: "hint" }, name), h("strong", {}, value));
  }

  async function loadFigures() {
    try {
      const { system: u, requests: r } = await api("/monitor/overview", { signal });
      clear(system,
        meter("cpu", "CPU", u.cpu_percent, `load ${u.load_average.join(" · ")}`),
        meter("memory", "Memory", u.memory_percent, `${gb(u.memory_used_mb)} of ${gb(u.memory_total_mb)}`),
        meter("disk", "Disk", u.disk_percent, `${gb(u.disk_used_mb)} of ${gb(u.disk_total_mb)}`));
      clear(traffic,
        h("div", { class: "stats" },
          stat("Per minute", String(r.requests_per_minute)),
          stat("Total", String(r.total)),
          stat("Server errors", `${r.errors} (${(r.error_rate * 100).toFixed(1)}%)`),
          stat("Average", ms(r.avg_ms)),
          stat("p50", r.window_requests ? ms(r.p50_ms) : "–"),
          stat("p95", r.window_requests ? ms(r.p95_ms) : "–"),
          stat("p99", r.window_requests ? ms(r.p99_ms) : "–")),
        bars(r.per_minute),
        h("p", { class: "hint" }, `Percentiles of the ${r.window_requests} requests of the last five minutes.`));
    } catch (error) {
      failed(system, error);
      failed(traffic, error);
    }
  }

  // -- alerts -------------------------------------------------------------------------------
  function alertItem(alert) {
    const ack = h("button", { type: "button", "aria-label": `Acknowledge: ${alert.message}` }, "Acknowledge");
    ack.addEventListener("click", async () => {
      ack.disabled = true;
      try {
        await api(`/monitor/alerts/${encodeURIComponent(alert.id)}/acknowledge`, { method: "POST", signal });
        await loadAlerts();
      } catch (error) {
        ack.disabled = false;
        if (error.name !== "AbortError") toast(sentence(error), "error");
      }
    });
    return h("li", { class: `alert${alert.acknowledged ? " acknowledged" : ""}`, dataset: { id: alert.id } },
      h("div", { class: "alert-head" },
        h("span", { class: `badge severity-${alert.severity}` }, alert.severity),
        h("span", { class: "hint" }, `${alert.component} · `, timeEl(alert.timestamp))),
      h("p", { class: "alert-message" }, alert.message),
      alert.acknowledged ? h("span", { class: "hint" }, "Acknowledged") : ack);
  }

  async function loadAlerts() {
    try {
      const { alerts } = await api("/monitor/alerts", { signal });
      // a new alert while the page is open is also announced (the first load is not news)
      if (s.alertIds) {
        for (const alert of alerts) if (!s.alertIds.has(alert.id)) toast(`Alert: ${alert.message}`, "info");
      }
      s.alertIds = new Set(alerts.map((a) => a.id));
      clear(alertList, alerts.length ? alerts.map(alertItem) : h("li", { class: "empty" }, "No active alerts."));
    } catch (error) {
      failed(alertList, error);
    }
  }

  // -- the request log ----------------------------------------------------------------------
  function statusClass(status) {
    return `status-${Math.floor(status / 100)}xx`;
  }

  function requestRow(r) {
    return h("tr", { dataset: { requestId: r.request_id } },
      h("td", {}, timeEl(r.timestamp)),
      h("td", {}, r.method),
      h("td", { class: "path" }, r.path),
      h("td", {}, h("span", { class: `code ${statusClass(r.status)}` }, String(r.status))),
      h("td", { class: "num" }, ms(r.duration_ms)));
  }

  async function loadRequests(offset = s.requestOffset) {
    const asked = ++s.requestsAsked; // only the latest question's answer is drawn
    requestsReload.disabled = true;
    try {
      const page = await api("/monitor/requests", {
        query: { status: statusFilter.value, path: pathFilter.value.trim(), limit: PAGE, offset },
        signal,
      });
      if (asked !== s.requestsAsked) return;
      s.requestOffset = offset;
      clear(requestProblem);
      const filtered = statusFilter.value || pathFilter.value.trim();
      clear(requestRows, page.requests.length ? page.requests.map(requestRow)
        : h("tr", {}, h("td", { colspan: "5", class: "empty" }, filtered ? "No request matches." : "No requests logged yet.")));
      requestNewer.disabled = offset === 0;
      requestOlder.disabled = !page.has_more;
      requestPlace.textContent = page.requests.length ? `${offset + 1}–${offset + page.requests.length}` : "";
    } catch (error) {
      if (asked === s.requestsAsked) failed(requestProblem, error);
    } finally {
      if (asked === s.requestsAsked) requestsReload.disabled = false;
    }
  }

  statusFilter.addEventListener("change", () => loadRequests(0));
  pathFilter.addEventListener("input", debounce(() => loadRequests(0)));
  requestsReload.addEventListener("click", () => loadRequests(0));
  requestNewer.addEventListener("click", () => loadRequests(Math.max(0, s.requestOffset - PAGE)));
  requestOlder.addEventListener("click", () => loadRequests(s.requestOffset + PAGE));

  // -- the error log ------------------------------------------------------------------------
  function errorItem(e) {
    return h("li", { class: `logged level-${e.level}` },
      h("div", { class: "alert-head" },
        h("span", { class: `badge severity-${e.level === "warning" ? "medium" : "high"}` }, e.level),
        h("span", { class: "hint" }, `${e.component} · `, timeEl(e.timestamp),
          e.request_id ? ` · ${e.request_id}` : "")),
      h("p", { class: "alert-message" }, e.message),
      e.stack_trace ? h("details", {}, h("summary", {}, "Stack trace"), h("pre", {}, e.stack_trace)) : null);
  }

  async function loadErrors(offset = s.errorOffset) {
    const asked = ++s.errorsAsked;
    try {
      const page = await api("/monitor/errors", { query: { level: levelFilter.value, limit: PAGE, offset }, signal });
      if (asked !== s.errorsAsked) return;
      s.errorOffset = offset;
      clear(errorProblem);
      clear(errorList, page.errors.length ? page.errors.map(errorItem) : h("li", { class: "empty" }, "No warnings or errors logged."));
      errorNewer.disabled = offset === 0;
      errorOlder.disabled = !page.has_more;
    } catch (error) {
      if (asked === s.errorsAsked) failed(errorProblem, error);
    }
  }

  levelFilter.addEventListener("change", () => loadErrors(0));
  errorsReload.addEventListener("click", () => loadErrors(0));
  errorNewer.addEventListener("click", () => loadErrors(Math.max(0, s.errorOffset - PAGE)));
  errorOlder.addEventListener("click", () => loadErrors(s.errorOffset + PAGE));

  // -- live ---------------------------------------------------------------------------------
  refresh.addEventListener("click", () => {
    loadHealth();
    loadFigures();
    loadAlerts();
    loadRequests(0);
    loadErrors(0);
  });

  // the list is asked for again rather than taken from the event: core decides who sees what
  const unsubscribe = subscribe(["ops.alert", "ops.health"], (topic) => {
    if (topic === "ops.health") loadHealth();
    loadAlerts();
  });
  const timer = setInterval(() => {
    if (!document.hidden) loadFigures();
  }, FIGURES_EVERY_MS);

  loadHealth();
  loadFigures();
  loadAlerts();
  loadRequests(0);
  loadErrors(0);

  return () => {
    clearInterval(timer);
    unsubscribe();
    controller.abort();
  };
}
