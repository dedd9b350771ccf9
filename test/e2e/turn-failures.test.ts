// Every way a turn can fail becomes one reply with its own text (FAILURE_TEXTS), and no reply ever carries a
// stack trace or a secret. Client mode; the agent is the reference agent with a brain, or a scripted one.
import { RUN_ERROR_CODES } from "../../src/agent/protocol";
import { AgentRunError } from "../../src/reference-agent/brain";
import { FAILURE_TEXTS, type FailureTextKey } from "../../src/turns/failure-text";
import { freePort } from "../support/bot-harness";
import { gatedBrain, pause, recordingBrain } from "../support/brains";
import { Scenario } from "../support/scenario";
import { closeScriptedAgents, startScriptedAgent, type ScriptedConn } from "../support/scripted-agent";

const SECRET = "sk-live-0123456789abcdefSECRET";

/** Every message the bot posted anywhere: no stack frame, no token, no provider secret. */
function expectNothingLeaked(s: Scenario): void {
  const texts = s.hs.sent({ sender: s.botUserId }).flatMap((e) => [e.content["body"], e.content["formatted_body"]])
    .filter((t): t is string => typeof t === "string");
  expect(texts.length).toBeGreaterThan(0);
  for (const text of texts) {
    expect(text).not.toContain("at /");
    expect(text).not.toMatch(/Error:|\bstack\b/);
    expect(text).not.toContain(SECRET);
    expect(text).not.toContain(s.botToken);
    if (s.agentToken !== "") expect(text).not.toContain(s.agentToken);
  }
}

/** The one reply to a failed turn: a notice with exactly the class's text. */
async function expectFailureReply(s: Scenario, roomId: string, key: FailureTextKey, index = 0): Promise<void> {
  const msgs = await s.waitBotMessages(roomId, index + 1, `the ${key} reply`);
  expect(msgs[index]?.content).toMatchObject({ msgtype: "m.notice", body: FAILURE_TEXTS[key] });
}

/** A scripted agent that does `onRun` for every run frame (and nothing else). */
async function scriptedWith(onRun: (conn: ScriptedConn, runId: string) => void): Promise<{ AGENT_URL: string }> {
  const agent = await startScriptedAgent({ onFrame: (conn, f) => f.op === "run" && onRun(conn, String(f.runId)) });
  return { AGENT_URL: agent.url };
}

describe("failure replies", () => {
  let s: Scenario;
  afterEach(async () => {
    await s?.stop();
    await closeScriptedAgents();
  });

  it("unreachable: the agent's port is closed", async () => {
    const port = await freePort();
    s = await Scenario.start({ mode: "client", env: { AGENT_URL: `ws://127.0.0.1:${port}`, RUN_START_TIMEOUT_MS: "200" } });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "anyone home?");
    await expectFailureReply(s, roomId, "unreachable");
    await s.hs.waitFor(() => s.hs.typing.filter((t) => t.roomId === roomId && t.userId === s.botUserId).at(-1)?.typing === false,
      { what: "typing off after the failure" });
    expectNothingLeaked(s);
  });

  it("link lost mid-run: told once, the run is not resent, and the next turn works", async () => {
    const { brain, seen } = gatedBrain();
    s = await Scenario.start({ mode: "client", brain });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "first");
    await s.hs.waitFor(() => seen.length === 1, { what: "the run reached the agent" });
    s.agent?.dropConnections();
    await expectFailureReply(s, roomId, "link_lost");
    await s.bot.logs.waitFor((l) => l.msg === "agent link up" && l["resumed"] === true, "the link resumed its session");
    await s.expectSteady(() => expect(seen).toHaveLength(1)); // the bot never resends a user run after a reconnect
    await s.alice.sendText(roomId, "again");
    const msgs = await s.waitBotMessages(roomId, 2);
    expect(msgs[1]?.content["body"]).toBe("answered: again");
    expect(seen.map((r) => r.contents)).toEqual([["first"], ["again"]]);
    expectNothingLeaked(s);
  });

  it("no start: the agent never sends RUN_STARTED", async () => {
    const env = await scriptedWith(() => undefined);
    s = await Scenario.start({ mode: "client", env: { ...env, RUN_START_TIMEOUT_MS: "200" } });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "hello?");
    await expectFailureReply(s, roomId, "no_start");
    expectNothingLeaked(s);
  });

  it("idle: RUN_STARTED, then silence", async () => {
    const env = await scriptedWith((conn, runId) => conn.event(runId, { type: "RUN_STARTED" }));
    s = await Scenario.start({ mode: "client", env: { ...env, RUN_IDLE_TIMEOUT_MS: "200" } });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "hello?");
    await expectFailureReply(s, roomId, "idle");
    expectNothingLeaked(s);
  });

  it("deadline: a run that keeps streaming past RUN_DEADLINE_MS is stopped and cancelled at the agent", async () => {
    let cancelled = false;
    const { brain } = recordingBrain(async (_run, out, signal) => {
      const id = out.startMessage();
      try {
        for (;;) {
          out.delta(id, "more ");
          await pause(30, signal);
        }
      } catch (e) {
        cancelled = signal.aborted;
        throw e;
      }
    });
    s = await Scenario.start({ mode: "client", brain, env: { RUN_DEADLINE_MS: "400" } });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "go on forever");
    // The text shown live so far is kept, marked interrupted (not live any more); then the failure reply.
    await expectFailureReply(s, roomId, "deadline", 1);
    expect(String(s.botMessages(roomId)[0]?.content["body"])).toMatch(/^more( more)*\n\n\(interrupted\)$/);
    await s.hs.waitFor(() => cancelled, { what: "the agent was told to cancel" });
    expectNothingLeaked(s);
  });

  it("every RUN_ERROR code gets its own text; nothing of the agent's message reaches the room", async () => {
    // thread_busy last: the bot tries it again a few times (it serializes runs itself) before telling the user.
    const codes = [...RUN_ERROR_CODES.filter((c) => c !== "thread_busy"), "thread_busy" as const];
    const { brain, seen } = recordingBrain((run) => {
      const code = run.contents[0]?.replace("fail ", "") as (typeof codes)[number];
      throw new AgentRunError(code, `upstream said: key ${SECRET} at /srv/llm.js:10:5`);
    });
    s = await Scenario.start({ mode: "client", brain, env: { AGENT_BUSY_RETRIES: "2", AGENT_BUSY_RETRY_MS: "50" } });
    const roomId = await s.openDm();
    for (const [i, code] of codes.entries()) {
      await s.alice.sendText(roomId, `fail ${code}`);
      await expectFailureReply(s, roomId, `agent_${code}`, i);
    }
    expect(seen.filter((r) => r.contents[0] === "fail thread_busy").length).toBeGreaterThan(1);
    expect(seen.filter((r) => r.contents[0] === "fail rate_limited")).toHaveLength(1); // not retried by the bot
    expectNothingLeaked(s);
  });

  it("an agent crash with a secret in its error reads as an internal error, nothing more", async () => {
    const { brain } = recordingBrain(() => {
      throw new Error(`ECONNREFUSED calling https://api.example/v1?key=${SECRET}`);
    });
    s = await Scenario.start({ mode: "client", brain });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "crash please");
    await expectFailureReply(s, roomId, "agent_internal");
    expectNothingLeaked(s);
  });

  it("a malformed frame naming the run fails that run; one naming no run is only logged", async () => {
    const env = await scriptedWith((conn, runId) => {
      const nth = conn.frames.filter((f) => f.op === "run").length;
      if (nth === 1) {
        conn.event(runId, { type: "RUN_STARTED" });
        conn.raw(JSON.stringify({ op: "event", seq: ++conn.seq, threadId: "t", runId, event: { type: "TEXT_MESSAGE_CONTENT", messageId: "" } }));
      } else if (nth === 2) {
        conn.raw(JSON.stringify({ op: "event", seq: "not a number" })); // names no run
        conn.answer(runId, "still fine");
      } else {
        conn.raw(JSON.stringify({ op: "error", runId, code: "bad_frame", message: "I did not like that run" }));
      }
    });
    s = await Scenario.start({ mode: "client", env });
    const roomId = await s.openDm();
    await s.alice.sendText(roomId, "one");
    await expectFailureReply(s, roomId, "bad_frame");
    await s.alice.sendText(roomId, "two");
    const msgs = await s.waitBotMessages(roomId, 2);
    expect(msgs[1]?.content["body"]).toBe("still fine");
    await s.bot.logs.waitFor((l) => l.msg === "agent link: malformed frame rejected" && l["runId"] === undefined, "the malformed frame logged");
    await s.alice.sendText(roomId, "three");
    await expectFailureReply(s, roomId, "bad_frame", 2);
    expectNothingLeaked(s);
  });
});
