// An HTTP agent's state kept by the bot (AG-UI STATE_SNAPSHOT / STATE_DELTA): the state after a finished run is
// sent as `state` in the thread's next RunAgentInput, durable across a restart, per thread; a delta is applied as
// JSON Patch, one that does not apply is skipped (the run goes on); a run that sent none keeps the state as it was.
import Keyv from "keyv";
import { ConversationHistory } from "../../../src/agent/history";
import type { RunRequest } from "../../../src/agent/link-types";
import { HttpAgentTransport } from "../../../src/agent/transports/http";
import { aguiHttpAgents, startAguiHttpAgent, type AguiRequest } from "../../support/agui-http-agent";
import { silent } from "./support";

afterEach(async () => {
  await Promise.all(aguiHttpAgents.splice(0).map((a) => a.close()));
});

function request(n: number, threadId = "v1.room~g0"): RunRequest {
  return { threadId, runId: `$run${n}`, input: { messages: [{ id: `$m${n}`, role: "user", content: `message ${n}`, sender: "@alice:example.org" }],
    context: { roomId: "!room:example.org", isDirect: true } } };
}

/** Each run's state events, by the run's number (0-based, over every thread). */
const SCRIPT: Array<Array<Record<string, unknown>>> = [
  [{ type: "STATE_SNAPSHOT", snapshot: { count: 1, items: ["a"] } }, { type: "STATE_DELTA", delta: [{ op: "replace", path: "/count", value: 2 }] }],
  [{ type: "STATE_DELTA", delta: [{ op: "replace", path: "/missing/deeper", value: 1 }] }, { type: "STATE_DELTA", delta: [{ op: "add", path: "/items/-", value: "b" }] }],
  [], // no state events: the state stays
];

async function stateAgent() {
  return startAguiHttpAgent((req: AguiRequest, _res, open) => {
    const st = open();
    const { threadId, runId } = req.body;
    st.send({ type: "RUN_STARTED", threadId, runId });
    for (const event of SCRIPT[agentRuns.length] ?? []) st.send(event);
    agentRuns.push(req);
    st.send({ type: "TEXT_MESSAGE_START", messageId: `m-${runId}`, role: "assistant" });
    st.send({ type: "TEXT_MESSAGE_CONTENT", messageId: `m-${runId}`, delta: "ok" });
    st.send({ type: "TEXT_MESSAGE_END", messageId: `m-${runId}` });
    st.send({ type: "RUN_FINISHED", threadId, runId });
    st.end();
  });
}
let agentRuns: AguiRequest[] = [];

test("the agent's last state goes with the thread's next run, deltas applied, across a restart, per thread", async () => {
  agentRuns = [];
  const agent = await stateAgent();
  const kv = new Keyv();
  const transport = () => new HttpAgentTransport({ name: "coder", url: agent.url, logger: silent, history: new ConversationHistory(kv, 6, silent),
    runStartTimeoutMs: 10_000, runIdleTimeoutMs: 10_000, runDeadlineMs: 30_000, maxBodyBytes: 1_048_576 });
  const observer = { onTextMessage: () => undefined };
  const first = transport();
  await first.start();
  expect(await first.run(request(0), observer)).toEqual({ ok: true });
  expect(await first.run(request(1), observer)).toEqual({ ok: true });
  const restarted = transport(); // the same store
  await restarted.start();
  expect(await restarted.run(request(2), observer)).toEqual({ ok: true });
  expect(await restarted.run(request(3), observer)).toEqual({ ok: true });
  expect(await restarted.run(request(4, "v1.other~g0"), observer)).toEqual({ ok: true });
  expect(agentRuns.map((r) => r.body["state"])).toEqual([
    undefined, // nothing kept yet
    { count: 2, items: ["a"] }, // the snapshot with its delta applied
    { count: 2, items: ["a", "b"] }, // the delta that did not apply skipped, the next one applied
    { count: 2, items: ["a", "b"] }, // a run without state events keeps it
    undefined, // another thread has its own
  ]);
});
