// Crash tests: the built bot runs as a child process and kills itself (SIGKILL) at an injected point in the
// message path; a fresh process is started on the same data. Every message must be answered exactly once.
import { MatrixTestUser } from "../support/matrix-test-user";
import { CrashWorld, type CrashMode } from "../support/crash-world";
import { echoReplyFor } from "../../src/reference-agent/server";
import type { Checkpoint } from "../../src/util/checkpoints";
import { botMessagesIn } from "../support/bot-messages";
import { describeEachE2eBackend } from "../support/backends";

// message-journaled: on SQLite the transaction's id record (the sync token in client mode) went in the journal's
// commit: the retried transaction is acknowledged as done (no new sync brings the message again), and the message is
// answered from the journal. turn-settled: the run's end (its turn marked done, its answer remembered, its run record deleted: one commit on
// SQLite) is durable, the process dies right after it.
const CASES: Array<[CrashMode, Checkpoint]> = [
  ["client", "message-received"], ["client", "message-journaled"], ["client", "reply-accepted"], ["client", "turn-settled"],
  ["appservice", "message-received"], ["appservice", "message-journaled"], ["appservice", "reply-accepted"], ["appservice", "turn-settled"],
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
