// Two agents in one bot on Synapse (client mode, its own account): the reference agent over its WebSocket (AGENT_URL,
// the global default) and an independent AG-UI HTTP agent (test/support/agui-http-agent.ts) named in AGENTS_FILE.
// What Alice's matrix-js-sdk client sees: /agent switches, each agent answers in its own conversation, the HTTP
// agent is sent the history it does not keep, switching back resumes; the HTTP agent's answers carry its face (MSC4144).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { echoReply } from "../../src/reference-agent/server";
import { PER_MESSAGE_PROFILE } from "../../src/render/faces";
import { startAguiHttpAgent, type AguiHttpAgent } from "../support/agui-http-agent";
import { ModeWorld } from "./support/world";

describe("two agents, one WebSocket and one AG-UI HTTP, on Synapse (client mode)", () => {
  let w: ModeWorld;
  let http: AguiHttpAgent;

  beforeAll(async () => {
    http = await startAguiHttpAgent();
    const file = path.join(mkdtempSync(path.join(tmpdir(), "mab-agents-")), "agents.yaml");
    writeFileSync(file, `agents:\n  coder:\n    url: ${http.url}\n    displayName: Coder\n`);
    w = await ModeWorld.open("client", { account: "agentsbot", label: "agents", env: { AGENTS_FILE: file } });
  });
  afterAll(async () => {
    await w?.close();
    await http?.close();
  });

  it("switches with /agent, keeps each agent's conversation, and sends the HTTP agent its history", async () => {
    const dm = await w.openDm();
    await w.alice.http.sendText(dm, "hello");
    await w.waitAnswer(dm, echoReply("hello"));
    await w.alice.http.sendText(dm, "/agent coder");
    await w.alice.peer.waitMessages(dm, (ms) => ms.some((m) => m.sender === w.botUserId && String(m.originalContent["body"]).startsWith("Coder (coder) answers here")),
      "the switch confirmed");
    await w.alice.http.sendText(dm, "my name is Ada");
    const faced = await w.waitAnswer(dm, "Coder: You said: my name is Ada (I remember 0 earlier messages)");
    // Its face (MSC4144) as Alice's client reads it; the fallback in front of the formatted body.
    expect(faced.content[PER_MESSAGE_PROFILE]).toEqual({ id: "coder", displayname: "Coder", has_fallback: true });
    expect(String(faced.content["formatted_body"])).toMatch(/^<strong data-mx-profile-fallback>Coder: <\/strong>/);
    await w.alice.http.sendText(dm, "/agent default");
    await w.alice.peer.waitMessages(dm, (ms) => ms.some((m) => m.sender === w.botUserId && String(m.originalContent["body"]).startsWith("default answers here")),
      "the switch back confirmed");
    await w.alice.http.sendText(dm, "still you?");
    await w.waitAnswer(dm, echoReply("still you?"));
    await w.alice.http.sendText(dm, "/agent coder");
    await w.alice.peer.waitMessages(dm, (ms) => ms.filter((m) => m.sender === w.botUserId && String(m.originalContent["body"]).startsWith("Coder (coder) answers here")).length === 2,
      "the second switch confirmed");
    await w.alice.http.sendText(dm, "what is my name?");
    await w.waitAnswer(dm, "Coder: You said: what is my name? (I remember 2 earlier messages)");
    expect(http.requests.at(-1)?.body.messages.map((m) => m.content)).toEqual(
      ["my name is Ada", "You said: my name is Ada (I remember 0 earlier messages)", "what is my name?"]);
  });
});
