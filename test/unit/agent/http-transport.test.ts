// The AG-UI HTTP transport against an independent AG-UI server (test/support/agui-http-agent.ts, @ag-ui/encoder)
// over real HTTP on 127.0.0.1: events decoded as the WebSocket envelope's, failures in words, /stop closes the
// request, and the bot's own history sent to a stateless agent.
import Keyv from "keyv";
import { ConversationHistory } from "../../../src/agent/history";
import type { RunObserver, RunRequest } from "../../../src/agent/link-types";
import { HttpAgentTransport, type HttpTransportOptions } from "../../../src/agent/transports/http";
import type { WorkEvent } from "../../../src/agent/run-events";
import { failureText } from "../../../src/turns/failure-text";
import { aguiHttpAgents, startAguiHttpAgent, type AguiHttpAgent } from "../../support/agui-http-agent";
import { waitFor } from "../../support/wait";
import { capturingLogger, silent } from "./support";

afterEach(async () => {
  await Promise.all(aguiHttpAgents.splice(0).map((a) => a.close()));
});

function transport(agent: AguiHttpAgent, over: Partial<HttpTransportOptions> = {}, kv = new Keyv()): HttpAgentTransport {
  return new HttpAgentTransport({ name: "coder", url: agent.url, logger: silent, history: new ConversationHistory(kv, 6, silent),
    runStartTimeoutMs: 10_000, runIdleTimeoutMs: 10_000, runDeadlineMs: 30_000, maxBodyBytes: 1_048_576, ...over });
}

function request(text: string, id = `$${text.replace(/\W/g, "")}`, threadId = "v1.room~g0"): RunRequest {
  return { threadId, runId: id, input: { messages: [{ id, role: "user", content: text, sender: "@alice:example.org", senderName: "Alice" }],
    context: { roomId: "!room:example.org", isDirect: true } } };
}

function recorder(): { observer: RunObserver; texts: string[]; progress: string[]; work: WorkEvent[] } {
  const texts: string[] = [];
  const progress: string[] = [];
  const work: WorkEvent[] = [];
  return { texts, progress, work, observer: {
    onTextProgress: (_id, text) => void progress.push(text), onWork: (e) => void work.push(e),
    onTextMessage: (_id, text) => void texts.push(text) } };
}

describe("AG-UI over HTTP", () => {
  it("streams the answer live, tool lines included, as one POST with the bearer token", async () => {
    const agent = await startAguiHttpAgent();
    const t = transport(agent, { token: "http-agent-token" });
    await t.start();
    const r = recorder();
    const result = await t.run(request("use a tool please"), r.observer);
    expect(result).toEqual({ ok: true });
    expect(r.texts).toEqual(["You said: use a tool please (I remember 0 earlier messages)"]);
    expect(r.progress).toEqual(["You said: ", "You said: use a tool please (I remember 0 earlier messages)"]);
    expect(r.work.map((w) => w.kind)).toEqual(["tool_start", "tool_args", "tool_end", "tool_result"]);
    expect(agent.requests).toHaveLength(1);
    expect(agent.requests[0]?.headers["authorization"]).toBe("Bearer http-agent-token");
    expect(agent.requests[0]?.headers["accept"]).toBe("text/event-stream");
    expect(agent.requests[0]?.body.messages[0]).toMatchObject({ role: "user", content: "use a tool please", name: "Alice" });
  });

  it("sends a stateless agent the conversation so far, per thread, bounded, and durable across transports", async () => {
    const agent = await startAguiHttpAgent();
    const kv = new Keyv();
    const first = transport(agent, {}, kv);
    await first.start();
    await first.run(request("my name is Ada"), recorder().observer);
    const again = transport(agent, {}, kv); // a restarted bot over the same store
    await again.start();
    const r = recorder();
    await again.run(request("what is my name?"), r.observer);
    expect(r.texts).toEqual(["You said: what is my name? (I remember 2 earlier messages)"]);
    expect(agent.requests[1]?.body.messages.map((m) => [m.role, m.content])).toEqual([
      ["user", "my name is Ada"], ["assistant", "You said: my name is Ada (I remember 0 earlier messages)"], ["user", "what is my name?"]]);
    await again.run(request("elsewhere", "$e", "v1.other~g0"), recorder().observer); // another thread starts empty
    expect(agent.requests[2]?.body.messages).toHaveLength(1);
    for (const n of [1, 2, 3, 4]) await again.run(request(`message ${n}`), recorder().observer);
    expect(agent.requests[agent.requests.length - 1]?.body.messages).toHaveLength(7); // 6 kept + the new one
  });

  it("sends a stateless agent its own tool calls and their results in the history, never a result without its call", async () => {
    const agent = await startAguiHttpAgent();
    const t = transport(agent);
    await t.start();
    await t.run(request("use a tool please"), recorder().observer);
    await t.run(request("what did it find?"), recorder().observer);
    expect(agent.requests[1]?.body.messages).toEqual([
      expect.objectContaining({ role: "user", content: "use a tool please" }),
      expect.objectContaining({ role: "assistant", toolCalls: [{ id: "tc1", type: "function", function: { name: "search_docs", arguments: "{\"q\":\"x\"}" } }] }),
      expect.objectContaining({ role: "tool", toolCallId: "tc1", content: "found it" }),
      expect.objectContaining({ role: "assistant", content: "You said: use a tool please (I remember 0 earlier messages)" }),
      expect.objectContaining({ role: "user", content: "what did it find?" }),
    ]);
    // Bounded to 6: two turns later the first turn's question and tool call are dropped, and so its result.
    await t.run(request("one more"), recorder().observer);
    expect(agent.requests[2]?.body.messages.map((m) => m.role)).toEqual(["user", "assistant", "tool", "assistant", "user", "assistant", "user"]);
    await t.run(request("and another"), recorder().observer);
    const sent = agent.requests[3]?.body.messages ?? [];
    expect(sent.map((m) => m.role)).toEqual(["assistant", "user", "assistant", "user", "assistant", "user"]);
    expect(sent[0]).toMatchObject({ content: "You said: use a tool please (I remember 0 earlier messages)" });
  });

  it.each([
    [401, {}, "http_auth"], [403, {}, "http_auth"], [429, { "Retry-After": "30" }, "http_rate_limited"],
    [503, {}, "http_unavailable"], [500, {}, "http_unavailable"],
  ])("tells HTTP %i in words, never the body, and does not retry", async (status, headers, kind) => {
    const agent = await startAguiHttpAgent((_req, res) => {
      res.writeHead(status, { "Content-Type": "application/json", ...headers }).end(JSON.stringify({ error: "secret-internal-detail" }));
    });
    const { logger, lines } = capturingLogger();
    const t = transport(agent, { logger });
    await t.start();
    const result = await t.run(request("hello"), recorder().observer);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.failure.kind).toBe(kind);
    const text = failureText(result.failure);
    expect(text).not.toContain("secret-internal-detail");
    if (status === 429) expect(text).toBe("⚠️ My agent is rate-limiting me, so I couldn't answer. Please try again in 30 seconds.");
    expect(JSON.stringify(lines)).not.toContain("secret-internal-detail");
    expect(agent.requests).toHaveLength(1);
  });

  it("tells a stream cut before RUN_FINISHED as a lost link, and an agent that is not there as unreachable", async () => {
    const agent = await startAguiHttpAgent((req, _res, open) => {
      const s = open();
      s.send({ type: "RUN_STARTED", threadId: req.body.threadId, runId: req.body.runId });
      s.send({ type: "TEXT_MESSAGE_START", messageId: "m1", role: "assistant" });
      s.send({ type: "TEXT_MESSAGE_CONTENT", messageId: "m1", delta: "half an ans" });
      setTimeout(() => s.destroy(), 50);
    });
    const t = transport(agent);
    await t.start();
    const r = recorder();
    const cut = await t.run(request("hello"), r.observer);
    expect(cut).toMatchObject({ ok: false, failure: { kind: "link_lost" } });
    expect(r.progress).toEqual(["half an ans"]); // shown live as it came, as over the WebSocket
    await agent.close();
    const gone = await t.run(request("again"), recorder().observer);
    expect(gone).toMatchObject({ ok: false, failure: { kind: "unreachable" } });
  });

  it("aborts the request on /stop: the agent sees the connection closed", async () => {
    const agent = await startAguiHttpAgent((req, _res, open) => {
      const s = open();
      s.send({ type: "RUN_STARTED", threadId: req.body.threadId, runId: req.body.runId });
      s.send({ type: "TEXT_MESSAGE_START", messageId: "m1", role: "assistant" });
      s.send({ type: "TEXT_MESSAGE_CONTENT", messageId: "m1", delta: "thinking…" }); // and then nothing more
    });
    const t = transport(agent);
    await t.start();
    const stop = new AbortController();
    const r = recorder();
    const running = t.run(request("a long one"), r.observer, stop.signal);
    await waitFor(() => r.progress.length > 0, { what: "the first text" });
    stop.abort();
    expect(await running).toMatchObject({ ok: false, failure: { kind: "cancelled" } });
    await waitFor(() => agent.requests[0]?.closedByClient, { what: "the agent to see the request closed" });
  });

  it("fails a malformed event, and a RUN_STARTED naming another run, as a bad frame", async () => {
    const agent = await startAguiHttpAgent((req, _res, open) => {
      const s = open();
      s.send({ type: "RUN_STARTED", threadId: req.body.threadId, runId: "someone-else" });
      s.end();
    });
    const t = transport(agent);
    await t.start();
    expect(await t.run(request("hello"), recorder().observer)).toMatchObject({ ok: false, failure: { kind: "bad_frame" } });
    agent.respond = (req, _res, open) => {
      const s = open();
      s.send({ type: "RUN_STARTED", threadId: req.body.threadId, runId: req.body.runId });
      s.send({ type: "TEXT_MESSAGE_CONTENT", delta: 5 });
      s.end();
    };
    expect(await t.run(request("again"), recorder().observer)).toMatchObject({ ok: false, failure: { kind: "bad_frame" } });
  });
});
