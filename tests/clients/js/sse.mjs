// Server-Sent Events read the way a browser reads them: `fetch`, the body's stream reader, a
// TextDecoder, events split on blank lines (the seeds' own JavaScript client examples).
// usage: node sse.mjs <podplay|madace|gary>   (MENAGERIE_URL, MENAGERIE_TOKEN in the environment)
// Prints one JSON object of what the client saw; the Python test asserts on it.

const base = process.env.MENAGERIE_URL;
const token = process.env.MENAGERIE_TOKEN;
const flow = process.argv[2];
if (!base || !token || !flow) {
  console.error("usage: MENAGERIE_URL=… MENAGERIE_TOKEN=… node sse.mjs <podplay|madace>");
  process.exit(2);
}
const headers = { "Content-Type": "application/json", Authorization: `Bearer ${token}` };

async function json(method, path, body) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = null;
  try {
    parsed = JSON.parse(text);
  } catch {}
  return { status: response.status, body: parsed ?? text };
}

// one SSE event block: its `event:` name and the `data:` lines joined by newlines (the
// EventSource rules); comments (lines starting with ':') and other fields are kept apart
function parseBlock(block) {
  const event = { event: null, data: null, id: null, comments: [] };
  const data = [];
  for (const line of block.split("\n")) {
    if (line.startsWith(":")) {
      event.comments.push(line.slice(1).trimStart());
      continue;
    }
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") data.push(value);
    else if (field === "event") event.event = value;
    else if (field === "id") event.id = value;
  }
  if (data.length) event.data = data.join("\n");
  if (event.data !== null && event.data !== "[DONE]") {
    try {
      event.json = JSON.parse(event.data);
    } catch {
      event.json = null;
    }
  }
  return event;
}

async function stream(path, body) {
  const started = Date.now();
  const response = await fetch(`${base}${path}`, {
    method: "POST",
    headers: { ...headers, Accept: "text/event-stream" },
    body: JSON.stringify(body),
  });
  const seen = {
    status: response.status,
    content_type: response.headers.get("content-type"),
    cache_control: response.headers.get("cache-control"),
    reads: 0,
    events: [],
    trailing: "",
  };
  if (!response.ok) {
    seen.error_body = await response.text();
    return seen;
  }
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    seen.reads += 1;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (block.trim()) seen.events.push(parseBlock(block));
    }
  }
  buffer += decoder.decode();
  seen.trailing = buffer; // anything after the last blank line: an unterminated event
  seen.elapsed_ms = Date.now() - started;
  return seen;
}

// Crazy Gary's event stream (GET, endless): read until an event carries `until` in its data
async function follow(path, until, lastEventId) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 15_000);
  const response = await fetch(`${base}${path}`, {
    headers: { Authorization: `Bearer ${token}`, Accept: "text/event-stream", "Last-Event-ID": lastEventId },
    signal: controller.signal,
  });
  const seen = {
    status: response.status,
    content_type: response.headers.get("content-type"),
    events: [],
  };
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  try {
    reading: while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true }).replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!block.trim()) continue;
        const event = parseBlock(block);
        seen.events.push(event);
        if (JSON.stringify(event.json ?? {}).includes(until)) break reading;
      }
    }
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return seen;
}

const flows = {
  async gary() {
    return { stream: await follow("/gary/api/observability/events/stream", "js_task_2", "0") };
  },

  async podplay() {
    const user = "js_sanctuary_user";
    const streamed = await stream("/podplay/api/chat/mama-bear", {
      message: "Help me build a React component, streamed to fetch",
      user_id: user,
      stream: true,
    });
    const complete = streamed.events.find((e) => e.json?.type === "complete");
    const history = complete
      ? await json(
          "GET",
          `/podplay/api/chat/history?user_id=${user}&session_id=${complete.json.session_id}`,
        )
      : null;
    return { stream: streamed, history };
  },

  async madace() {
    const agentId = "chat-assistant-001";
    const created = await json("POST", "/madace/api/v3/chat/sessions", {
      userId: "default-user",
      agentId,
      metadata: { source: "web-ui" },
    });
    const sessionId = created.body?.session?.id;
    const posted = await json("POST", `/madace/api/v3/chat/sessions/${sessionId}/messages`, {
      role: "user",
      content: "Tell me about MADACE methodology, streamed to fetch",
    });
    const streamed = await stream("/madace/api/v3/chat/stream", { sessionId, agentId });
    const messages = await json("GET", `/madace/api/v3/chat/sessions/${sessionId}/messages`);
    const unknown = await stream("/madace/api/v3/chat/stream", {
      sessionId: "no-such-session",
      agentId,
    });
    return { created, posted, stream: streamed, messages, unknown_session: unknown };
  },
};

if (!(flow in flows)) {
  console.error(`unknown flow ${flow}; one of ${Object.keys(flows).join(", ")}`);
  process.exit(2);
}
try {
  console.log(JSON.stringify(await flows[flow]()));
} catch (error) {
  console.error(error?.stack ?? String(error));
  process.exit(1);
}
