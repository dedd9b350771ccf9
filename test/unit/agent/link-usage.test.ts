// Token usage over the agent link (protocol v2): RUN_FINISHED.usage[] and RUN_ERROR.usage[] (AG-UI TokenUsage) reach
// the run's result; a malformed usage is left out and logged, and the run ends as it would without it.
import { startScriptedAgent, type ScriptedConn } from "../../support/scripted-agent";
import { capturingLogger, linkOptions, newLink, runRequest, tearDown } from "./support";

afterEach(tearDown);

const silentObserver = { onTextMessage: () => undefined };

async function v2Agent(end: (c: ScriptedConn, runId: string, threadId: string) => void) {
  return startScriptedAgent({
    protocol: 2,
    onFrame: (c, f) => {
      if (f.op !== "run") return;
      const runId = f.runId as string;
      c.event(runId, { type: "RUN_STARTED", threadId: f.threadId, runId });
      end(c, runId, f.threadId as string);
    },
  });
}

test("RUN_FINISHED.usage[] comes with the result, one entry per provider and model", async () => {
  const usage = [
    { provider: "openai", model: "gpt-x", inputTokens: 120, outputTokens: 30, totalTokens: 150, cachedInputTokens: 100 },
    { model: "small", inputTokens: 5, outputTokens: 1 },
  ];
  const agent = await v2Agent((c, runId, threadId) => c.event(runId, { type: "RUN_FINISHED", threadId, runId, usage }));
  const link = newLink(linkOptions(agent.url));
  await link.start();
  expect(await link.run(runRequest("r1"), silentObserver)).toEqual({ ok: true, usage });
});

test("RUN_ERROR.usage[] comes with the failure", async () => {
  const usage = [{ inputTokens: 40, outputTokens: 2 }];
  const agent = await v2Agent((c, runId) => c.event(runId, { type: "RUN_ERROR", code: "timeout", message: "slow", usage }));
  const link = newLink(linkOptions(agent.url));
  await link.start();
  expect(await link.run(runRequest("r1"), silentObserver)).toEqual({
    ok: false, failure: { kind: "agent_error", code: "timeout", message: "slow", retryable: false }, usage });
});

test.each([
  ["not an array", { inputTokens: 3 }, undefined],
  ["negative counts", [{ inputTokens: -5 }], undefined],
  ["a fraction, beside a good entry", [{ inputTokens: 1.5 }, { inputTokens: 7, outputTokens: 1 }], [{ inputTokens: 7, outputTokens: 1 }]],
])("a malformed usage (%s) fails only itself: logged, left out, the run finishes", async (_what, usage, kept) => {
  const { logger, lines } = capturingLogger();
  const agent = await v2Agent((c, runId, threadId) => c.event(runId, { type: "RUN_FINISHED", threadId, runId, usage }));
  const link = newLink(linkOptions(agent.url, { logger }));
  await link.start();
  expect(await link.run(runRequest("r1"), silentObserver)).toEqual(kept === undefined ? { ok: true } : { ok: true, usage: kept });
  expect(lines.filter((l) => l.msg === "agent link: malformed usage left out (the event stands)")).toHaveLength(1);
});
