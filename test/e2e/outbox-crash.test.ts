// A SIGKILL right after the homeserver accepted an answer (reply-accepted): the outbox tells a run of a delivery
// before its sent mark is committed (the mark shares the commit of the run's end), so the kill finds the answer's
// record still pending. The restarted bot resends it under the same txnId (the homeserver dedupes it) and runs the
// turn again under the same run id; that run reads what its first attempt recorded (a recovered run is no fresh run:
// src/outbox/unrecorded.ts), so its placeholder, sent and marked before the kill, is not sent again. One answer.
import pino from "pino";
import { startReferenceAgent, type ReferenceAgent } from "../../src/reference-agent/server";
import { botMessagesIn } from "../support/bot-messages";
import { recordingBrain, say } from "../support/brains";
import { CrashWorld } from "../support/crash-world";
import { MatrixTestUser } from "../support/matrix-test-user";
import { openRows } from "../support/store-rows";
import { waitFor } from "../support/wait";

const TOKEN = "outbox-crash-agent-token";

describe("SIGKILL right after an answer's PUT, before its sent mark is committed", () => {
  const world = CrashWorld.use();
  let agent: ReferenceAgent | undefined;
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
  });

  it("the answer is resent under its txnId and shown once; the run again does not resend its placeholder", async () => {
    const { hs } = world;
    const gates: Array<() => void> = [];
    const { brain, seen } = recordingBrain(async (run, out, signal) => {
      await new Promise<void>((resolve, reject) => { // each run waits for the test
        gates.push(resolve);
        signal.addEventListener("abort", () => reject(new Error("aborted")), { once: true });
      });
      say(out, `answered: ${run.contents.join(" + ")}`);
    });
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token: TOKEN, logger: pino({ level: "silent" }), mode: { kind: "custom", brain } });
    const { env, botUserId } = await world.setUp("client", { AGENT_URL: agent.url, AGENT_TOKEN: TOKEN, STREAMING: "final",
      PLACEHOLDER_DELAY_MS: "1", TYPING_DELAY_MS: "100", RUN_IDLE_TIMEOUT_MS: "600000", RUN_DEADLINE_MS: "600000" });
    const dataDir = env["DATA_DIR"] as string;
    const first = await world.startBot({ ...env, MAB_TEST_CRASH_AT: "reply-accepted" });
    const alice = new MatrixTestUser(hs.url, hs.addUser("alice", { displayName: "Alice" }));
    const { room_id: roomId } = await alice.createRoom({ is_direct: true, invite: [botUserId], preset: "trusted_private_chat" });
    await hs.waitFor(() => hs.membership(roomId, botUserId) === "join", { what: "the bot joins" });
    await alice.sendText(roomId, "question");

    /** The txnIds of the bot's PUT /send requests into the room, in order (one per request, repeats included). */
    const puts = (): string[] => hs.requests.filter((r) => r.method === "PUT" && r.userId === botUserId
      && r.path.includes(`/rooms/${roomId}/send/m.room.message/`)).map((r) => r.path.slice(r.path.lastIndexOf("/") + 1));
    const isPlaceholder = (txnId: string): boolean => txnId.endsWith(".placeholder");
    await waitFor(() => puts().some(isPlaceholder) && gates.length === 1, { what: "the placeholder posted, the agent at work" });
    const placeholderTxn = puts().find(isPlaceholder) as string;
    await waitFor(async () => (await openRows(dataDir, "outbox", placeholderTxn)) === 0, { what: "the placeholder marked sent" });
    gates[0]?.();

    expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    const run = placeholderTxn.slice(0, -"placeholder".length); // the run's txnIds: mab.<room and run id>.<part>
    const answerTxn = `${run}m0.0`; // the answer, edited into the placeholder
    expect(puts().filter((t) => t.startsWith(run))).toEqual([placeholderTxn, answerTxn]);
    // Killed before the commit carrying the answer's sent mark: its record is still pending.
    expect(await openRows(dataDir, "outbox", answerTxn)).toBe(1);

    const typing = (): number => hs.requests.filter((r) => r.userId === botUserId && r.path.includes(`/rooms/${roomId}/typing/`)).length;
    const typedBefore = typing();
    const second = await world.startBot(env);
    // The turn runs again (same run id): its placeholder is attempted at once (1 ms), typing goes on after 100 ms; then
    // the agent answers.
    await waitFor(() => seen.length === 2 && typing() > typedBefore, { what: "the turn run again, typing on" });
    gates[1]?.();
    await world.expectSteady(second, { syncUserId: botUserId }, () => {
      expect(botMessagesIn(hs, roomId, botUserId).map((e) => e.content["body"])).toEqual(["answered: question"]);
      // The answer resent after the restart (the homeserver deduped it); the placeholder found sent: not sent again.
      expect(puts().filter((t) => t.startsWith(run))).toEqual([placeholderTxn, answerTxn, answerTxn]);
    });
  });
});
