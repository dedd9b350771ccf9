// Pending prompts survive a crash: the built bot (a child process) posts an approval prompt and is killed with a
// real SIGKILL; the asker approves while it is down; the restarted bot finds the answer (its /sync, or the
// appservice transaction the homeserver retries), resumes the run exactly once, and shows the outcome once.
import { scaled } from "../../support/wait";
import { CrashWorld, type CrashMode } from "../../support/crash-world";
import { MatrixTestUser } from "../../support/matrix-test-user";
import { closeScriptedAgents } from "../../support/scripted-agent";
import { promptEdits, prompts, react, reactionsOn, resumedAnswers, resumeRuns, startPausingAgent, waitPrompts } from "./support";

jest.setTimeout(scaled(120_000));

describe("a pending prompt across a SIGKILL", () => {
  const world = CrashWorld.use();
  afterEach(() => closeScriptedAgents());

  it.each<CrashMode>(["client", "appservice"])("%s mode: approved while the bot is down, resumed exactly once after the restart", async (mode) => {
    const { hs } = world;
    const agent = await startPausingAgent();
    const { env, botUserId, inbound } = await world.setUp(mode, { AGENT_URL: agent.url });
    const first = await world.startBot(env);
    const alice = new MatrixTestUser(hs.url, hs.addUser("alice", { displayName: "Alice" }));
    const { room_id: roomId } = await alice.createRoom({ is_direct: true, invite: [botUserId], preset: "trusted_private_chat" });
    await hs.waitFor(() => hs.membership(roomId, botUserId) === "join", { what: "the bot joins" });
    await alice.sendText(roomId, "mail Bob");
    const w = { hs, botUserId };
    const [prompt] = await waitPrompts(w, roomId);
    const promptId = String(prompt?.event_id);
    await hs.waitFor(() => reactionsOn(w, roomId, promptId).length === 2, { what: "the bot's ✅ and ❌" });

    first.kill("SIGKILL");
    expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    await alice.send(roomId, "m.reaction", react({ eventId: promptId, key: "✅" }));

    const second = await world.startBot(env);
    await hs.waitFor(() => resumedAnswers(w, roomId).length === 1, { what: "the resumed run's answer after the restart" });
    await world.expectSteady(second, inbound, () => {
      expect(resumeRuns(agent)).toHaveLength(1);
      expect(resumedAnswers(w, roomId)).toEqual(['resumed: [{"interruptId":"i1","status":"resolved","payload":{"approved":true}}]']);
      expect(promptEdits(w, roomId, promptId)).toHaveLength(1);
      expect(prompts(w, roomId)).toHaveLength(1);
    });
  });
});
