// A run that answers several turns at once (they arrived while the room's previous run was in flight), cut short by
// a SIGKILL just after the homeserver accepted its answer and before its turns were marked handled. The restarted
// bot (or, on PostgreSQL and Redis, the standby taking over) runs exactly that batch again under the same runId
// (src/turns/run-batches.ts): the same txnIds, so the homeserver drops the answer it already has, and each turn is
// answered once. Batched anew (the first turn alone, then the rest), the first turn would be answered a second time.
// Killed while the batch's turns were being marked handled, the batch does not run again (its answer is out; run with
// the unmarked turns only, its answer would be edited into one for those turns alone).
import pino from "pino";
import { startReferenceAgent, type ReferenceAgent } from "../../src/reference-agent/server";
import type { ChildBot } from "../support/bot-harness";
import { botMessagesIn, isIntroduction } from "../support/bot-messages";
import { botCaughtUp, waitForBotWork } from "../support/bot-idle";
import { gatedBrain } from "../support/brains";
import { CrashWorld, type CrashMode } from "../support/crash-world";
import { describeEachE2eBackend } from "../support/backends";
import { MatrixTestUser } from "../support/matrix-test-user";
import { ChildBots, STANDBY_LINE } from "../support/standby";
import { waitFor } from "../support/wait";

const TOKEN = "batch-crash-agent-token";
const ANSWERS = ["answered: first", "answered: one + two + three"];

describeEachE2eBackend("SIGKILL after a batched run's answer was accepted, then a restart or a takeover", (backend) => {
  const world = CrashWorld.use(backend);
  const standbys = new ChildBots();
  let agent: ReferenceAgent | undefined;
  afterEach(async () => {
    await standbys.stop();
    await agent?.close();
    agent = undefined;
  });

  async function waitingStandby(env: Record<string, string>): Promise<ChildBot> {
    const standby = standbys.start(env);
    await waitFor(() => standby.logs.find((l) => l.msg === STANDBY_LINE), { what: "the second process waiting as a standby" });
    return standby;
  }

  /**
   * The first bot answers "first" while "one", "two" and "three" wait, then answers those three in one run and is
   * killed once the homeserver accepted that answer. Then a second bot on the same data carries on, or the standby
   * (waiting since before the kill, on a DATA_DIR of its own) takes over.
   */
  async function cutShort(mode: CrashMode, withStandby: boolean, crashAt = "reply-accepted#2"): Promise<void> {
    const { hs } = world;
    const { brain, seen, release } = gatedBrain();
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token: TOKEN, logger: pino({ level: "silent" }), mode: { kind: "custom", brain } });
    // The first run waits for the test as long as need be: no idle timeout cuts it short.
    const { env, botUserId, inbound } = await world.setUp(mode, { AGENT_URL: agent.url, AGENT_TOKEN: TOKEN, LEASE_MS: "5000",
      RUN_IDLE_TIMEOUT_MS: "600000", RUN_DEADLINE_MS: "600000" });
    // Killed when the homeserver accepted the second answer: the batch's, its turns not yet marked handled.
    const first = await world.startBot({ ...env, MAB_TEST_CRASH_AT: crashAt });
    const standby = withStandby ? await waitingStandby(env) : undefined;
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
    /** The bot's messages (their first events, not the edits). */
    const posted = (): number => hs.sent({ roomId, sender: botUserId, type: "m.room.message" })
      .filter((e) => !isIntroduction(e) && e.content["m.new_content"] === undefined).length;
    expect(posted()).toBe(2); // the batch's answer is out (or its first event, when it was written live)
    expect(seen[1]?.info.runId).toBe(last);

    const second = standby ? await standby.ready(30_000) : await world.startBot(env);
    if (crashAt.startsWith("turn-settled")) {
      // Killed while the batch's turns were marked handled: its answer is out and stays as it is; nothing runs again.
      await world.expectSteady(second, inbound, () => expect([bodies(), posted()]).toEqual([ANSWERS, 2]));
      expect(seen).toHaveLength(2);
      return;
    }
    await hs.waitFor(() => seen.length >= 3, { what: "the cut-short run running again", timeoutMs: 30_000 });
    await world.expectSteady(second, inbound, () => expect([bodies(), posted()]).toEqual([ANSWERS, 2]));
    // The same batch ran again, under the same runId.
    expect(seen.slice(2).map((r) => [r.contents, r.info.runId])).toEqual([[["one", "two", "three"], last]]);
  }

  it.each<CrashMode>(["client", "appservice"])("%s mode: each turn of the batch is answered exactly once", async (mode) => {
    await cutShort(mode, false);
  });

  // The batch's first turn marked handled (the second mark of the process: "first" was the first), the others not yet.
  it.each<CrashMode>(["client", "appservice"])("%s mode, killed while the batch's turns are marked handled: its answer stays, nothing runs again", async (mode) => {
    await cutShort(mode, false, "turn-settled#2");
  });

  if (backend !== "sqlite") {
    it("client mode, the standby takes over: each turn of the batch is answered exactly once", async () => {
      await cutShort("client", true);
    });
  }
});
