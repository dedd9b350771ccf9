// The store's commits (each one fsync of the WAL) of one turn at one active room on SQLite (issue 31), both promises
// kept. Every commit is observed (the adapter's "commit" event, emitted before the writes it carried resolve); the
// messages come one at a time, each answered (and the bot idle) before the next. Per turn:
//   - the message's journal entry, and what its acknowledgement must not precede (the transaction's id record; the
//     sync token in client mode) in that same commit, never before it;
//   - the run's end in one commit: the journal entry done, the answer remembered, the thread's run record deleted
//     (never before the entry is done);
//   - the thread's run record in the commit of the answer's outbox record (written with the run's first send, not in a
//     commit of its own before the agent is asked: src/turns/record-gate.ts), never after it;
//   - at most 3 commits in all (7 before session 38: the id record, the answer and the record's delete had their own;
//     4 before session 39: the run record had its own), answers posted whole (WHOLE_ANSWERS).
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import pino from "pino";
import type { KeyvStoreAdapter } from "keyv";
import { useLoopbackWorld } from "../support/loopback-world";
import { appserviceEnv, botEnv, freePort, InProcessBot, writeRegistration } from "../support/bot-harness";
import { waitForBotIdle } from "../support/bot-idle";
import { isIntroduction } from "../support/bot-messages";
import { CoalescingKeyvSqlite, type CommittedWrite } from "../../src/store/sqlite-adapter";
import { startReferenceAgent } from "../../src/reference-agent/server";

const MESSAGES = 5;
/**
 * Answers posted whole: the path counted here is the turn's, not the live rendering's. With STREAMING=edits whether
 * the echo agent's answer is posted whole or live (an event, its final edit, their records) depends on how far apart
 * its frames arrive (LiveOptions.firstPostHoldMs): under load they came 50 ms apart once and the turn cost 8 commits.
 */
const WHOLE_ANSWERS = { STREAMING: "final" };
/**
 * A quick answer, as the shipped TYPING_DELAY_MS (300 ms) makes the echo agent's: no read receipt, which would wait for
 * the run record's commit (the harness's 0 sends it at once). Far above 300 ms, so that a loaded machine keeps it quick.
 */
const QUICK_ANSWER = { TYPING_DELAY_MS: "60000" };
/** Commits per turn at most: journal (+ id record or token), outbox record (+ run record), run's end (+ outbox sent). */
const MOST_COMMITS_PER_TURN = 3;

type Commit = CommittedWrite[];

/** Every commit, in order. */
function observeCommits(commits: Commit[]): (adapter: KeyvStoreAdapter) => KeyvStoreAdapter {
  return (adapter) => {
    if (!(adapter instanceof CoalescingKeyvSqlite)) throw new Error("expected the sqlite adapter");
    adapter.on("commit", (writes: Commit) => void commits.push(writes));
    return adapter; // observed, not wrapped: the store keeps its write order
  };
}

const sets = (commit: Commit, key: string): boolean => commit.some((w) => w.key === key && w.value !== undefined);
const deletes = (commit: Commit, prefix: string): boolean => commit.some((w) => w.key.startsWith(prefix) && w.value === undefined);
const marksDone = (commit: Commit, key: string): boolean => commit.some((w) => w.key === key && typeof w.value === "string" && w.value.includes('"done"'));
const indexOf = (commits: Commit[], test: (c: Commit) => boolean): number => commits.findIndex(test);

describe("the store's commits of one turn at one room (SQLite)", () => {
  const world = useLoopbackWorld();

  /** Sends the messages one at a time; returns per message its event id and the commits from its sending to the next's. */
  async function turns(bot: InProcessBot, commits: Commit[], send: (i: number) => string, answered: (i: number) => boolean):
    Promise<Array<{ eventId: string; commits: Commit[] }>> {
    const out: Array<{ eventId: string; from: number }> = [];
    for (let i = 0; i < MESSAGES; i++) {
      const from = commits.length;
      out.push({ eventId: send(i), from });
      await world.hs.waitFor(() => answered(i), { what: `the answer to message ${i}`, timeoutMs: 30_000 });
      await waitForBotIdle(bot.app); // the turn's own work after its answer (the run's end) is done
    }
    return out.map((t, i) => ({ eventId: t.eventId, commits: commits.slice(t.from, out[i + 1]?.from ?? commits.length) }));
  }

  /** The run record goes in the commit of the answer's outbox record (the first send of the run), not before nor after. */
  function expectRunRecordWithAnswer(commits: Commit[]): void {
    const recorded = indexOf(commits, (c) => c.some((w) => w.key.startsWith("run-batches:") && w.value !== undefined));
    const answer = indexOf(commits, (c) => c.some((w) => w.key.startsWith("outbox:") && w.value !== undefined));
    expect(answer).toBeGreaterThanOrEqual(0);
    expect(recorded).toBe(answer);
  }

  /** The run's end: one commit marks the message done, remembers the answer and deletes the thread's run record. */
  function expectRunEndInOneCommit(commits: Commit[], journalKey: string): void {
    const done = indexOf(commits, (c) => marksDone(c, journalKey));
    expect(done).toBeGreaterThanOrEqual(0);
    const end = commits[done] as Commit;
    expect(end.some((w) => w.key.startsWith("room-memory:") && w.value !== undefined)).toBe(true);
    expect(deletes(end, "run-batches:")).toBe(true);
    expect(commits.slice(0, done).some((c) => deletes(c, "run-batches:"))).toBe(false); // never before the entry is done
  }

  it("appservice mode: the id record in the journal's commit, the run's end in one, at most 3 commits per turn", async () => {
    const { hs, dataDir } = world;
    const commits: Commit[] = [];
    const agent = world.track(await startReferenceAgent({ host: "127.0.0.1", port: 0, logger: pino({ level: "silent" }) }), (a) => a.close());
    const port = await freePort();
    const reg = writeRegistration(dataDir, { port });
    const botUser = hs.addUser("agentbot");
    const alice = hs.addUser("alice");
    const roomId = hs.createRoom(alice.userId, { invite: [botUser.userId] });
    hs.join(botUser.userId, roomId);
    const { senderUserId } = hs.addAppservice(parse(readFileSync(reg.path, "utf8")));
    const txnOf = new Map<string, string>(); // event id → the transaction that brought it
    hs.observe({ transactionPush: ({ txnId, events }) => events.forEach((e) => txnOf.set(e.event_id, txnId)) });
    const bot = world.track(await new InProcessBot(appserviceEnv({ homeserverUrl: hs.url, registrationPath: reg.path, port, dataDir,
      extra: { AGENT_URL: agent.url, ...WHOLE_ANSWERS, ...QUICK_ANSWER } }), [reg.asToken, reg.hsToken], { wrapStoreAdapter: observeCommits(commits) }).start(), (b) => b.stop());

    const answers = (): number => hs.sent({ roomId, type: "m.room.message" }).filter((e) => e.sender === senderUserId).length;
    const done = await turns(bot, commits,
      (i) => hs.sendEvent(alice.userId, roomId, "m.room.message", { msgtype: "m.text", body: `question ${i}` }), (i) => answers() > i);

    expect(answers()).toBe(MESSAGES);
    for (const [i, turn] of done.entries()) {
      const journalKey = `journal:${roomId}|${turn.eventId}`;
      const txnKey = `appservice-txn:${txnOf.get(turn.eventId) ?? "?"}`;
      const journaled = indexOf(turn.commits, (c) => sets(c, journalKey));
      expect(journaled).toBeGreaterThanOrEqual(0);
      // The id record shares the journal's commit: never durable without the message (nor before it).
      expect([i, indexOf(turn.commits, (c) => sets(c, txnKey))]).toEqual([i, journaled]);
      // The first turn reads the room's answers (not in memory yet) before it remembers its own, looks its transaction id
      // up and starts the room's records; the later ones are the steady state.
      if (i > 0) expectRunEndInOneCommit(turn.commits, journalKey);
      if (i > 0) expectRunRecordWithAnswer(turn.commits);
      if (i > 0) expectFewCommits(i, turn.commits);
    }
  });

  it("client mode: the sync token in the journal's commit, the run's end in one, at most 3 commits per turn", async () => {
    const { hs, dataDir } = world;
    const commits: Commit[] = [];
    const agent = world.track(await startReferenceAgent({ host: "127.0.0.1", port: 0, logger: pino({ level: "silent" }) }), (a) => a.close());
    const botUser = hs.addUser("agentbot");
    const alice = hs.addUser("alice");
    const roomId = hs.createRoom(alice.userId, { invite: [botUser.userId] });
    hs.join(botUser.userId, roomId);
    const bot = world.track(await new InProcessBot(botEnv({ homeserverUrl: hs.url, accessToken: botUser.accessToken, dataDir,
      extra: { AGENT_URL: agent.url, ...WHOLE_ANSWERS, ...QUICK_ANSWER } }), [], { wrapStoreAdapter: observeCommits(commits) }).start(), (b) => b.stop());

    /** Per message, the stream position it was sent at: a token at or past it covers it. */
    const positions: number[] = [];
    const answers = (): number => hs.sent({ roomId, type: "m.room.message" }).filter((e) => e.sender === botUser.userId && !isIntroduction(e)).length;
    const done = await turns(bot, commits, (i) => {
      const eventId = hs.sendEvent(alice.userId, roomId, "m.room.message", { msgtype: "m.text", body: `question ${i}` });
      positions.push(positionOf(hs.streamToken));
      return eventId;
    }, (i) => answers() > i);

    expect(answers()).toBe(MESSAGES);
    for (const [i, turn] of done.entries()) {
      const journalKey = `journal:${roomId}|${turn.eventId}`;
      const journaled = indexOf(turn.commits, (c) => sets(c, journalKey));
      expect(journaled).toBeGreaterThanOrEqual(0);
      // The first token that covers the message is saved in the journal's commit: never before the message is durable.
      const covering = indexOf(turn.commits, (c) => c.some((w) => w.key === "sync:next_batch" && w.value !== undefined &&
        positionOf(storedToken(w.value)) >= (positions[i] ?? Infinity)));
      expect([i, covering]).toEqual([i, journaled]);
      if (i > 0) expectRunEndInOneCommit(turn.commits, journalKey);
      if (i > 0) expectRunRecordWithAnswer(turn.commits);
      if (i > 0) expectFewCommits(i, turn.commits);
    }
  });
});

/** At most MOST_COMMITS_PER_TURN commits; else what they carried (`+` a set, `-` a delete, by namespace) shows. */
function expectFewCommits(turn: number, commits: Commit[]): void {
  const carried = commits.map((c) => c.map((w) => `${w.value === undefined ? "-" : "+"}${w.key.split(/[:|]/)[0] ?? ""}`).join(" "));
  expect({ turn, commits: carried.length <= MOST_COMMITS_PER_TURN ? "few" : carried }).toEqual({ turn, commits: "few" });
}

/** The double's stream position in a /sync token (`s<N>`). */
function positionOf(token: string): number {
  const match = /^[st](\d+)$/.exec(token);
  if (!match?.[1]) throw new Error(`not a stream token of the double: ${token}`);
  return Number(match[1]);
}

/** The token in a stored value (keyv's JSON: `{"value":"s12",…}`). */
function storedToken(value: unknown): string {
  const parsed = JSON.parse(String(value)) as { value?: unknown };
  return String(parsed.value);
}
