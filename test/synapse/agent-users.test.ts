// Named agents' own users on Synapse 1.67 (appservice mode; the registration `npm run register` wrote reserves
// @agentbot_*): the second agent's user registers, takes its profile from AGENTS_FILE, joins the DM and answers in its
// own name (no MSC4144 profile: the user is the face), as Alice's matrix-js-sdk client sees it; a DM Alice opens
// with the agent's user talks to that agent, answered without a mention.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { echoReply } from "../../src/reference-agent/server";
import { PER_MESSAGE_PROFILE } from "../../src/render/faces";
import { startAguiHttpAgent, type AguiHttpAgent } from "../support/agui-http-agent";
import { messagesBy, ModeWorld } from "./support/world";

describe("named agents' own users on Synapse (appservice mode)", () => {
  let w: ModeWorld;
  let http: AguiHttpAgent;
  let coder: string;

  beforeAll(async () => {
    http = await startAguiHttpAgent();
    const file = path.join(mkdtempSync(path.join(tmpdir(), "mab-agent-users-")), "agents.yaml");
    writeFileSync(file, `agents:\n  coder:\n    url: ${http.url}\n    displayName: Coder\n`);
    w = await ModeWorld.open("appservice", { label: "agent-users", env: { AGENTS_FILE: file } });
    coder = w.botUserId.replace(/^@([^:]+):/, "@$1_coder:");
  });
  afterAll(async () => {
    await w?.close();
    await http?.close();
  });

  it("the coder's user answers in its own name once /agent chose it", async () => {
    const dm = await w.openDm();
    await w.alice.http.sendText(dm, "hello");
    await w.waitAnswer(dm, echoReply("hello"));
    await w.alice.http.sendText(dm, "/agent coder");
    await w.alice.peer.waitMessages(dm, (ms) => ms.some((m) => m.sender === w.botUserId && String(m.originalContent["body"]).startsWith("Coder (coder) answers here")),
      "the switch confirmed");
    await w.alice.http.sendText(dm, "my name is Ada");
    const answer = await w.alice.peer.waitMessages(dm, (ms) => messagesBy(ms, coder).find((m) => !m.live && m.body.startsWith("You said: my name is Ada")),
      "the coder's answer from its own user", 60_000);
    expect(answer.body).toBe("You said: my name is Ada (I remember 0 earlier messages)");
    expect(answer.content).not.toHaveProperty([PER_MESSAGE_PROFILE]);
    const profile = await w.alice.http.call<{ displayname?: string }>("GET", `profile/${encodeURIComponent(coder)}`);
    expect(profile.displayname).toBe("Coder");
  });

  it("a DM Alice opens with the coder's user talks to the coder, without a mention", async () => {
    const dm = await w.alice.peer.createRoom({ is_direct: true, invite: [coder], preset: "trusted_private_chat" });
    await w.alice.peer.waitMember(dm, coder, "join", 30_000);
    await w.alice.peer.waitMember(dm, w.botUserId, "join", 30_000);
    await w.alice.http.sendText(dm, "what is 2+2?");
    const answer = await w.alice.peer.waitMessages(dm, (ms) => messagesBy(ms, coder).find((m) => !m.live && m.body.startsWith("You said: what is 2+2?")),
      "the coder's answer in its DM", 60_000);
    expect(answer.body).toBe("You said: what is 2+2? (I remember 0 earlier messages)");
  });
});
