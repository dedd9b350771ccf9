// Test support for the reference agent: a configured agent on 127.0.0.1 with its store in a temp DATA_DIR,
// a fake OpenAI-compatible server, a bot link to it, and a controllable clock (the raw protocol client is the
// agent tests' one).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import type { AgentInitiatedRun } from "../../../src/agent/link";
import { loadAgentConfig, type AgentConfig } from "../../../src/reference-agent/config";
import { startReferenceAgentFromConfig, type ConfiguredAgent } from "../../../src/reference-agent/from-config";
import type { SchedulerClock } from "../../../src/reference-agent/schedule";
import { startFakeOpenAI, type FakeOpenAI } from "../../support/fake-openai";
import { linkOptions, MemorySessionStore, newLink, silent, tearDown, waitFor } from "../agent/support";

export { barrier, expectSteady, runRequest, silent, waitFor, freePort, MemorySessionStore, rawClient, hello, type Frame } from "../agent/support";
export { ManualClock } from "../../support/manual-clock";

const dirs: string[] = [];
const agents: ConfiguredAgent[] = [];
const fakes: FakeOpenAI[] = [];

export function tempDataDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ref-agent-"));
  dirs.push(dir);
  return dir;
}

export async function fakeOpenAI(): Promise<FakeOpenAI> {
  const fake = await startFakeOpenAI();
  fakes.push(fake);
  return fake;
}

/** loadAgentConfig over `env` (DATA_DIR and LOG_LEVEL filled in); throws on problems. */
export function agentConfig(env: Record<string, string>): AgentConfig {
  const result = loadAgentConfig({ LOG_LEVEL: "silent", ...env });
  if (!result.ok) throw new Error(result.message);
  return result.config;
}

export function llmEnv(fake: FakeOpenAI, dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return { DATA_DIR: dataDir, LLM_BASE_URL: fake.baseUrl, LLM_MODEL: "fake-model", LLM_API_KEY: "sk-test-key", ...extra };
}

export async function startAgent(env: Record<string, string>, opts: { clock?: SchedulerClock } = {}): Promise<ConfiguredAgent> {
  const agent = await startReferenceAgentFromConfig(agentConfig(env), {
    logger: silent,
    host: "127.0.0.1",
    port: 0,
    token: null,
    heartbeatMs: 5_000,
    timezone: "UTC",
    ...(opts.clock ? { clock: opts.clock } : {}),
  });
  agents.push(agent);
  return agent;
}

/** A bot link to `url` that records agent-initiated runs (handled at once, so they are acked). */
export async function botLink(url: string, sessionStore = new MemorySessionStore()) {
  const delivered: AgentInitiatedRun[] = [];
  const link = newLink(linkOptions(url, { sessionStore }));
  link.onAgentInitiated(async (run) => {
    delivered.push(run);
    return "handled";
  });
  await link.start();
  await waitFor(() => link.state() === "up", "link up");
  return { link, delivered, sessionStore };
}

export async function cleanup(): Promise<void> {
  await tearDown(); // raw clients and links
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await Promise.all(fakes.splice(0).map((f) => f.close()));
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
}

/** Stop one agent now (e.g. to restart it on the same DATA_DIR). */
export async function stopAgent(agent: ConfiguredAgent): Promise<void> {
  const i = agents.indexOf(agent);
  if (i >= 0) agents.splice(i, 1);
  await agent.close();
}
