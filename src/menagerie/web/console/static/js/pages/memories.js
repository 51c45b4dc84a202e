// Memories: what the agents remember for the caller, newest first a page at a time, or the
// best answers to a search with each one's relevance; filtered by category; each memory's
// importance changed with a slider (saved as it is let go), deleted after a confirmation;
// and a prune of the expired ones (and of those matching the filters chosen).
import { api } from "../api.js";
import { clear, debounce, errorBox, h, sentence, stylesheet, toast, when } from "../dom.js";

const PAGE = 20;

/** A modal question with a cancel and a confirm button; resolves to true when confirmed. */
function confirmDialog(title, message, action) {
  return new Promise((resolve) => {
    const yes = h("button", { type: "submit", class: "danger", value: "yes" }, action);
    const no = h("button", { type: "submit", class: "ghost", value: "no", formnovalidate: true }, "Cancel");
    const dialog = h("dialog", { class: "memories-dialog", "aria-labelledby": "confirm-title" },
      h("form", { method: "dialog", class: "fields" },
        h("h2", { id: "confirm-title" }, title),
        h("p", {}, message),
        h("div", { class: "actions" }, no, yes)));
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(dialog.returnValue === "yes");
    });
    document.body.append(dialog);
    dialog.showModal();
    no.focus();
  });
}

function percent(value) {
  return `${Math.round(value * 100)}%`;
}

export async function mount(root, ctx) {
  stylesheet("memories");
  const s = { query: "", category: "", offset: 0, total: 0, controller: null };

  const search = h("input", { type: "search", id: "memory-search", placeholder: "Search memories", "aria-label": "Search memories", maxlength: "500" });
  const category = h("select", { id: "memory-category", "aria-label": "Category" }, h("option", { value: "" }, "All categories"));
  const pruneButton = h("button", { type: "button", id: "prune-open" }, "Prune…");
  const summary = h("p", { class: "hint", id: "memory-summary", "aria-live": "polite" });
  const pruned = h("p", { class: "ok", id: "prune-result", role: "status" });
  const problem = h("div", { "aria-live": "assertive" });
  const list = h("ul", { class: "memory-list", id: "memories", "aria-label": "Memories" });
  const previous = h("button", { type: "button", class: "ghost", id: "memories-previous" }, "Previous");
  const next = h("button", { type: "button", class: "ghost", id: "memories-next" }, "Next");
  const position = h("span", { class: "hint" });
  const pager = h("nav", { class: "memory-pager", "aria-label": "Pages of memories", hidden: true }, previous, position, next);
  const scopeNote = ctx.user.user.is_admin
    ? h("p", { class: "hint" }, "As an admin you see every memory of your tenant.")
    : null;

  clear(root,
    h("h1", { class: "memories-title" }, "Memories"),
    scopeNote,
    h("div", { class: "toolbar" }, search, category, pruneButton),
    pruned, summary, problem, list, pager);

  // -- categories ---------------------------------------------------------------------------
  async function loadCategories() {
    const { categories } = await api("/memory/categories");
    const chosen = category.value;
    clear(category, h("option", { value: "" }, "All categories"),
      categories.map((c) => h("option", { value: c.name }, `${c.name} (${c.count})`)));
    // a category pruned away: back to all of them
    category.value = categories.some((c) => c.name === chosen) ? chosen : "";
    s.category = category.value;
    return categories;
  }

  // -- one memory ---------------------------------------------------------------------------
  function memoryItem(memory) {
    const id = `importance-${memory.id}`;
    const slider = h("input", { type: "range", id, min: "0", max: "1", step: "0.05", value: String(memory.importance) });
    const shown = h("output", { for: id, class: "importance-value" }, percent(memory.importance));
    const saved = h("span", { class: "saved", "aria-live": "polite" });
    let last = memory.importance;

    const save = debounce(async () => {
      const importance = Number(slider.value);
      if (importance === last) return;
      clear(saved, "Saving…");
      try {
        const changed = await api(`/memories/${encodeURIComponent(memory.id)}`, { method: "PATCH", body: { importance } });
        last = changed.importance;
        clear(saved, h("span", { class: "ok" }, "Saved"));
      } catch (error) {
        slider.value = String(last);
        shown.textContent = percent(last);
        clear(saved);
        toast(`The importance was not saved: ${sentence(error)}`, "error");
      }
    }, 300);
    slider.addEventListener("input", () => { shown.textContent = percent(Number(slider.value)); clear(saved); });
    slider.addEventListener("change", save);

    const remove = h("button", { type: "button", class: "danger", "aria-label": `Delete the memory “${memory.content.slice(0, 40)}”` }, "Delete");
    const item = h("li", { class: "card memory", dataset: { id: memory.id } },
      h("div", { class: "memory-head" },
        h("span", { class: "badge" }, memory.category),
        memory.key ? h("code", { class: "memory-key" }, memory.key) : null,
        memory.relevance !== null ? h("span", { class: "badge relevance", title: "How well it answers the search" }, `${percent(memory.relevance)} relevant`) : null,
        h("time", { datetime: memory.created_at, title: memory.created_at }, when(memory.created_at))),
      h("p", { class: "memory-content" }, memory.content),
      memory.context ? h("p", { class: "hint memory-context" }, memory.context) : null,
      h("div", { class: "memory-meta hint" },
        memory.tags.length ? h("span", {}, `Tags: ${memory.tags.join(", ")}`) : null,
        memory.agent_id ? h("span", {}, `Agent: ${memory.agent_id}`) : null,
        memory.expires_at ? h("span", {}, `Expires ${when(memory.expires_at)}`) : null),
      h("div", { class: "memory-controls" },
        h("label", { for: id }, "Importance"), slider, shown, saved, remove));

    remove.addEventListener("click", async () => {
      const sure = await confirmDialog("Delete this memory?", `“${memory.content.slice(0, 200)}” will be forgotten for good.`, "Delete");
      if (!sure) { remove.focus(); return; }
      remove.disabled = true;
      try {
        await api(`/memories/${encodeURIComponent(memory.id)}`, { method: "DELETE" });
        toast("The memory was deleted.");
        await refresh(false);
      } catch (error) {
        remove.disabled = false;
        toast(sentence(error), "error");
      }
    });
    return item;
  }

  // -- the list -----------------------------------------------------------------------------
  async function load() {
    if (s.controller) s.controller.abort();
    const controller = new AbortController();
    s.controller = controller;
    const query = { q: s.query, category: s.category, limit: PAGE, offset: s.query ? 0 : s.offset };
    try {
      const page = await api("/memories", { query, signal: controller.signal });
      if (controller.signal.aborted) return;
      clear(problem);
      s.total = page.total;
      clear(list, page.memories.map(memoryItem));
      if (!page.memories.length) {
        // an emptied page after a deletion: go back one page
        if (!page.query && s.offset > 0 && page.total > 0) {
          s.offset = Math.max(0, s.offset - PAGE);
          return load();
        }
        list.append(h("li", { class: "empty" }, page.query
          ? `No memory answers “${page.query}”.`
          : (s.category ? "No memory in this category." : "No memories yet: agents keep here what they learn as you chat.")));
      }
      if (page.query) {
        summary.textContent = `${page.total} best ${page.total === 1 ? "answer" : "answers"} for “${page.query}”, most relevant first.`;
        pager.hidden = true;
      } else {
        summary.textContent = `${page.total} ${page.total === 1 ? "memory" : "memories"}, newest first.`;
        pager.hidden = page.total <= PAGE;
        position.textContent = page.total ? `${s.offset + 1}–${s.offset + page.memories.length} of ${page.total}` : "";
        previous.disabled = s.offset === 0;
        next.disabled = s.offset + PAGE >= page.total;
      }
    } catch (error) {
      if (error.name === "AbortError") return;
      clear(problem, errorBox(error));
    }
  }

  async function refresh(withCategories = true) {
    if (withCategories) {
      try { await loadCategories(); } catch (error) { clear(problem, errorBox(error)); return; }
    }
    await load();
  }

  search.addEventListener("input", debounce(() => {
    pruned.textContent = "";
    s.query = search.value.trim();
    s.offset = 0;
    load();
  }));
  category.addEventListener("change", () => {
    s.category = category.value;
    s.offset = 0;
    load();
  });
  previous.addEventListener("click", () => { s.offset = Math.max(0, s.offset - PAGE); load(); });
  next.addEventListener("click", () => { s.offset += PAGE; load(); });

  // -- pruning ------------------------------------------------------------------------------
  pruneButton.addEventListener("click", () => openPrune().catch((error) => toast(sentence(error), "error")));

  async function openPrune() {
    const categories = await loadCategories();
    const importance = h("input", { type: "number", id: "prune-importance", min: "0.05", max: "1", step: "0.05", placeholder: "e.g. 0.2" });
    const days = h("input", { type: "number", id: "prune-days", min: "1", max: "36500", step: "1", placeholder: "e.g. 90" });
    const inCategory = h("select", { id: "prune-category" }, h("option", { value: "" }, "Any category"),
      categories.map((c) => h("option", { value: c.name }, `${c.name} (${c.count})`)));
    const message = h("div", { "aria-live": "polite" });
    const go = h("button", { type: "submit", class: "danger", id: "prune-run" }, "Prune");
    const cancel = h("button", { type: "button", class: "ghost" }, "Cancel");
    const form = h("form", { class: "fields" },
      h("h2", { id: "prune-title" }, "Prune memories"),
      h("p", { class: "hint" }, "Expired memories are always removed. Fill in any of the fields below to also remove the memories that match all of them."),
      h("label", { for: "prune-importance" }, "Importance below"), importance,
      h("label", { for: "prune-days" }, "Older than (days)"), days,
      h("label", { for: "prune-category" }, "In category"), inCategory,
      message,
      h("div", { class: "actions" }, cancel, go));
    const dialog = h("dialog", { class: "memories-dialog", "aria-labelledby": "prune-title" }, form);
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => { dialog.remove(); pruneButton.focus(); });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {};
      if (importance.value !== "") body.importance_below = Number(importance.value);
      if (days.value !== "") body.older_than_days = Number(days.value);
      if (inCategory.value) body.category = inCategory.value;
      go.disabled = true;
      clear(message);
      try {
        const { removed } = await api("/memory/prune", { method: "POST", body });
        dialog.close();
        const text = removed === 1 ? "Pruning removed 1 memory." : `Pruning removed ${removed} memories.`;
        pruned.textContent = text;
        s.offset = 0;
        await refresh();
      } catch (error) {
        go.disabled = false;
        clear(message, errorBox(error));
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    importance.focus();
  }

  await refresh();
  return () => {
    if (s.controller) s.controller.abort();
    document.querySelectorAll("dialog.memories-dialog").forEach((d) => d.remove());
  };
}
