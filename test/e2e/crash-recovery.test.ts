// Crash tests: the built bot runs as a child process and kills itself (SIGKILL) at an injected point in the
// message path; a fresh process is started on the same data. Every message must be answered exactly once.
import { MatrixTestUser } from "../support/matrix-test-user";
import { CrashWorld, type CrashMode } from "../support/crash-world";
import { echoReplyFor } from "../../src/reference-agent/server";
import type { Checkpoint } from "../../src/util/checkpoints";
import { botMessagesIn } from "../support/bot-messages";
import { describeEachE2eBackend } from "../support/backends";

const CASES: Array<[CrashMode, Checkpoint]> = [
  ["client", "message-received"], ["client", "message-journaled"], ["client", "reply-accepted"],
  ["appservice", "message-received"], ["appservice", "message-journaled"], ["appservice", "reply-accepted"],
];

describeEachE2eBackend("SIGKILL in the message path, then restart", (backend) => {
  const world = CrashWorld.use(backend);

  it.each(CASES)("%s mode, killed at %s: the message is answered exactly once", async (mode, point) => {
    const { hs } = world;
    const { env, botUserId, inbound } = await world.setUp(mode);
    const first = await world.startBot({ ...env, MAB_TEST_CRASH_AT: point });

    const alice = new MatrixTestUser(hs.url, hs.addUser("alice", { displayName: "Alice" }));
    const { room_id: roomId } = await alice.createRoom({ is_direct: true, invite: [botUserId], preset: "trusted_private_chat" });
    await hs.waitFor(() => hs.membership(roomId, botUserId) === "join", { what: "the bot joins" });
    await alice.sendText(roomId, `survive ${point}`);

    expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    const second = await world.startBot(env);

    const answers = () => botMessagesIn(hs, roomId, botUserId);
    await hs.waitFor(() => answers().length >= 1, { what: "the answer after the restart" });
    // Room for a duplicate to show up, if there were one.
    await world.expectSteady(second, inbound, () => expect(answers().map((e) => e.content["body"])).toEqual([echoReplyFor(`survive ${point}`)]));
  });
});
