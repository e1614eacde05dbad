// node --test examples/node/agent.test.mjs — no npm packages: the built-in runner and fetch.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startSimulator } from "./simulator.mjs";

let simulator;
before(async () => {
  simulator = await startSimulator({ args: ["--no-latency", "--seed", "1"] });
});
after(() => simulator?.stop());

async function chat(content, headers = {}) {
  const response = await fetch(`${simulator.openaiBaseURL}/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer sk-test", ...headers },
    body: JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content }] }),
  });
  return { status: response.status, body: await response.json() };
}

test("a normal answer", async () => {
  const { status, body } = await chat("Hello");
  assert.equal(status, 200);
  assert.ok(body.choices[0].message.content.length > 0);
});

test("a fixture answers a chosen prompt", async () => {
  const fixtures = { rules: [{ match: { message: "ping" }, respond: { text: "pong" } }] };
  const loaded = await fetch(`${simulator.url}/admin/fixtures`, { method: "POST", body: JSON.stringify(fixtures) });
  assert.equal(loaded.status, 200);
  const { body } = await chat("ping");
  assert.equal(body.choices[0].message.content, "pong");
});

test("the model refuses (misbehaviour chaos)", async () => {
  const { body } = await chat("Hello", { "x-simulator-chaos": "misbehave=refusal" });
  assert.equal(body.choices[0].message.content, null);
  assert.match(body.choices[0].message.refusal, /can't help/);
});

test("a 429 the client must retry", async () => {
  const { status, body } = await chat("Hello", { "x-simulator-chaos": "error=rate_limit" });
  assert.equal(status, 429);
  assert.equal(body.error.code, "rate_limit_exceeded");
});
