// Vitest global setup: one simulator for the whole run (vitest.config: test.globalSetup).
// Tests read the URL from the environment, e.g. new OpenAI({ baseURL: process.env.OPENAI_BASE_URL }).
import { startSimulator } from "./simulator.mjs";

export default async function setup() {
  const simulator = await startSimulator({ args: ["--no-latency", "--seed", "1"] });
  process.env.SIMULATOR_URL = simulator.url; // not LLM_SIMULATOR_*: the simulator refuses unknown variables of its own prefix
  process.env.OPENAI_BASE_URL = simulator.openaiBaseURL;
  process.env.ANTHROPIC_BASE_URL = simulator.url;
  process.env.OPENAI_API_KEY ??= "sk-test";
  process.env.ANTHROPIC_API_KEY ??= "sk-ant-test";
  return simulator.stop; // Vitest calls the returned function as the teardown
}
