// The official `openai` npm package against the simulator (needs `npm install openai`).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import OpenAI from "openai";
import { startSimulator } from "./simulator.mjs";

let simulator;
let client;
before(async () => {
  simulator = await startSimulator();
  client = new OpenAI({ baseURL: simulator.openaiBaseURL, apiKey: "sk-test", maxRetries: 0 });
});
after(() => simulator?.stop());

test("a streamed completion", async () => {
  const stream = await client.chat.completions.create({
    model: "gpt-4o-mini",
    messages: [{ role: "user", content: "Hello" }],
    stream: true,
  });
  let text = "";
  for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
  assert.ok(text.length > 0);
});

test("tool arguments that are not JSON", async () => {
  const completion = await client.chat.completions.create(
    {
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "Weather in Paris?" }],
      tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } }],
    },
    { headers: { "x-simulator-chaos": "misbehave=invalid_tool_arguments" } },
  );
  const call = completion.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, "get_weather");
  assert.throws(() => JSON.parse(call.function.arguments), SyntaxError);
});

test("a rate limit is an OpenAI.RateLimitError", async () => {
  await assert.rejects(
    client.chat.completions.create(
      { model: "gpt-4o-mini", messages: [{ role: "user", content: "Hello" }] },
      { headers: { "x-simulator-chaos": "error=rate_limit" } },
    ),
    OpenAI.RateLimitError,
  );
});
