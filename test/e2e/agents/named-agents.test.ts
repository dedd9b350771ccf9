// Two agents in one bot: the reference agent over our WebSocket (AGENT_URL, the global default "default") and an
// independent AG-UI HTTP agent (test/support/agui-http-agent.ts, @ag-ui/encoder) named in AGENTS_FILE. /agent lists
// and switches; each agent keeps its own conversation per room; a space's choice is its new child room's default;
// HTTP failures are told in words; /stop closes the HTTP request; tool lines come over HTTP as over the WebSocket.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { echoReply } from "../../../src/reference-agent/server";
import { aguiHttpAgents, startAguiHttpAgent, type AguiHttpAgent } from "../../support/agui-http-agent";
import { Scenario } from "../../support/scenario";
import { addChild, createChild, createSpace } from "../lifecycle/support";

let s: Scenario | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
  await Promise.all(aguiHttpAgents.splice(0).map((a) => a.close()));
});

async function twoAgents(http: AguiHttpAgent, env: Record<string, string> = {}): Promise<Scenario> {
  const file = path.join(mkdtempSync(path.join(tmpdir(), "mab-agents-")), "agents.yaml");
  writeFileSync(file, `agents:\n  coder:\n    url: ${http.url}\n    token: coder-http-token\n    displayName: Coder\n    description: writes code\n`);
  return Scenario.start({ mode: "client", externalAgent: true, env: { AGENTS_FILE: file, ...env } });
}

function bodies(sc: Scenario, roomId: string): string[] {
  return sc.botMessages(roomId).map((e) => String(e.content["body"]));
}

async function say(sc: Scenario, roomId: string, text: string, count: number): Promise<string> {
  await sc.alice.sendText(roomId, text);
  const all = await sc.waitBotMessages(roomId, count, `answer ${count}: to ${JSON.stringify(text)}`);
  await sc.settled();
  return String(sc.botMessages(roomId)[count - 1]?.content["body"] ?? all.length);
}

describe("named agents", () => {
  it("lists, switches, and keeps each agent's conversation per room; a stateless HTTP agent gets the history", async () => {
    const http = await startAguiHttpAgent();
    s = await twoAgents(http);
    const dm = await s.openDm();
    expect(await say(s, dm, "hello", 1)).toBe(echoReply("hello"));
    const listing = await say(s, dm, "/agent", 2);
    expect(listing).toContain("Agent here: default, the default.");
    expect(listing).toMatch(/- coder: Coder, writes code/);
    expect(await say(s, dm, "/agent coder", 3)).toContain("Coder (coder) answers here from now on");
    expect(await say(s, dm, "my name is Ada", 4)).toBe("Coder: You said: my name is Ada (I remember 0 earlier messages)");
    expect(await say(s, dm, "what is my name?", 5)).toBe("Coder: You said: what is my name? (I remember 2 earlier messages)");
    const second = http.requests[1]?.body;
    expect(second?.messages.map((m) => m.content)).toEqual(["my name is Ada", "You said: my name is Ada (I remember 0 earlier messages)",
      "what is my name?"]);
    expect(second?.threadId).toMatch(/~~coder$/);
    expect(http.requests[0]?.headers["authorization"]).toBe("Bearer coder-http-token");
    // Back to the WebSocket agent, then to the HTTP one again: its conversation goes on.
    await say(s, dm, "/agent default", 6);
    expect(await say(s, dm, "still there?", 7)).toBe(echoReply("still there?"));
    await say(s, dm, "/agent coder", 8);
    expect(await say(s, dm, "and now?", 9)).toBe("Coder: You said: and now? (I remember 4 earlier messages)");
    // Over HTTP as over the WebSocket: the tool line above the answer.
    expect(await say(s, dm, "use a tool", 10)).toMatch(/^Coder: ✓ search_docs[\s\S]*You said: use a tool/);
  });

  it("gives a new child room its space's agent", async () => {
    const http = await startAguiHttpAgent();
    s = await twoAgents(http);
    const { hs, alice, botUserId } = s;
    const space = createSpace(hs, alice.userId);
    await alice.invite(space, botUserId);
    await s.waitJoined(space);
    await say(s, space, "/agent coder", 1);
    const child = createChild(hs, alice.userId, "public", undefined, "new child");
    addChild(hs, alice.userId, space, child);
    await s.waitJoined(child);
    await s.waitIntroduced(child);
    await alice.sendText(child, "Agent Bot: hi from the child");
    const [answer] = await s.waitBotMessages(child, 1, "the child room's answer");
    expect(String(answer?.content["body"])).toBe("Coder: You said: Agent Bot: hi from the child (I remember 0 earlier messages)");
    expect(http.requests).toHaveLength(1);
  });

  it.each([
    ["401", 401, {}, "Coder: ⚠️ My agent refused my credentials, so I couldn't answer. The operator needs to check the agent's token."],
    ["429", 429, { "Retry-After": "120" }, "Coder: ⚠️ My agent is rate-limiting me, so I couldn't answer. Please try again in 2 minutes."],
    ["503", 503, {}, "Coder: ⚠️ My agent is unavailable right now. Please try again later."],
  ])("tells HTTP %s in words, once, never the body", async (_label, status, headers, text) => {
    const http = await startAguiHttpAgent((_req, res) => {
      res.writeHead(status, { "content-type": "text/plain", ...headers }).end("internal stack trace here");
    });
    s = await twoAgents(http);
    const dm = await s.openDm();
    await say(s, dm, "/agent coder", 1);
    expect(await say(s, dm, "hello", 2)).toBe(text);
    expect(JSON.stringify(s.botEvents(dm))).not.toContain("internal stack trace");
    expect(http.requests).toHaveLength(1); // no retry of the user's turn
  });

  it("tells a stream cut before RUN_FINISHED as a lost connection, and /stop closes the HTTP request", async () => {
    const http = await startAguiHttpAgent((req, _res, open) => {
      const st = open();
      st.send({ type: "RUN_STARTED", threadId: req.body.threadId, runId: req.body.runId });
      st.send({ type: "TEXT_MESSAGE_START", messageId: "m1", role: "assistant" });
      st.send({ type: "TEXT_MESSAGE_CONTENT", messageId: "m1", delta: "partial" });
      const last = req.body.messages[req.body.messages.length - 1];
      if (last?.content === "cut") setTimeout(() => st.destroy(), 20);
    });
    s = await twoAgents(http);
    const dm = await s.openDm();
    await say(s, dm, "/agent coder", 1);
    await s.alice.sendText(dm, "cut");
    await s.hs.waitFor(() => bodies(s as Scenario, dm).some((b) => b.includes("I lost the connection to my agent")), { what: "link lost told" });
    await s.settled();
    const before = http.requests.length;
    await s.alice.sendText(dm, "hang");
    await s.hs.waitFor(() => http.requests.length > before, { what: "the hanging request" });
    await s.alice.sendText(dm, "/stop");
    await s.hs.waitFor(() => http.requests[before]?.closedByClient, { what: "the agent sees the request closed" });
    await s.hs.waitFor(() => bodies(s as Scenario, dm).some((b) => b.includes("⏹️ Stopped.")), { what: "stopped told" });
  });
});
