// The path to a transaction's 200 on SQLite reads nothing from the store (issue 31): its events go to the journal
// with insertIfAbsent (one group commit, no read), and its id is not looked up once this process has processed a
// transaction the store did not know. The store's reads are observed (the adapter's "read" event) from the moment the
// homeserver pushes each transaction to the commit that journals it (after which the 200 awaits nothing more); the
// messages come one at a time, each answered (and the bot idle) before the next.
import type { KeyvStoreAdapter } from "keyv";
import { appserviceRoom, useLoopbackWorld } from "../support/loopback-world";
import { appserviceEnv, freePort, InProcessBot } from "../support/bot-harness";
import { waitForBotIdle } from "../support/bot-idle";
import { CoalescingKeyvSqlite } from "../../src/store/sqlite-adapter";
import { startReferenceAgent } from "../../src/reference-agent/server";
import pino from "pino";

const MESSAGES = 6;

describe("a transaction's 200 on SQLite", () => {
  const world = useLoopbackWorld();

  it("is preceded by no store read and by the commit that journaled its message; each answer by its run's record", async () => {
    const { hs, dataDir } = world;
    /** Per transaction with a message: the keys read from its push to the commit that journaled it, and that commit. */
    const windows = new Map<string, { reads: string[]; journaled: boolean }>();
    const open = new Set<string>();
    /** Runs' records committed, and the bot's sends that found fewer records than sends (a run begins before its record's commit). */
    let recordsCommitted = 0;
    let sends = 0;
    const sentEarly: string[] = [];
    const observe = (adapter: KeyvStoreAdapter): KeyvStoreAdapter => {
      if (!(adapter instanceof CoalescingKeyvSqlite)) throw new Error("expected the sqlite adapter");
      adapter.on("read", (keys: string[]) => {
        for (const txnId of open) {
          const window = windows.get(txnId);
          // After the journal's commit the path to the 200 awaits nothing (the turn it started may read meanwhile).
          if (window && !window.journaled) window.reads.push(...keys);
        }
      });
      adapter.on("commit", (writes: Array<{ key: string; value: unknown }>) => {
        recordsCommitted += writes.filter((w) => w.key.startsWith("run-batches:") && w.value !== undefined).length;
        for (const txnId of open) if (writes.some((w) => w.key.startsWith("journal:"))) (windows.get(txnId) as { journaled: boolean }).journaled = true;
      });
      return adapter; // observed, not wrapped: the store keeps its insertIfAbsent and its write order
    };

    const agent = world.track(await startReferenceAgent({ host: "127.0.0.1", port: 0, logger: pino({ level: "silent" }) }), (a) => a.close());
    const port = await freePort();
    const { reg, alice, roomId, senderUserId } = appserviceRoom(world, port);
    hs.observe({
      transactionPush: ({ appserviceId, txnId, events }) => {
        if (appserviceId !== "matrix-agent-bot" || !events.some((e) => e.sender === alice.userId && e.type === "m.room.message")) return;
        windows.set(txnId, { reads: [], journaled: false });
        open.add(txnId);
      },
      transactionAnswered: ({ txnId }) => void open.delete(txnId),
      request: (record) => {
        if (record.method !== "PUT" || !record.path.includes("/send/m.room.message/")) return;
        sends += 1;
        if (recordsCommitted < sends) sentEarly.push(record.path);
      },
    });
    // Answers posted whole: one send per answer, however far apart the agent's frames come (firstPostHoldMs).
    const bot = world.track(await new InProcessBot(appserviceEnv({ homeserverUrl: hs.url, registrationPath: reg.path, port, dataDir,
      extra: { AGENT_URL: agent.url, STREAMING: "final" } }), [reg.asToken, reg.hsToken], { wrapStoreAdapter: observe }).start(), (b) => b.stop());

    for (let i = 0; i < MESSAGES; i++) {
      const body = `question ${i}`;
      hs.sendEvent(alice.userId, roomId, "m.room.message", { msgtype: "m.text", body });
      await hs.waitFor(() => hs.sent({ roomId, type: "m.room.message" }).filter((e) => e.sender === senderUserId).length > i,
        { what: `the answer to ${body}`, timeoutMs: 30_000 });
      await waitForBotIdle(bot.app); // the turn's own work after its answer is done: only the next one's path is watched
    }
    await hs.waitFor(() => open.size === 0, { what: "every transaction answered" });

    expect(sentEarly).toEqual([]); // each answer went out after the commit of its run's record
    expect(sends).toBe(MESSAGES);
    const seen = [...windows.values()];
    expect(seen).toHaveLength(MESSAGES);
    expect(seen.slice(1)).toEqual(seen.slice(1).map(() => ({ reads: [], journaled: true })));
    // The first after the start looks its id up (a retry of what the last process answered comes first); the journal
    // reads nothing there either (the start's own work, a health probe, may read meanwhile).
    expect(seen[0]?.reads).toContainEqual(expect.stringMatching(/^appservice-txn:/));
    expect(seen[0]?.reads.filter((k) => k.startsWith("journal"))).toEqual([]);
    expect(seen[0]?.journaled).toBe(true);
  });
});
