// Start llm-simulator for a Node test run and stop it afterwards.
//
// Used by agent.test.mjs (node:test) and globalSetup.mjs (Vitest). The simulator itself is
// Python: install it once (`pip install llm-simulator`) so `llm-simulator` is on PATH, or
// point SIMULATOR_BIN at the executable.
import { spawn } from "node:child_process";
import { createServer } from "node:net";

// A free TCP port on 127.0.0.1 (the OS picks it; the simulator binds it right after).
function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function waitHealthy(url, child, deadlineMs) {
  while (Date.now() < deadlineMs) {
    if (child.exitCode !== null) throw new Error(`llm-simulator exited with ${child.exitCode}`);
    try {
      const response = await fetch(`${url}/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`llm-simulator did not answer ${url}/health in time`);
}

/**
 * Start `llm-simulator serve` on a free port; resolves to { url, openaiBaseURL, stop }.
 * `args` are extra serve flags, e.g. ["--no-latency", "--seed", "1", "--fixtures", "f.yaml"].
 */
export async function startSimulator({ args = ["--no-latency"], bin = process.env.SIMULATOR_BIN ?? "llm-simulator", timeoutMs = 30000 } = {}) {
  const port = await freePort();
  const child = spawn(bin, ["serve", "--host", "127.0.0.1", "--port", String(port), ...args], {
    stdio: ["ignore", "ignore", "inherit"],
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(url, child, Date.now() + timeoutMs);
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  const stop = () =>
    new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once("exit", () => resolve());
      child.kill("SIGINT"); // a clean shutdown, as Ctrl-C
      setTimeout(() => child.kill("SIGKILL"), 10000).unref();
    });
  return { url, openaiBaseURL: `${url}/v1`, stop };
}
