// Secret Panthers' WebSockets (seed 002 "WebSocket API") with the `ws` package.
// usage: node panthers_ws.mjs <ws url with ?token=…> '<JSON list of messages to send>'
// Sends each message in turn and reads its answers: a `chat_stream` until the `chat_chunk`
// with `done: true` (or an error), anything else until one answer. Prints one JSON object:
// what the handshake gave, every exchange, and how the socket closed.
import WebSocket from "ws";

const [url, plan = "[]"] = process.argv.slice(2);
if (!url) {
  console.error("usage: node panthers_ws.mjs <ws url> '<JSON list of messages>'");
  process.exit(2);
}
const messages = JSON.parse(plan);
const WAIT_MS = 15_000;

function connect() {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    const inbox = [];
    const waiters = [];
    const closed = new Promise((done) =>
      socket.on("close", (code, reason) => done({ code, reason: reason.toString() })),
    );
    socket.on("message", (data, isBinary) => {
      const text = data.toString();
      let event;
      try {
        event = JSON.parse(text);
      } catch {
        event = { unparsed: text, binary: isBinary };
      }
      const waiter = waiters.shift();
      if (waiter) waiter(event);
      else inbox.push(event);
    });
    const next = () =>
      new Promise((resolve_, reject) => {
        if (inbox.length) return resolve_(inbox.shift());
        const timer = setTimeout(() => reject(new Error("no answer within 15 s")), WAIT_MS);
        waiters.push((event) => {
          clearTimeout(timer);
          resolve_(event);
        });
      });
    socket.on("open", () => resolve({ opened: true, socket, next, closed }));
    // a refusal before the handshake completes: the HTTP answer in place of the upgrade
    socket.on("unexpected-response", (request, response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (piece) => (body += piece));
      response.on("end", () => {
        request.destroy();
        let parsed = null;
        try {
          parsed = JSON.parse(body);
        } catch {}
        resolve({
          opened: false,
          refusal: {
            status: response.statusCode,
            content_type: response.headers["content-type"] ?? null,
            body: parsed ?? body,
          },
        });
      });
    });
    socket.on("error", (error) => resolve({ opened: false, error: String(error?.message ?? error) }));
  });
}

async function main() {
  const connection = await connect();
  if (!connection.opened) return connection;
  const { socket, next, closed } = connection;
  const exchanges = [];
  for (const message of messages) {
    socket.send(typeof message === "string" ? message : JSON.stringify(message));
    const received = [];
    while (true) {
      const event = await next();
      received.push(event);
      const streaming = typeof message === "object" && message.type === "chat_stream";
      if (!streaming || event.type !== "chat_chunk" || event.done === true) break;
    }
    exchanges.push({ sent: message, received });
  }
  socket.close(1000, "client done");
  return { opened: true, protocol: socket.protocol, exchanges, close: await closed };
}

try {
  console.log(JSON.stringify(await main()));
} catch (error) {
  console.error(error?.stack ?? String(error));
  process.exit(1);
}
