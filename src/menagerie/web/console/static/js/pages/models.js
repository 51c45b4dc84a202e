// Models: the catalogue (provider, context, prices per million tokens, available or why not)
// with a filter; the tenant's usage over a day, week or month as a bar chart drawn here in
// SVG (tokens or cost per hour or per day); the token quota left per provider; and the managed
// model endpoints, which admins wake and put to sleep (their changes arrive as events).
import { api, subscribe } from "../api.js";
import { clear, debounce, errorBox, h, sentence, stylesheet, toast, when } from "../dom.js";

const SVG = "http://www.w3.org/2000/svg";
const count = new Intl.NumberFormat();
const compact = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 1 });
const dollars = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 4 });

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "dataset") Object.assign(el.dataset, value);
    else if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  }
  for (const child of children) el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return el;
}

function section(id, title, ...children) {
  return h("section", { class: "card models-section", id, "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, title), ...children);
}

function bucketLabel(iso, step) {
  const date = new Date(iso);
  return step === "hour"
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleDateString([], { month: "short", day: "numeric" });
}

export async function mount(root, ctx) {
  stylesheet("models");
  const isAdmin = ctx.user.user.is_admin;
  const s = { models: [], usage: null, period: "day", metric: "tokens", closed: false, poll: null };

  // -- the catalogue ------------------------------------------------------------------------
  const filter = h("input", { type: "search", id: "model-filter", placeholder: "Filter models", "aria-label": "Filter models" });
  const provider = h("select", { id: "model-provider", "aria-label": "Provider" }, h("option", { value: "" }, "All providers"));
  const availableOnly = h("input", { type: "checkbox", id: "model-available" });
  const catalogueBody = h("tbody", { id: "catalogue" });
  const catalogueNote = h("p", { class: "hint", "aria-live": "polite" });
  const catalogue = section("models-catalogue", "Catalogue",
    h("div", { class: "toolbar" }, filter, provider,
      h("label", { for: "model-available", class: "check" }, availableOnly, " Available only")),
    catalogueNote,
    h("div", { class: "table-scroll" },
      h("table", { class: "models-table" },
        h("thead", {}, h("tr", {},
          h("th", { scope: "col" }, "Model"), h("th", { scope: "col" }, "Provider"),
          h("th", { scope: "col" }, "Context"), h("th", { scope: "col" }, "Input / M"),
          h("th", { scope: "col" }, "Output / M"), h("th", { scope: "col" }, "Status"))),
        catalogueBody)));

  function drawCatalogue() {
    const words = filter.value.trim().toLowerCase();
    const shown = s.models.filter((m) =>
      (!provider.value || m.provider === provider.value) &&
      (!availableOnly.checked || m.availability === "available") &&
      (!words || `${m.name} ${m.id} ${m.provider} ${m.description}`.toLowerCase().includes(words)));
    clear(catalogueBody, shown.map((m) => h("tr", { dataset: { model: m.id, availability: m.availability } },
      h("td", {}, h("strong", {}, m.name), h("div", { class: "hint model-id" }, m.id)),
      h("td", {}, m.provider),
      h("td", { title: `${count.format(m.context_window)} tokens` }, compact.format(m.context_window)),
      h("td", { class: "number" }, dollars.format(m.input_per_million)),
      h("td", { class: "number" }, dollars.format(m.output_per_million)),
      h("td", {}, h("span", { class: `badge ${m.availability}` }, m.availability),
        m.reason ? h("div", { class: "hint reason" }, m.reason) : null))));
    catalogueNote.textContent = `${shown.length} of ${s.models.length} models shown.`;
    if (!shown.length) catalogueBody.append(h("tr", {}, h("td", { colspan: "6", class: "empty" }, "No model matches the filter.")));
  }

  async function loadCatalogue() {
    const listed = await api("/models");
    s.models = listed.models;
    const chosen = provider.value;
    clear(provider, h("option", { value: "" }, "All providers"), listed.providers.map((p) => h("option", { value: p }, p)));
    provider.value = listed.providers.includes(chosen) ? chosen : "";
    drawCatalogue();
  }
  filter.addEventListener("input", debounce(drawCatalogue, 150));
  provider.addEventListener("change", drawCatalogue);
  availableOnly.addEventListener("change", drawCatalogue);

  // -- usage --------------------------------------------------------------------------------
  const periods = h("div", { class: "segmented", role: "radiogroup", "aria-label": "Period" },
    [["day", "Day"], ["week", "Week"], ["month", "Month"]].map(([value, label]) =>
      h("label", {}, h("input", { type: "radio", name: "usage-period", value, checked: value === s.period }), label)));
  const metrics = h("div", { class: "segmented", role: "radiogroup", "aria-label": "Measure" },
    [["tokens", "Tokens"], ["cost", "Cost"]].map(([value, label]) =>
      h("label", {}, h("input", { type: "radio", name: "usage-metric", value, checked: value === s.metric }), label)));
  const totals = h("p", { class: "usage-totals", id: "usage-totals", "aria-live": "polite" });
  const chart = h("div", { class: "usage-chart", id: "usage-chart" });
  const numbers = h("details", { class: "usage-numbers" });
  const usageProblem = h("div");
  const usage = section("models-usage", "Usage", h("div", { class: "toolbar" }, periods, metrics), totals, usageProblem, chart, numbers);

  function value(bucket) {
    return s.metric === "cost" ? bucket.cost : bucket.tokens;
  }

  function formatted(amount) {
    return s.metric === "cost" ? dollars.format(amount) : `${count.format(amount)} tokens`;
  }

  function drawUsage() {
    const series = s.usage;
    if (!series) return;
    const { buckets, step } = series;
    totals.textContent = `${count.format(series.total_tokens)} tokens · ${dollars.format(series.total_cost)} · ${count.format(series.total_requests)} ${series.total_requests === 1 ? "request" : "requests"} over the last ${series.period}.`;
    const top = Math.max(0, ...buckets.map(value));
    const width = 100 * buckets.length;
    const height = 100;
    const unit = step === "hour" ? "hour" : "day";
    const bars = buckets.map((bucket, index) => {
      const amount = value(bucket);
      // a bucket with some use stays visible beside a much larger one
      const tall = top > 0 && amount > 0 ? Math.max(2, (amount / top) * height) : 0;
      return svg("rect", {
        class: "bar", x: index * 100 + 12, y: height - tall, width: 76, height: tall,
        dataset: { value: String(amount), start: bucket.start },
      }, svg("title", {}, `${bucketLabel(bucket.start, step)}: ${formatted(amount)}, ${bucket.requests} ${bucket.requests === 1 ? "request" : "requests"}`));
    });
    const picture = svg("svg", {
      viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "none", role: "img", class: "usage-bars",
      "aria-label": `${s.metric === "cost" ? "Cost" : "Tokens"} per ${unit} over the last ${series.period}; the highest ${unit}: ${formatted(top)}.`,
    },
    svg("line", { x1: 0, y1: height, x2: width, y2: height, class: "axis", "vector-effect": "non-scaling-stroke" }),
    svg("line", { x1: 0, y1: 0, x2: width, y2: 0, class: "grid", "vector-effect": "non-scaling-stroke" }),
    ...bars);
    const middle = buckets[Math.floor(buckets.length / 2)];
    clear(chart,
      h("div", { class: "usage-top hint" }, top > 0 ? formatted(top) : "No use in this period yet."),
      picture,
      h("div", { class: "usage-axis hint" },
        h("span", {}, bucketLabel(buckets[0].start, step)),
        h("span", {}, bucketLabel(middle.start, step)),
        h("span", {}, bucketLabel(buckets[buckets.length - 1].start, step))));
    clear(numbers, h("summary", {}, "Show the numbers"),
      h("div", { class: "table-scroll" }, h("table", {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, step === "hour" ? "Hour" : "Day"),
          h("th", { scope: "col" }, "Requests"), h("th", { scope: "col" }, "Tokens"), h("th", { scope: "col" }, "Cost"))),
        h("tbody", {}, buckets.filter((b) => b.requests).map((b) => h("tr", {},
          h("td", {}, step === "hour" ? `${when(b.start)}` : bucketLabel(b.start, step)),
          h("td", { class: "number" }, count.format(b.requests)),
          h("td", { class: "number" }, count.format(b.tokens)),
          h("td", { class: "number" }, dollars.format(b.cost))))))));
  }

  async function loadUsage() {
    try {
      s.usage = await api("/models/usage", { query: { period: s.period } });
      clear(usageProblem);
      drawUsage();
    } catch (error) {
      clear(usageProblem, errorBox(error));
    }
  }
  periods.addEventListener("change", (event) => { s.period = event.target.value; loadUsage(); });
  metrics.addEventListener("change", (event) => { s.metric = event.target.value; drawUsage(); });

  // -- quotas -------------------------------------------------------------------------------
  const quotaList = h("ul", { class: "quota-list", id: "quotas" });
  const quotas = section("models-quotas", "Quotas this month", quotaList);

  async function loadQuotas() {
    const { quotas: found } = await api("/models/quotas");
    clear(quotaList, found.map((q) => {
      const id = `quota-${q.provider}`;
      return h("li", { dataset: { provider: q.provider } },
        h("label", { for: id }, q.provider),
        h("progress", { id, max: String(q.limit), value: String(Math.min(q.used, q.limit)) }),
        h("span", { class: "hint" }, `${count.format(q.remaining)} of ${count.format(q.limit)} tokens left (${q.percentage}% used); renews ${when(q.reset_at)}.`));
    }));
    if (!found.length) quotaList.append(h("li", { class: "empty" }, "No token quota is set: calls are limited only by the providers themselves."));
  }

  // -- endpoints ----------------------------------------------------------------------------
  const endpointList = h("ul", { class: "endpoint-list", id: "endpoints" });
  const endpointsNote = h("p", { class: "hint" });
  const endpoints = section("models-endpoints", "Managed endpoints", endpointsNote, endpointList);

  async function command(name, action, button) {
    button.disabled = true;
    try {
      await api(`/models/endpoints/${encodeURIComponent(name)}/${action}`, { method: "POST" });
      toast(action === "wake" ? `Endpoint ${name} is waking up.` : `Endpoint ${name} is going to sleep.`);
      await loadEndpoints();
    } catch (error) {
      button.disabled = false;
      toast(sentence(error), "error");
    }
  }

  async function loadEndpoints() {
    const listed = await api("/models/endpoints");
    endpointsNote.textContent = listed.endpoints.length && !listed.can_manage
      ? "Only an admin can wake an endpoint or put it to sleep." : "";
    clear(endpointList, listed.endpoints.map((e) => {
      const controls = listed.can_manage
        ? h("div", { class: "endpoint-controls" },
          h("button", { type: "button", class: "wake", disabled: e.status === "running" || e.status === "starting", "aria-label": `Wake ${e.name}`, onclick: (event) => command(e.name, "wake", event.currentTarget) }, "Wake"),
          h("button", { type: "button", class: "sleep", disabled: e.status === "sleeping" || e.status === "stopping", "aria-label": `Put ${e.name} to sleep`, onclick: (event) => command(e.name, "sleep", event.currentTarget) }, "Sleep"))
        : null;
      return h("li", { class: "endpoint", dataset: { endpoint: e.name, status: e.status } },
        h("div", {}, h("strong", {}, e.name), " ", h("span", { class: `badge ${e.status}` }, e.status)),
        h("div", { class: "hint" }, [e.model || "model unnamed", e.kind,
          e.auto_sleep_in !== null ? `sleeps in ${Math.round(e.auto_sleep_in)} s if idle` : null,
          e.last_activity ? `last used ${when(e.last_activity)}` : null].filter(Boolean).join(" · ")),
        e.error ? h("p", { class: "error" }, e.error) : null,
        controls);
    }));
    if (!listed.endpoints.length) endpointList.append(h("li", { class: "empty" }, "No managed endpoint is configured."));
    // while one is changing, look again now and then too: an event missed while the page's
    // event stream was connecting would leave it shown as starting
    clearTimeout(s.poll);
    if (!s.closed && listed.endpoints.some((e) => e.status === "starting" || e.status === "stopping")) {
      s.poll = setTimeout(() => guarded(loadEndpoints, endpointList), 2000);
    }
  }

  clear(root, h("h1", { class: "models-title" }, "Models"), usage,
    h("div", { class: "models-pair" }, quotas, endpoints), catalogue);

  function guarded(load, where) {
    return load().catch((error) => {
      if (!s.closed) clear(where, where.tagName === "UL" ? h("li", {}, errorBox(error)) : errorBox(error));
    });
  }
  await Promise.all([
    guarded(loadCatalogue, catalogueNote),
    loadUsage(),
    guarded(loadQuotas, quotaList),
    guarded(loadEndpoints, endpointList),
  ]);

  // an endpoint's state changes (woken by a chat, put to sleep when idle) arrive as events
  const refreshEndpoints = debounce(() => { if (!s.closed) guarded(loadEndpoints, endpointList); }, 200);
  const close = subscribe(["llm.endpoints"], refreshEndpoints);
  return () => { s.closed = true; clearTimeout(s.poll); close(); };
}
