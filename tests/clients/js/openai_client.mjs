// The official `openai` npm client against Menagerie's /v1, only the base URL changed.
// usage: node openai_client.mjs <scenario>   (MENAGERIE_URL, MENAGERIE_TOKEN in the environment)
// Prints one JSON object of what the client saw; the Python test asserts on it.
import OpenAI from "openai";

const base = process.env.MENAGERIE_URL;
const token = process.env.MENAGERIE_TOKEN;
const scenario = process.argv[2];
if (!base || !token || !scenario) {
  console.error("usage: MENAGERIE_URL=… MENAGERIE_TOKEN=… node openai_client.mjs <scenario>");
  process.exit(2);
}

const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: token, maxRetries: 0, timeout: 20_000 });
const MODEL = "menagerie-offline";
const TIME_TOOL = {
  type: "function",
  function: {
    name: "get_time",
    description: "The current time in a time zone",
    parameters: { type: "object", properties: { tz: { type: "string" } } },
  },
};

function describeError(error) {
  if (!(error instanceof OpenAI.APIError)) throw error;
  return {
    class: error.constructor.name,
    is_api_error: true,
    is_not_found: error instanceof OpenAI.NotFoundError,
    is_authentication: error instanceof OpenAI.AuthenticationError,
    status: error.status ?? null,
    code: error.code ?? null,
    type: error.type ?? null,
    param: error.param ?? null,
    message: error.message,
    request_id: error.requestID ?? null,
  };
}

async function refused(call) {
  try {
    await call();
  } catch (error) {
    return describeError(error);
  }
  return { refused: false };
}

async function readStream(stream) {
  const chunks = [];
  for await (const chunk of stream) {
    chunks.push({
      object: chunk.object,
      id: chunk.id,
      model: chunk.model,
      usage: chunk.usage ?? null,
      choices: chunk.choices.map((choice) => ({
        index: choice.index,
        role: choice.delta?.role ?? null,
        content: choice.delta?.content ?? null,
        tool_calls: choice.delta?.tool_calls ?? null,
        finish_reason: choice.finish_reason ?? null,
      })),
    });
  }
  return chunks;
}

function summary(completion) {
  const choice = completion.choices[0];
  return {
    object: completion.object,
    id: completion.id,
    model: completion.model,
    choices: completion.choices.length,
    finish_reason: choice.finish_reason,
    role: choice.message.role,
    content: choice.message.content,
    tool_calls: choice.message.tool_calls ?? null,
    usage: completion.usage ?? null,
  };
}

const scenarios = {
  async models() {
    const ids = [];
    const owners = {};
    for await (const model of client.models.list()) {
      ids.push(model.id);
      owners[model.id] = model.owned_by;
    }
    const retrieved = await client.models.retrieve(MODEL);
    return { ids, owners, retrieved: { id: retrieved.id, object: retrieved.object } };
  },

  async completion() {
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Say hi to Menagerie from JavaScript" },
      ],
    });
    // the raw response as well: headers a browser client can read
    const { response } = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: "user", content: "again" }] })
      .withResponse();
    return {
      ...summary(completion),
      content_type: response.headers.get("content-type"),
    };
  },

  async stream() {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "stream this to the JavaScript client please" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    return { chunks: await readStream(stream) };
  },

  async stream_helper() {
    // the SDK's own accumulating helper: events, then the final completion it assembled
    const deltas = [];
    const runner = client.chat.completions.stream({
      model: MODEL,
      messages: [{ role: "user", content: "assemble this" }],
      stream_options: { include_usage: true },
    });
    runner.on("content", (delta) => deltas.push(delta));
    const final = await runner.finalChatCompletion();
    return { deltas, final: summary(final) };
  },

  async tools() {
    const messages = [{ role: "user", content: '/tool get_time {"tz": "UTC"}' }];
    const first = await client.chat.completions.create({
      model: MODEL,
      messages,
      tools: [TIME_TOOL],
    });
    const call = first.choices[0].message.tool_calls?.[0];
    let second = null;
    if (call) {
      messages.push(first.choices[0].message);
      messages.push({ role: "tool", tool_call_id: call.id, content: "12:00" });
      second = await client.chat.completions.create({ model: MODEL, messages, tools: [TIME_TOOL] });
    }
    // a conversation with a tool round in it, written by hand as a client replays history
    const replayed = await client.chat.completions.create({
      model: MODEL,
      tools: [TIME_TOOL],
      messages: [
        { role: "user", content: "what time is it in UTC?" },
        {
          role: "assistant",
          content: null,
          tool_calls: [
            {
              id: "call_js_1",
              type: "function",
              function: { name: "get_time", arguments: '{"tz":"UTC"}' },
            },
          ],
        },
        { role: "tool", tool_call_id: "call_js_1", content: "13:37" },
      ],
    });
    const streamed = await readStream(
      await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: "user", content: "/tool get_time {}" }],
        tools: [TIME_TOOL],
        stream: true,
      }),
    );
    return {
      first: summary(first),
      second: second && summary(second),
      replayed: summary(replayed),
      streamed,
    };
  },

  async run_tools() {
    // the SDK runs the function itself and sends its result back
    const seen = [];
    const runner = client.chat.completions.runTools({
      model: MODEL,
      messages: [{ role: "user", content: '/tool get_time {"tz": "Europe/Paris"}' }],
      tools: [
        {
          type: "function",
          function: {
            name: "get_time",
            description: "The current time in a time zone",
            parameters: TIME_TOOL.function.parameters,
            parse: JSON.parse,
            function: (args) => {
              seen.push(args);
              return `noon in ${args.tz}`;
            },
          },
        },
      ],
    });
    const content = await runner.finalContent();
    return { seen, content, messages: runner.messages.length };
  },

  async errors() {
    const unknownModel = await refused(() =>
      client.chat.completions.create({
        model: "no-such-model",
        messages: [{ role: "user", content: "hi" }],
      }),
    );
    const unknownRetrieve = await refused(() => client.models.retrieve("no-such-model"));
    const unknownAgent = await refused(() =>
      client.chat.completions.create({
        model: "agent:no-such-agent",
        messages: [{ role: "user", content: "hi" }],
      }),
    );
    const badKey = new OpenAI({ baseURL: `${base}/v1`, apiKey: "sk-not-a-menagerie-key", maxRetries: 0 });
    const badKeyModels = await refused(() => badKey.models.list());
    const badKeyChat = await refused(() =>
      badKey.chat.completions.create({ model: MODEL, messages: [{ role: "user", content: "hi" }] }),
    );
    return {
      unknown_model: unknownModel,
      unknown_retrieve: unknownRetrieve,
      unknown_agent: unknownAgent,
      bad_key_models: badKeyModels,
      bad_key_chat: badKeyChat,
    };
  },

  async agent() {
    const completion = await client.chat.completions.create({
      model: "agent:mama-bear",
      messages: [{ role: "user", content: "Hello Mama Bear, from the JavaScript client" }],
    });
    const streamed = await readStream(
      await client.chat.completions.create({
        model: "agent:mama-bear",
        messages: [{ role: "user", content: "Stream to me, Mama Bear" }],
        stream: true,
        stream_options: { include_usage: true },
      }),
    );
    return { completion: summary(completion), streamed };
  },
};

if (!(scenario in scenarios)) {
  console.error(`unknown scenario ${scenario}; one of ${Object.keys(scenarios).join(", ")}`);
  process.exit(2);
}
try {
  console.log(JSON.stringify(await scenarios[scenario]()));
} catch (error) {
  console.error(error?.stack ?? String(error));
  if (error instanceof OpenAI.APIError) console.error(JSON.stringify(describeError(error)));
  process.exit(1);
}
