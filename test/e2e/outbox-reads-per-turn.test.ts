// What a fresh turn costs the outbox and the live messages in store reads and commits (issue 31). A turn whose event
// this process journaled first runs under an id no attempt used before (src/outbox/unrecorded.ts): it reads no outbox
// record and no live-message record before it sends (a run again after a crash does: test/e2e/outbox-crash.test.ts).
// Its answer's sent mark shares the commit of the run's end (the journal's done entry of its question) instead of
// a commit of its own. The store's reads and commits are observed on the adapter ("read", "commit" events) while
// the messages come one at a time, each answered and the bot idle before the next.
import pino from "pino";
import type { KeyvStoreAdapter } from "keyv";
import { appserviceRoom, useLoopbackWorld } from "../support/loopback-world";
import { appserviceEnv, freePort, InProcessBot } from "../support/bot-harness";
import { waitForBotIdle } from "../support/bot-idle";
import { CoalescingKeyvSqlite, type CommittedWrite } from "../../src/store/sqlite-adapter";
import { startReferenceAgent } from "../../src/reference-agent/server";

const MESSAGES = 5;

describe("a fresh turn's outbox and live messages", () => {
  const world = useLoopbackWorld();

  it.each(["final", "edits"])("STREAMING=%s: read nothing of the outbox or the placeholder; the sent mark shares the run's end commit", async (streaming) => {
    const { hs, dataDir } = world;
    const reads: string[] = [];
    const commits: CommittedWrite[][] = [];
    const observe = (adapter: KeyvStoreAdapter): KeyvStoreAdapter => {
      if (!(adapter instanceof CoalescingKeyvSqlite)) throw new Error("expected the sqlite adapter");
      adapter.on("read", (keys: string[]) => reads.push(...keys));
      adapter.on("commit", (writes: CommittedWrite[]) => commits.push(writes));
      return adapter; // observed, not wrapped
    };
    const agent = world.track(await startReferenceAgent({ host: "127.0.0.1", port: 0, logger: pino({ level: "silent" }) }), (a) => a.close());
    const port = await freePort();
    const { reg, alice, roomId, senderUserId } = appserviceRoom(world, port);
    // No typing and no placeholder: the answer comes at once, whatever the machine's load.
    const bot = world.track(await new InProcessBot(appserviceEnv({ homeserverUrl: hs.url, registrationPath: reg.path, port, dataDir,
      extra: { AGENT_URL: agent.url, STREAMING: streaming, TYPING_DELAY_MS: "600000", PLACEHOLDER_DELAY_MS: "600000" } }),
    [reg.asToken, reg.hsToken], { wrapStoreAdapter: observe }).start(), (b) => b.stop());

    const turns: Array<{ reads: string[]; commits: CommittedWrite[][] }> = [];
    for (let i = 0; i < MESSAGES; i++) {
      await waitForBotIdle(bot.app);
      const [readsBefore, commitsBefore] = [reads.length, commits.length];
      const body = `question ${i}`;
      hs.sendEvent(alice.userId, roomId, "m.room.message", { msgtype: "m.text", body });
      await hs.waitFor(() => hs.sent({ roomId, type: "m.room.message" }).filter((e) => e.sender === senderUserId).length > i,
        { what: `the answer to ${body}`, timeoutMs: 30_000 });
      await waitForBotIdle(bot.app); // the turn's own writes after its answer are done
      turns.push({ reads: reads.slice(readsBefore), commits: commits.slice(commitsBefore) });
    }

    for (const [i, turn] of turns.entries()) {
      const ofOutbox = turn.reads.filter((k) => k.startsWith("outbox:"));
      const ofLive = turn.reads.filter((k) => k.startsWith("live-messages:"));
      // Nothing of the outbox, the placeholder or the live message (an answer that came whole in a burst is posted
      // whole after the first post's hold, live or not: firstPostHoldMs).
      expect({ turn: i, ofOutbox, ofLive }).toEqual({ turn: i, ofOutbox: [], ofLive: [] });
      // The answer's sent mark (its record rewritten as sent) is in the commit that marks the question done.
      const marks = turn.commits.filter((c) => c.some((w) => w.key.startsWith("outbox:") && String(w.value).includes('"status":"sent"')));
      expect(marks).toHaveLength(1);
      expect(marks[0]?.some((w) => w.key.startsWith("journal:") && String(w.value).includes("done"))).toBe(true);
      // Commits of the outbox's own (its writes, with the run's record written by the same first send:
      // src/turns/record-gate.ts): one per turn (its answer recorded before it is sent), not two.
      const own = (c: CommittedWrite[]): boolean => c.some((w) => w.key.startsWith("outbox"))
        && c.every((w) => w.key.startsWith("outbox") || w.key.startsWith("run-batches:"));
      expect(turn.commits.filter(own)).toHaveLength(1);
    }
  });
});
