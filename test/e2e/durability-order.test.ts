// Group commit keeps both durability promises: every commit the SQLite store makes is observed (the adapter's
// "commit" event, emitted before the writes it carried resolve), and
//   - every appservice transaction the bot answers 200 follows the commit that journaled each of its messages;
//   - every ack the agent receives for a proactive result follows the commits that recorded the result's message
//     for every opted-in room in the outbox;
// while the writes of many rooms at once share commits (fewer commits than writes).
import { readFileSync } from "node:fs";
import pino from "pino";
import { parse } from "yaml";
import type { KeyvStoreAdapter } from "keyv";
import { useLoopbackWorld } from "../support/loopback-world";
import { appserviceEnv, freePort, InProcessBot, writeRegistration } from "../support/bot-harness";
import { optInDirectly } from "../support/fanout-world";
import { CoalescingKeyvSqlite, type CommittedWrite } from "../../src/store/sqlite-adapter";
import { MemoryAgentJournal, startReferenceAgent } from "../../src/reference-agent/server";

const ROOMS = 12;

/** Every key a commit ever set, every outbox record (or record group) text committed, and the number of commits, as they happen. */
class CommitLog {
  readonly keys = new Set<string>();
  readonly outboxRecords: string[] = [];
  commits = 0;
  writes = 0;

  observe(adapter: KeyvStoreAdapter): KeyvStoreAdapter {
    if (!(adapter instanceof CoalescingKeyvSqlite)) throw new Error("expected the sqlite adapter");
    adapter.on("commit", (writes: CommittedWrite[]) => {
      this.commits += 1;
      this.writes += writes.length;
      for (const w of writes) {
        if (w.value === undefined) continue;
        this.keys.add(w.key);
        // A record of its own ("outbox:") or one of a group recorded together ("outbox-groups:", a fan-out chunk).
        if (/^outbox(-groups)?:/.test(w.key) && typeof w.value === "string") this.outboxRecords.push(w.value);
      }
    });
    return adapter; // observed, not wrapped: the store keeps its write-order promise
  }

  /** Whether an outbox record of `text` for `roomId` was committed. */
  outboxRecordFor(roomId: string, text: string): boolean {
    return this.outboxRecords.some((value) => value.includes(roomId) && value.includes(text));
  }
}

describe("durability order under group commit", () => {
  const world = useLoopbackWorld();

  it("answers each transaction 200 and acks each agent result only after the commit that covers it, sharing commits", async () => {
    const { hs, dataDir } = world;
    const log = new CommitLog();
    const violations: string[] = [];
    let checkedEvents = 0;
    let checkedAcks = 0;
    const rooms: string[] = [];
    const news = "durable news for every room";

    // The agent checks, whenever the bot's ack makes it forget frames, that the result was recorded for every room.
    class CheckingJournal extends MemoryAgentJournal {
      override async remove(ids: readonly string[]): Promise<void> {
        checkedAcks += 1;
        for (const roomId of rooms) if (!log.outboxRecordFor(roomId, news)) violations.push(`ack before the outbox record of ${roomId} was committed`);
        await super.remove(ids);
      }
    }
    const agent = world.track(await startReferenceAgent({ host: "127.0.0.1", port: 0, logger: pino({ level: "silent" }), journal: new CheckingJournal() }), (a) => a.close());

    const port = await freePort();
    const reg = writeRegistration(dataDir, { port });
    const botUser = hs.addUser("agentbot");
    const alice = hs.addUser("alice");
    for (let i = 0; i < ROOMS; i++) {
      const roomId = hs.createRoom(alice.userId, { invite: [botUser.userId] });
      hs.join(botUser.userId, roomId);
      rooms.push(roomId);
    }
    await optInDirectly(dataDir, rooms);
    const { senderUserId } = hs.addAppservice(parse(readFileSync(reg.path, "utf8")));
    expect(senderUserId).toBe(botUser.userId);

    // The homeserver checks every 200 the bot gives: each message it carried must be journaled (committed) by then.
    hs.observe({
      transactionAnswered: ({ appserviceId, events, status }) => {
        if (appserviceId !== "matrix-agent-bot" || status !== 200) return;
        for (const e of events) {
          if (e.type !== "m.room.message" || e.sender !== alice.userId) continue;
          checkedEvents += 1;
          if (!log.keys.has(`journal:${e.room_id}|${e.event_id}`)) violations.push(`200 before ${e.event_id} was journaled`);
        }
      },
    });

    const bot = world.track(await new InProcessBot(appserviceEnv({ homeserverUrl: hs.url, registrationPath: reg.path, port, dataDir,
      extra: { AGENT_URL: agent.url, LOG_LEVEL: "info" } }), [reg.asToken, reg.hsToken], { wrapStoreAdapter: (a) => log.observe(a) }).start(), (b) => b.stop());

    // Messages in every room at once: several per transaction, many writes in flight together.
    const before = { commits: log.commits, writes: log.writes };
    for (const roomId of rooms) hs.sendEvent(alice.userId, roomId, "m.room.message", { msgtype: "m.text", body: `hello ${roomId}` });
    const answered = (): boolean => rooms.every((roomId) => hs.sent({ roomId, type: "m.room.message" }).some((e) => e.sender === senderUserId));
    await hs.waitFor(answered, { what: "an answer in every room", timeoutMs: 60_000 });
    await hs.waitFor(() => checkedEvents >= ROOMS, { what: "every message's transaction answered" });
    expect(log.writes - before.writes).toBeGreaterThan(ROOMS);
    expect(log.commits - before.commits).toBeLessThan(log.writes - before.writes);

    // A proactive result fanned out to every opted-in room: acked only once every room's message is recorded.
    await agent.emitProactive("*", news);
    const delivered = (): boolean => rooms.every((roomId) => hs.sent({ roomId, type: "m.room.message" }).some((e) => e.content["body"] === news));
    await hs.waitFor(() => delivered() && checkedAcks > 0, { what: "the result in every room, and the ack", timeoutMs: 60_000 });

    expect(violations).toEqual([]);
    expect(checkedEvents).toBeGreaterThanOrEqual(ROOMS);
  });
});
