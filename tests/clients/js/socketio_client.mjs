// The official socket.io client, `socket.io-client`, at the URLs the README gives each dialect.
// usage: node socketio_client.mjs <scenario>   (MENAGERIE_URL, MENAGERIE_TOKEN in the env)
// Prints one JSON object of what the client saw; the assertions are the Python test's.
import { io } from "socket.io-client";

const base = process.env.MENAGERIE_URL;
const token = process.env.MENAGERIE_TOKEN;
const scenario = process.argv[2];
const WAIT_MS = 10_000;

function open(url, options = {}) {
  const socket = io(url, { reconnection: false, timeout: WAIT_MS, ...options });
  const inbox = [];
  const waiters = [];
  socket.onAny((event, data) => {
    const index = waiters.findIndex((w) => w.event === event);
    if (index >= 0) waiters.splice(index, 1)[0].resolve(data);
    else inbox.push([event, data]);
  });
  const next = (event) =>
    new Promise((resolve, reject) => {
      const index = inbox.findIndex(([name]) => name === event);
      if (index >= 0) return resolve(inbox.splice(index, 1)[0][1]);
      const timer = setTimeout(() => reject(new Error(`no ${event} within ${WAIT_MS} ms`)), WAIT_MS);
      waiters.push({ event, resolve: (data) => (clearTimeout(timer), resolve(data)) });
    });
  const connected = new Promise((resolve) => {
    socket.on("connect", () => resolve({ connected: true, id: socket.id }));
    socket.on("connect_error", (error) =>
      resolve({ connected: false, message: error.message, data: error.data ?? null }),
    );
  });
  const heard = () => inbox.map(([name]) => name);
  return { socket, next, connected, heard };
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

async function upgraded(socket) {
  // default transports: long-polling first, then the upgrade to a WebSocket
  const engine = socket.io.engine;
  for (let waited = 0; engine.transport.name !== "websocket" && waited < WAIT_MS; waited += 50) {
    await sleep(50);
  }
  return engine.transport.name;
}

// PodPlay's own example: io(base, {auth: {token}}), `mama_bear_message` -> `mama_bear_response`
async function podplay() {
  const urls = [
    ["root", base, {}],
    ["namespace", `${base}/podplay`, {}],
    ["path", base, { path: "/podplay/socket.io" }],
  ];
  const seen = [];
  for (const [where, url, extra] of urls) {
    for (const transports of [undefined, ["websocket"]]) {
      const options = { auth: { token }, ...extra, ...(transports ? { transports } : {}) };
      const client = open(url, options);
      const outcome = await client.connected;
      const row = { where, transports: transports ?? "default", ...outcome };
      if (outcome.connected) {
        row.greeting = await client.next("connected");
        client.socket.emit("mama_bear_message", {
          message: `Help me build a React component (${where})`,
          user_id: "nathan_sanctuary",
          session_id: `js-${where}`,
          context: { file: "src/components/ProjectList.tsx" },
        });
        row.answer = await client.next("mama_bear_response");
        row.transport = await upgraded(client.socket);
      }
      client.socket.close();
      seen.push(row);
    }
  }
  return { seen };
}

// `typing_indicator` between a client at the root and one at the namespace, same session
async function typing() {
  const alice = open(base, { auth: { token } });
  const bob = open(`${base}/podplay`, { auth: { token } });
  const outcomes = [await alice.connected, await bob.connected];
  await alice.next("connected");
  await bob.next("connected");
  bob.socket.emit("typing_indicator", { session_id: "js-typing", typing: false });
  await sleep(300); // bob joins the session's room with his first indicator
  alice.socket.emit("typing_indicator", {
    session_id: "js-typing",
    user_id: "alice",
    typing: true,
  });
  const relayed = await bob.next("typing_indicator");
  await sleep(300);
  const echoed = alice.heard().includes("typing_indicator");
  alice.socket.close();
  bob.socket.close();
  return { outcomes, relayed, echoed };
}

// Crazy Gary: the documented `<base>/socket.io/?token=<jwt>` and `io(base, {auth: {token}})`
async function gary() {
  const ways = [
    ["path+query", base, { path: "/gary/socket.io", query: { token } }],
    ["path+auth", base, { path: "/gary/socket.io", auth: { token } }],
    ["namespace+auth", `${base}/gary`, { auth: { token } }],
    ["namespace+query", `${base}/gary`, { query: { token }, transports: ["websocket"] }],
  ];
  const seen = [];
  for (const [how, url, options] of ways) {
    const client = open(url, options);
    const row = { how, ...(await client.connected) };
    if (row.connected) {
      // PodPlay's events are PodPlay's: a Crazy Gary client is not answered
      client.socket.emit("mama_bear_message", { message: "hello" });
      await sleep(500);
      row.heard = client.heard();
    }
    client.socket.close();
    seen.push(row);
  }
  return { seen };
}

// refused connections say why in connect_error, never an empty message
async function refused() {
  const cases = [
    ["no token", `${base}/podplay`, {}],
    ["bad token", base, { auth: { token: "podplay_api_not-a-real-token" } }],
    ["bad gary token", base, { path: "/gary/socket.io", query: { token: "not.a.jwt" } }],
    ["unknown namespace", `${base}/nowhere`, { auth: { token } }],
  ];
  const seen = [];
  for (const [what, url, options] of cases) {
    const client = open(url, options);
    seen.push({ what, ...(await client.connected) });
    client.socket.close();
  }
  return { seen };
}

const scenarios = { podplay, typing, gary, refused };
if (!base || !token || !scenarios[scenario]) {
  console.error(`usage: node socketio_client.mjs ${Object.keys(scenarios).join("|")}`);
  process.exit(2);
}
console.log(JSON.stringify(await scenarios[scenario]()));
process.exit(0);
