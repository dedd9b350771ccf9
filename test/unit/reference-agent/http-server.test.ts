// The reference agent's AG-UI HTTP + SSE endpoint (AGENT_HTTP_PORT): any AG-UI client (here @ag-ui/client's own
// HttpAgent, and the bot's HTTP transport) runs it over real HTTP on 127.0.0.1.
import { HttpAgent } from "@ag-ui/client";
import Keyv from "keyv";
import { ConversationHistory } from "../../../src/agent/history";
import type { RunObserver, RunRequest } from "../../../src/agent/link-types";
import { HttpAgentTransport } from "../../../src/agent/transports/http";
import { AgentRunError, echoReply, startReferenceAgent, type AgentBrain, type ReferenceAgent } from "../../../src/reference-agent/server";
import { silent } from "../agent/support";

let agent: ReferenceAgent | undefined;
afterEach(async () => {
  await agent?.close();
  agent = undefined;
});

function transport(url: string, token: string): HttpAgentTransport {
  return new HttpAgentTransport({ name: "ref", url, token, logger: silent, history: new ConversationHistory(new Keyv(), 20, silent),
    runStartTimeoutMs: 10_000, runIdleTimeoutMs: 10_000, runDeadlineMs: 30_000, maxBodyBytes: 1_048_576 });
}

const input = (text: string, id: string): RunRequest => ({ threadId: "v1.r~g0", runId: id, input: {
  messages: [{ id, role: "user", content: text, sender: "@alice:example.org" }], context: { roomId: "!r:example.org", isDirect: true } } });

describe("reference agent over AG-UI HTTP", () => {
  it("answers @ag-ui/client's HttpAgent with the run's events", async () => {
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, httpPort: 0, token: "ref-token", logger: silent });
    expect(agent.httpUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    const client = new HttpAgent({ url: agent.httpUrl ?? "", headers: { Authorization: "Bearer ref-token" } });
    client.addMessage({ id: "u1", role: "user", content: "hello over http" });
    const { newMessages } = await client.runAgent({ runId: "r1" });
    expect(newMessages.map((m) => [m.role, m.content])).toEqual([["assistant", echoReply("hello over http")]]);
  });

  it("serves the bot's HTTP transport, follow-ups included, and refuses a wrong token in words", async () => {
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, httpPort: 0, token: "ref-token", logger: silent });
    const t = transport(agent.httpUrl ?? "", "ref-token");
    await t.start();
    const texts: string[] = [];
    const observer: RunObserver = { onTextMessage: (_id, text) => void texts.push(text) };
    expect(await t.run(input("first", "$1"), observer)).toEqual({ ok: true });
    expect(await t.run(input("second", "$2"), observer)).toEqual({ ok: true }); // history sent; only the new message answered
    expect(texts).toEqual([echoReply("first"), echoReply("second")]);
    const wrong = transport(agent.httpUrl ?? "", "not-the-token");
    await wrong.start();
    expect(await wrong.run(input("third", "$3"), observer)).toMatchObject({ ok: false, failure: { kind: "http_auth", status: 401 } });
  });

  it("carries the usage its brain reports on RUN_FINISHED, and on RUN_ERROR what was used before a failure", async () => {
    const brain: AgentBrain = {
      async run(run, out) {
        out.usage?.({ model: "m", inputTokens: 10, outputTokens: 2, totalTokens: 12 });
        out.usage?.({ model: "m", inputTokens: 5, outputTokens: 1, totalTokens: 6 });
        if (run.messages.at(-1)?.content === "fail") throw new AgentRunError("upstream_unavailable", "The model is down.");
        const id = out.startMessage();
        out.delta(id, "ok");
        out.endMessage(id);
      },
    };
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, httpPort: 0, logger: silent, mode: { kind: "custom", brain } });
    const t = transport(agent.httpUrl ?? "", "");
    await t.start();
    const observer: RunObserver = { onTextMessage: () => undefined };
    const usage = [{ model: "m", inputTokens: 15, outputTokens: 3, totalTokens: 18 }];
    expect(await t.run(input("hi", "$u1"), observer)).toEqual({ ok: true, usage });
    expect(await t.run(input("fail", "$u2"), observer)).toMatchObject({ ok: false, usage });
  });

  it("stops the run when the client closes the request", async () => {
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, httpPort: 0, logger: silent, mode: { kind: "echo", delayMs: 60_000 } });
    const t = new HttpAgentTransport({ name: "ref", url: agent.httpUrl ?? "", logger: silent, history: new ConversationHistory(new Keyv(), 20, silent),
      runStartTimeoutMs: 10_000, runIdleTimeoutMs: 120_000, runDeadlineMs: 120_000, maxBodyBytes: 1_048_576 });
    await t.start();
    const stop = new AbortController();
    let started!: () => void;
    const startedP = new Promise<void>((resolve) => { started = resolve; });
    const running = t.run(input("slow", "$s"), { onStarted: () => started(), onTextMessage: () => undefined }, stop.signal);
    await startedP;
    stop.abort();
    expect(await running).toMatchObject({ ok: false, failure: { kind: "cancelled" } });
    await agent.close(); // resolves: no request left open on the agent's side
  });
});
