// The console API's client: JSON calls with the CSRF token on writes, streamed turns, and the
// server's events. Every failure is an ApiError whose message is the server's sentence.

const BASE = "/console/api";
let csrf = null;
let onSignedOut = () => {};

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `The server answered ${status}.`);
    this.name = "ApiError";
    this.status = status;
    this.code = (body && body.code) || "UNKNOWN";
    this.details = (body && body.details) || {};
  }
}

export function configure({ token, signedOut }) {
  if (token !== undefined) csrf = token;
  if (signedOut) onSignedOut = signedOut;
}

function url(path, query) {
  const target = new URL(BASE + path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") target.searchParams.set(key, value);
  }
  return target;
}

function headers(method, hasBody) {
  const result = { Accept: "application/json" };
  if (hasBody) result["Content-Type"] = "application/json";
  if (method !== "GET" && csrf) result["X-CSRF-Token"] = csrf;
  return result;
}

async function send(path, { method = "GET", body, query, signal } = {}) {
  try {
    return await fetch(url(path, query), {
      method,
      headers: headers(method, body !== undefined),
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      signal,
    });
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, { error: "The server cannot be reached: check that it is running, then try again.", code: "NETWORK" });
  }
}

async function failure(response) {
  const body = await response.json().catch(() => null);
  const error = new ApiError(response.status, body);
  if (response.status === 401) onSignedOut(error);
  return error;
}

export async function api(path, options = {}) {
  const response = await send(path, options);
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  return response.json();
}

/** POST and read the answer as Server-Sent Events: onEvent(name, data) for each. */
export async function stream(path, body, onEvent, signal) {
  const response = await send(path, { method: "POST", body, signal });
  if (!response.ok) throw await failure(response);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message";
      const data = [];
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data.push(line.slice(5).trimStart());
      }
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
  }
}

/** The server's events on some topics (`mcp.*`, `task.*` …): onEvent(topic, payload).
 *  Returns a function that stops listening. */
export function subscribe(topics, onEvent) {
  const source = new EventSource(url("/events", { topics: topics.join(",") }));
  source.onmessage = (message) => {
    const event = JSON.parse(message.data);
    onEvent(event.topic, event.payload);
  };
  return () => source.close();
}
