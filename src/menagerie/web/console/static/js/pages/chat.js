// Chat: pick an agent, find a session, read it (older pages load as you scroll up), and send
// messages whose answers stream in token by token, tool calls folded inline.
import { api, stream, ApiError } from "../api.js";
import { clear, debounce, errorBox, h, sentence, toast, when } from "../dom.js";

const PAGE = 50;
const SESSIONS = 30;

export async function mount(root, ctx) {
  const s = {
    agents: [],
    agent: null,
    session: null, // the open session, or null for a new chat not yet sent
    oldest: null, // id of the oldest message shown
    hasMore: false,
    loadingOlder: false,
    turn: null, // AbortController of the turn in flight
    query: "",
    offset: 0,
  };

  const agentPicker = h("select", { id: "agent", "aria-label": "Agent" });
  const search = h("input", { type: "search", id: "session-search", placeholder: "Search chats", "aria-label": "Search chats" });
  const list = h("ul", { class: "sessions", id: "sessions", "aria-label": "Chats" });
  const more = h("button", { type: "button", class: "ghost more", hidden: true }, "More chats");
  const newChat = h("button", { type: "button", class: "primary", id: "new-chat" }, "New chat");
  const side = h("aside", { class: "chat-side" },
    h("label", { for: "agent" }, "Agent"), agentPicker, newChat, search, list, more);

  const heading = h("h2", { class: "chat-title" }, "New chat");
  const sentinel = h("div", { class: "older", "aria-hidden": "true" });
  const log = h("ol", { class: "messages", id: "messages", "aria-live": "polite", "aria-label": "Messages" });
  const scroller = h("div", { class: "scroller", tabindex: "0" }, sentinel, log);
  const input = h("textarea", { id: "message", rows: "2", placeholder: "Write a message… (Enter to send, Shift+Enter for a new line)", "aria-label": "Message", maxlength: "10000" });
  const send = h("button", { type: "submit", class: "primary", id: "send", disabled: true }, "Send");
  const stop = h("button", { type: "button", id: "stop", hidden: true }, "Stop");
  const composer = h("form", { class: "composer" }, input, send, stop);
  const main = h("div", { class: "chat-main" }, heading, scroller, composer);
  clear(root, side, main);

  // -- sessions -----------------------------------------------------------------------------
  function sessionItem(session) {
    const link = h("a", { href: `#/chat/${encodeURIComponent(session.id)}`, "aria-current": s.session?.id === session.id ? "page" : false },
      h("span", { class: "title" }, session.title || "Untitled chat"),
      h("span", { class: "meta" }, `${session.agent} · ${when(session.last_message_at || session.started_at)}`));
    return h("li", { dataset: { id: session.id } }, link);
  }

  async function loadSessions(reset = true) {
    if (reset) s.offset = 0;
    const page = await api("/sessions", { query: { q: s.query, limit: SESSIONS, offset: s.offset } });
    if (reset) clear(list);
    if (reset && !page.sessions.length) list.append(h("li", { class: "empty" }, s.query ? "No chat matches." : "No chats yet."));
    list.append(...page.sessions.map(sessionItem));
    s.offset += page.sessions.length;
    more.hidden = s.offset >= page.total;
  }

  search.addEventListener("input", debounce(() => {
    s.query = search.value.trim();
    loadSessions().catch((error) => toast(sentence(error), "error"));
  }));
  more.addEventListener("click", () => loadSessions(false).catch((error) => toast(sentence(error), "error")));
  newChat.addEventListener("click", () => ctx.navigate("chat"));
  agentPicker.addEventListener("change", () => { s.agent = agentPicker.value; });

  // -- messages -----------------------------------------------------------------------------
  function messageItem(message) {
    if (message.role === "tool") {
      const tool = message.tool || {};
      return h("li", { class: `message tool${tool.is_error ? " failed" : ""}`, dataset: { id: message.id } },
        h("details", {},
          h("summary", {}, `Tool ${tool.name || ""}${tool.is_error ? " failed" : ""}`),
          h("pre", { class: "arguments" }, JSON.stringify(tool.arguments || {}, null, 2)),
          h("pre", { class: "output" }, message.content)));
    }
    const body = h("div", { class: "body" });
    body.innerHTML = message.html; // rendered by the server with raw HTML disabled
    return h("li", { class: `message ${message.role}`, dataset: { id: message.id } },
      h("div", { class: "who" }, message.role === "user" ? "You" : (message.role === "agent" ? (s.session?.agent || "Agent") : message.role),
        h("time", { datetime: message.created_at }, when(message.created_at))),
      body);
  }

  function atBottom() {
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 40;
  }

  function toBottom() {
    scroller.scrollTop = scroller.scrollHeight;
  }

  async function loadOlder() {
    if (!s.session || !s.hasMore || s.loadingOlder) return;
    s.loadingOlder = true;
    try {
      const page = await api(`/sessions/${encodeURIComponent(s.session.id)}/messages`, { query: { before: s.oldest, limit: PAGE } });
      const before = scroller.scrollHeight;
      log.prepend(...page.messages.map(messageItem));
      scroller.scrollTop += scroller.scrollHeight - before; // keep the reader's place
      if (page.messages.length) s.oldest = page.messages[0].id;
      s.hasMore = page.has_more;
    } catch (error) {
      toast(sentence(error), "error");
    } finally {
      s.loadingOlder = false;
    }
  }

  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting)) loadOlder();
  }, { root: scroller, rootMargin: "200px 0px 0px 0px" });

  async function open(sessionId) {
    if (!sessionId) {
      s.session = null;
      s.hasMore = false;
      heading.textContent = "New chat";
      clear(log, h("li", { class: "hint" }, "Send a message to start a chat."));
      return;
    }
    const [session, page] = await Promise.all([
      api(`/sessions/${encodeURIComponent(sessionId)}`),
      api(`/sessions/${encodeURIComponent(sessionId)}/messages`, { query: { limit: PAGE } }),
    ]);
    s.session = session;
    heading.textContent = session.title || "Untitled chat";
    if (s.agents.some((a) => a.name === session.agent)) agentPicker.value = session.agent;
    clear(log, page.messages.map(messageItem));
    s.oldest = page.messages.length ? page.messages[0].id : null;
    s.hasMore = page.has_more;
    toBottom();
    observer.observe(sentinel);
  }

  // -- a turn -------------------------------------------------------------------------------
  function busy(on) {
    send.hidden = on;
    stop.hidden = !on;
    input.disabled = on;
  }

  async function runTurn(path, body) {
    const controller = new AbortController();
    s.turn = controller;
    busy(true);
    const answer = h("li", { class: "message agent streaming" },
      h("div", { class: "who" }, s.session.agent), h("div", { class: "body plain" }));
    const text = answer.querySelector(".body");
    const tools = new Map();
    let done = false;
    let failed = null;
    try {
      await stream(path, body, (name, data) => {
        const follow = atBottom();
        if (name === "started" && data.user_message) {
          log.querySelector("li.pending")?.replaceWith(messageItem(data.user_message));
          log.append(answer);
        } else if (name === "started") {
          log.append(answer);
        } else if (name === "chunk") {
          text.textContent += data.text; // plain text while streaming; Markdown once stored
        } else if (name === "tool_call") {
          const item = h("li", { class: "message tool running" },
            h("details", {}, h("summary", {}, `Tool ${data.name}…`),
              h("pre", { class: "arguments" }, JSON.stringify(data.arguments, null, 2))));
          tools.set(data.call_id, item);
          answer.before(item);
        } else if (name === "tool_result") {
          const item = tools.get(data.call_id);
          if (item) {
            item.classList.remove("running");
            if (data.is_error) item.classList.add("failed");
            item.querySelector("summary").textContent = `Tool ${data.name}${data.is_error ? " failed" : ""}`;
            item.querySelector("details").append(h("pre", { class: "output" }, data.output));
          }
        } else if (name === "done") {
          done = true;
          answer.replaceWith(messageItem(data.message));
        } else if (name === "error") {
          failed = data;
        }
        if (follow) toBottom();
      }, controller.signal);
    } catch (error) {
      failed = error.name === "AbortError" ? { error: "Stopped.", retryable: true, stopped: true } : { error: sentence(error), retryable: !(error instanceof ApiError) || error.status >= 500 };
      log.querySelector("li.pending")?.classList.add("unsent");
    } finally {
      s.turn = null;
      busy(false);
      input.focus();
    }
    if (!done) {
      answer.classList.remove("streaming");
      if (!answer.isConnected) log.append(answer);
      if (!text.textContent) text.textContent = "";
      const retry = h("button", { type: "button", class: "retry" }, "Retry");
      retry.addEventListener("click", () => {
        answer.remove();
        runTurn(`/sessions/${encodeURIComponent(s.session.id)}/retry`, {});
      });
      answer.classList.add("failed");
      answer.append(h("p", { class: "error", role: "alert" }, (failed && failed.error) || "The answer ended early."), retry);
    }
    loadSessions().catch(() => {});
  }

  composer.addEventListener("submit", async (event) => {
    event.preventDefault();
    const message = input.value.trim();
    if (!message || s.turn) return;
    try {
      if (!s.session) {
        s.session = await api("/sessions", { method: "POST", body: { agent: agentPicker.value || s.agent } });
        ctx.replace("chat", s.session.id);
        clear(log);
        observer.observe(sentinel);
      }
    } catch (error) {
      toast(sentence(error), "error");
      return;
    }
    input.value = "";
    heading.textContent = s.session.title || message.slice(0, 80);
    log.append(h("li", { class: "message user pending" }, h("div", { class: "who" }, "You"), h("div", { class: "body" }, message)));
    toBottom();
    await runTurn(`/sessions/${encodeURIComponent(s.session.id)}/turns`, { message });
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer.requestSubmit();
    }
  });
  stop.addEventListener("click", () => s.turn?.abort());

  // -- first screen -------------------------------------------------------------------------
  const [agents] = await Promise.all([api("/agents"), loadSessions()]);
  s.agents = agents.agents;
  s.agent = agents.default;
  clear(agentPicker, agents.agents.map((a) => h("option", { value: a.name, selected: a.name === agents.default }, a.title)));
  try {
    await open(ctx.params[0]);
  } catch (error) {
    clear(log, h("li", {}, errorBox(error)));
  }
  send.disabled = false;
  input.focus();
  return () => {
    observer.disconnect();
    s.turn?.abort();
  };
}
