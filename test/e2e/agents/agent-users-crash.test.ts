// Appservice mode, a named agent's own user answers (src/app/agent-users.ts): the bot is SIGKILLed just after the
// homeserver accepted that user's answer; the restarted bot sends it again under the same txnId (which names the
// user) and the homeserver deduplicates it: the answer is in the room exactly once, from the agent's user.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { aguiHttpAgents, startAguiHttpAgent } from "../../support/agui-http-agent";
import { botMessagesIn } from "../../support/bot-messages";
import { CrashWorld } from "../../support/crash-world";
import { MatrixTestUser } from "../../support/matrix-test-user";

const CODER = "@agentbot_coder:localhost";

describe("SIGKILL after an agent user's answer was accepted", () => {
  const world = CrashWorld.use();
  afterEach(async () => {
    await Promise.all(aguiHttpAgents.splice(0).map((a) => a.close()));
  });

  it("the answer is in the room once, from the agent's user", async () => {
    const { hs } = world;
    const [home, http] = [await startAguiHttpAgent(), await startAguiHttpAgent()];
    const file = path.join(mkdtempSync(path.join(tmpdir(), "faces2-crash-")), "agents.yaml");
    writeFileSync(file, `agents:\n  coder:\n    url: ${http.url}\n    displayName: Coder\n`);
    const { env, botUserId, inbound } = await world.setUp("appservice", { AGENTS_FILE: file, AGENT_URL: home.url }); // AGENT_URL: the global default
    const first = await world.startBot({ ...env, MAB_TEST_CRASH_AT: "reply-accepted" });

    const alice = new MatrixTestUser(hs.url, hs.addUser("alice", { displayName: "Alice" }));
    const { room_id: roomId } = await alice.createRoom({ is_direct: true, invite: [CODER], preset: "trusted_private_chat" });
    await hs.waitFor(() => hs.membership(roomId, CODER) === "join" && hs.membership(roomId, botUserId) === "join",
      { what: "the coder's user and the bot join" });
    await alice.sendText(roomId, "survive the crash");

    expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    expect(botMessagesIn(hs, roomId, CODER)).toHaveLength(1); // accepted before the kill
    const second = await world.startBot(env);
    await world.expectSteady(second, inbound, () => {
      expect(botMessagesIn(hs, roomId, CODER).map((e) => e.content["body"])).toEqual(["You said: survive the crash (I remember 0 earlier messages)"]);
      expect(botMessagesIn(hs, roomId, botUserId)).toEqual([]);
    });
  });
});
