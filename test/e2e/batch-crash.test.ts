// A run that answers several turns at once (they arrived while the room's previous run was in flight), cut short by
// a SIGKILL just after the homeserver accepted its answer and before its turns were marked handled. The restarted
// bot runs exactly that batch again under the same runId (src/turns/run-batches.ts): the same txnIds, so the
// homeserver drops the answer it already has, and each turn is answered once. Batched anew (the first turn alone,
// then the rest), the first turn would be answered a second time.
import pino from "pino";
import { startReferenceAgent, type ReferenceAgent } from "../../src/reference-agent/server";
import { botMessagesIn } from "../support/bot-messages";
import { botCaughtUp, waitForBotWork } from "../support/bot-idle";
import { gatedBrain } from "../support/brains";
import { CrashWorld, type CrashMode } from "../support/crash-world";
import { describeEachE2eBackend } from "../support/backends";
import { MatrixTestUser } from "../support/matrix-test-user";
import { waitFor } from "../support/wait";

const TOKEN = "batch-crash-agent-token";

describeEachE2eBackend("SIGKILL after a batched run's answer was accepted, then restart", (backend) => {
  const world = CrashWorld.use(backend);
  let agent: ReferenceAgent | undefined;
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
  });

  it.each<CrashMode>(["client", "appservice"])("%s mode: each turn of the batch is answered exactly once", async (mode) => {
    const { hs } = world;
    const { brain, seen, release } = gatedBrain();
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token: TOKEN, logger: pino({ level: "silent" }), mode: { kind: "custom", brain } });
    const { env, botUserId, inbound } = await world.setUp(mode, { AGENT_URL: agent.url, AGENT_TOKEN: TOKEN });
    // Killed when the homeserver accepted the second answer: the batch's, its turns not yet marked handled.
    const first = await world.startBot({ ...env, MAB_TEST_CRASH_AT: "reply-accepted#2" });

    const alice = new MatrixTestUser(hs.url, hs.addUser("alice", { displayName: "Alice" }));
    const { room_id: roomId } = await alice.createRoom({ is_direct: true, invite: [botUserId], preset: "trusted_private_chat" });
    await hs.waitFor(() => hs.membership(roomId, botUserId) === "join", { what: "the bot joins" });
    await alice.sendText(roomId, "first");
    await hs.waitFor(() => seen.length === 1, { what: "the first run started" });
    await alice.sendText(roomId, "one");
    await alice.sendText(roomId, "two");
    const last = await alice.sendText(roomId, "three");
    await waitFor(() => botCaughtUp(hs, inbound), { what: "the bot caught up with the homeserver" });
    await waitForBotWork(first, (work) => work["router"] === 0 && work["turns"] === 4); // the first run going, three queued
    release();

    expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    const bodies = (): unknown[] => botMessagesIn(hs, roomId, botUserId).map((e) => e.content["body"]);
    expect(bodies()).toEqual(["answered: first", "answered: one + two + three"]); // the batch's answer is out
    expect(seen[1]?.info.runId).toBe(last);

    const second = await world.startBot(env);
    await hs.waitFor(() => seen.length >= 3, { what: "the cut-short run running again" });
    await world.expectSteady(second, inbound, () => expect(bodies()).toEqual(["answered: first", "answered: one + two + three"]));
    // The same batch ran again, under the same runId.
    expect(seen.slice(2).map((r) => [r.contents, r.info.runId])).toEqual([[["one", "two", "three"], last]]);
  });
});
