// Each named agent its own user in appservice mode (src/app/agent-users.ts), against the homeserver double (which
// enforces the appservice's namespace as Synapse does): the second agent's user `@agentbot_coder` answers in its own
// name and with its own profile, without an MSC4144 profile (the user is the face); inviting that user to a DM selects
// the agent there, and the DM is still a DM (answered without a mention); an invite from someone the bot does not
// serve is declined.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { PER_MESSAGE_PROFILE } from "../../../src/render/faces";
import { aguiHttpAgents, startAguiHttpAgent } from "../../support/agui-http-agent";
import { isIntroduction } from "../../support/bot-messages";
import type { ClientEvent } from "../../support/homeserver/types";
import { Scenario } from "../../support/scenario";

const CODER = "@agentbot_coder:localhost";

let s: Scenario | undefined;
afterEach(async () => {
  await s?.stop();
  s = undefined;
  await Promise.all(aguiHttpAgents.splice(0).map((a) => a.close()));
});

async function twoAgents(env: Record<string, string> = {}): Promise<Scenario> {
  const http = await startAguiHttpAgent();
  const file = path.join(mkdtempSync(path.join(tmpdir(), "faces2-agents-")), "agents.yaml");
  writeFileSync(file, `agents:\n  coder:\n    url: ${http.url}\n    displayName: Coder\n    avatar: mxc://localhost/coder\n`);
  return Scenario.start({ mode: "appservice", externalAgent: true, env: { AGENTS_FILE: file, TYPING_DELAY_MS: "0", ...env } });
}

function messagesOf(sc: Scenario, roomId: string, sender: string): ClientEvent[] {
  return sc.hs.sent({ roomId, sender, type: "m.room.message" }).filter((e) => !isIntroduction(e));
}

async function waitMessages(sc: Scenario, roomId: string, sender: string, count: number, what: string): Promise<ClientEvent[]> {
  return sc.hs.waitFor(() => {
    const msgs = messagesOf(sc, roomId, sender);
    return msgs.length >= count ? msgs : undefined;
  }, { what, timeoutMs: 30_000 });
}

describe("agent users in appservice mode", () => {
  it("the second agent's user answers in its own name, with its profile, and without an MSC4144 profile", async () => {
    s = await twoAgents();
    const sc = s;
    const dm = await sc.openDm();
    await sc.alice.sendText(dm, "hello");
    const [plain] = await waitMessages(sc, dm, sc.botUserId, 1, "the default agent's answer, as the bot");
    expect(plain?.content).not.toHaveProperty([PER_MESSAGE_PROFILE]);
    await sc.alice.sendText(dm, "/agent coder");
    await waitMessages(sc, dm, sc.botUserId, 2, "the bot's own reply to /agent");
    await sc.alice.sendText(dm, "my name is Ada");
    const [coder] = await waitMessages(sc, dm, CODER, 1, "the coder's answer, as its own user");
    expect(coder?.content["body"]).toBe("You said: my name is Ada (I remember 0 earlier messages)");
    expect(coder?.content).not.toHaveProperty([PER_MESSAGE_PROFILE]);
    expect(sc.hs.membership(dm, CODER)).toBe("join");
    expect(sc.hs.typing.some((t) => t.roomId === dm && t.userId === CODER && t.typing)).toBe(true); // typing, as the coder too
    const profile = await sc.alice.call<{ displayname?: string; avatar_url?: string }>("GET", `profile/${encodeURIComponent(CODER)}`);
    expect(profile).toEqual({ displayname: "Coder", avatar_url: "mxc://localhost/coder" });
    await sc.settled();
    expect(messagesOf(sc, dm, sc.botUserId)).toHaveLength(2); // nothing of the coder's went out as the bot
    expect(messagesOf(sc, dm, CODER)).toHaveLength(1); // and the bot does not answer its own agent
  });

  it("inviting an agent's user to a DM selects that agent there; it is still a DM (answered without a mention)", async () => {
    s = await twoAgents();
    const sc = s;
    const { room_id: dm } = await sc.alice.createRoom({ is_direct: true, invite: [CODER], preset: "trusted_private_chat" });
    await sc.hs.waitFor(() => sc.hs.membership(dm, CODER) === "join" && sc.hs.membership(dm, sc.botUserId) === "join",
      { what: "the coder's user and the bot join", timeoutMs: 30_000 });
    await sc.alice.sendText(dm, "what is 2+2?");
    const [answer] = await waitMessages(sc, dm, CODER, 1, "the coder's answer in the DM");
    expect(answer?.content["body"]).toBe("You said: what is 2+2? (I remember 0 earlier messages)");
    await sc.settled();
    expect(messagesOf(sc, dm, sc.botUserId).map((e) => e.content["body"])).toEqual([]); // the default agent was not asked
  });

  it("an agent's user declines an invite from someone outside ALLOWED_USERS, and the bot stays out", async () => {
    s = await twoAgents({ ALLOWED_USERS: "@alice:localhost" });
    const sc = s;
    const bob = sc.person("bob", "Bob");
    const { room_id: room } = await bob.createRoom({ is_direct: true, invite: [CODER], preset: "trusted_private_chat" });
    await sc.hs.waitFor(() => sc.hs.membership(room, CODER) === "leave", { what: "the coder's user declines", timeoutMs: 30_000 });
    await sc.settled();
    expect(sc.hs.membership(room, sc.botUserId)).toBeUndefined();
  });
});
