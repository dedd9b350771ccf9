// A batched run cut short by a SIGKILL just after the homeserver accepted its answer (as in batch-crash.test.ts), and
// while the bot is down Alice changes one of the batch's questions: she edits the last one, or redacts one. The
// restarted bot runs the recorded batch again (its answer is already out: the same txnIds, nothing posted twice) and
// only then handles her change, as a change of an answered question: the edit of the last answered question answers
// again by editing the answer; the redaction of an answered question redacts the answer. (Cancelled by the change
// instead, the run again would not know the answer its first attempt posted: it stayed, and the rest of the batch was
// answered a second time in a new message.)
import pino from "pino";
import { startReferenceAgent, type ReferenceAgent } from "../../src/reference-agent/server";
import { botMessagesIn, isIntroduction } from "../support/bot-messages";
import { botCaughtUp, waitForBotWork } from "../support/bot-idle";
import { gatedBrain } from "../support/brains";
import { CrashWorld, type CrashMode } from "../support/crash-world";
import { MatrixTestUser } from "../support/matrix-test-user";
import { waitFor } from "../support/wait";
import { edit } from "./threads/changes-support";
import { isRedacted } from "./threads/support";

const TOKEN = "batch-crash-changes-token";

describe.each<CrashMode>(["client", "appservice"])("a change to a batched question while the bot is down (%s mode)", (mode) => {
  const world = CrashWorld.use("sqlite");
  let agent: ReferenceAgent | undefined;
  afterEach(async () => {
    await agent?.close();
    agent = undefined;
  });

  /** "first" answered alone, then "one", "two", "three" in one run; the bot killed once that answer was accepted. */
  async function cutShort(): Promise<{ alice: MatrixTestUser; roomId: string; botUserId: string; ids: Record<string, string>;
    env: Record<string, string>; inbound: Parameters<typeof botCaughtUp>[1]; seen: ReturnType<typeof gatedBrain>["seen"] }> {
    const { hs } = world;
    const { brain, seen, release } = gatedBrain();
    agent = await startReferenceAgent({ host: "127.0.0.1", port: 0, token: TOKEN, logger: pino({ level: "silent" }), mode: { kind: "custom", brain } });
    // Answers posted whole (no live first event and final edit): each answer is one accepted reply, so the second
    // one is the batch's.
    const { env, botUserId, inbound } = await world.setUp(mode, { AGENT_URL: agent.url, AGENT_TOKEN: TOKEN,
      RUN_IDLE_TIMEOUT_MS: "600000", RUN_DEADLINE_MS: "600000", STREAMING: "final" });
    const first = await world.startBot({ ...env, MAB_TEST_CRASH_AT: "reply-accepted#2" });
    const alice = new MatrixTestUser(hs.url, hs.addUser("alice", { displayName: "Alice" }));
    const { room_id: roomId } = await alice.createRoom({ is_direct: true, invite: [botUserId], preset: "trusted_private_chat" });
    await hs.waitFor(() => hs.membership(roomId, botUserId) === "join", { what: "the bot joins" });
    const ids: Record<string, string> = {};
    ids["first"] = await alice.sendText(roomId, "first");
    await hs.waitFor(() => seen.length === 1, { what: "the first run started" });
    for (const text of ["one", "two", "three"]) ids[text] = await alice.sendText(roomId, text);
    await waitFor(() => botCaughtUp(hs, inbound), { what: "the bot caught up with the homeserver" });
    await waitForBotWork(first, (work) => work["router"] === 0 && work["turns"] === 4);
    release();
    expect(await first.exited).toEqual({ code: null, signal: "SIGKILL" });
    expect(seen[1]?.contents).toEqual(["one", "two", "three"]);
    return { alice, roomId, botUserId, ids, env, inbound, seen };
  }

  /** The bot's messages (first events, not edits) as the homeserver has them now, and whether each is redacted. */
  const originals = (roomId: string, botUserId: string): Array<{ id: string; redacted: boolean }> => {
    const redacted = new Set(world.hs.timeline(roomId).filter(isRedacted).map((e) => e.event_id));
    return world.hs.sent({ roomId, sender: botUserId, type: "m.room.message" })
      .filter((e) => !isIntroduction(e) && e.content["m.new_content"] === undefined)
      .map((e) => ({ id: e.event_id, redacted: redacted.has(e.event_id) }));
  };

  it("an edit of the batch's last question: the batch's answer is edited to answer the new text, no message posted twice", async () => {
    const { alice, roomId, botUserId, ids, env, inbound, seen } = await cutShort();
    await edit(alice, roomId, ids["three"] as string, "three, edited");
    const second = await world.startBot(env);
    const bodies = (): unknown[] => botMessagesIn(world.hs, roomId, botUserId).map((e) => e.content["body"]);
    await world.expectSteady(second, inbound, () => expect(bodies()).toEqual(["answered: first", "answered: three, edited"]));
    expect(originals(roomId, botUserId)).toHaveLength(2); // the answer edited in place, not a new message
    expect(seen.slice(2).map((r) => r.contents.at(-1))).toContain("three, edited");
  });

  it("a redaction of one of the batch's questions: the batch's answer is redacted, the first answer stays", async () => {
    const { alice, roomId, botUserId, ids, env, inbound } = await cutShort();
    await alice.redact(roomId, ids["two"] as string);
    const second = await world.startBot(env);
    await world.expectSteady(second, inbound, () => {
      const shown = originals(roomId, botUserId);
      expect(shown.map((m) => m.redacted)).toEqual([false, true]);
    });
    expect(botMessagesIn(world.hs, roomId, botUserId).map((e) => e.content["body"])[0]).toBe("answered: first");
  });
});
