// The Runs page's small shared helpers: the events stream, what the events said last, redraws
// that keep the keyboard's place, busy buttons, and the badges, meters and facts every tab draws.
import { h } from "../../dom.js";

export const PAGE = 30; // rows read at a time

/** The events stream, with `onOpen` once the server holds the subscription: a terminal's
 *  first command waits for it, or its output could be published before anyone listens. */
export function listen(topics, onEvent, onOpen, onDrop) {
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
export class Heard {
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
export function keepingFocus(container, redraw) {
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
export function openedDetails(container) {
  return new Set([...container.querySelectorAll("details[open][data-key]")].map((d) => d.dataset.key));
}

/** A row's button while its request is on the way: marked busy rather than disabled, since
 *  a disabled button drops the keyboard's focus. False when it was busy already. */
export function busy(button, on = true) {
  if (on && button.getAttribute("aria-disabled") === "true") return false;
  if (on) button.setAttribute("aria-disabled", "true");
  else button.removeAttribute("aria-disabled");
  return true;
}

export const path = (...parts) => "/" + parts.map(encodeURIComponent).join("/");
export const badge = (status, label) => h("span", { class: `badge ${status}` }, label || status);
export const seconds = (value) => (value === null || value === undefined ? "" : `${Number(value).toFixed(value < 10 ? 2 : 0)} s`);

export function field(label, value) {
  if (value === null || value === undefined || value === "") return null;
  return [h("dt", {}, label), h("dd", {}, String(value))];
}

export function meter(value, label) {
  return h("div", { class: "runs-meter" },
    h("progress", { max: "100", value: String(Math.round(value || 0)), "aria-label": label }),
    h("span", { class: "runs-percent" }, `${Math.round(value || 0)}%`));
}
