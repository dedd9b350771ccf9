// Issue 30 (LEASE_MS 5 s here, the default is 10 s): two bot processes on one PostgreSQL or Redis store, the active SIGKILLed under steady traffic (25 turns/s
// across 60 rooms, a proactive fan-out to all of them every second), three times in a row; each time the standby
// takes over, and a new standby starts on the dead one's DATA_DIR. Printed: takeover ms (SIGKILL → the standby holds
// the lease and starts recovering what the dead one left: outbox, journal, sync), ready ms (SIGKILL → its `ready`, once
// that recovery is done: the recovery's length grows with the machine's load, so it is printed, not asserted),
// messages lost, messages doubled (fan-out copies; turns answered again). Asserted: 0 lost, no fan-out message
// doubled, no turn answered twice by the same run, each takeover ≤ LEASE_MS + 2 s. Turns answered again in a
// different batch are counted, not yet asserted: see the todo below.
import type { ChildBot } from "../support/bot-harness";
import { describeEachBackend } from "../support/backends";
import { createJoinedRooms, MANY_ROOMS_POLL } from "../support/fanout-world";
import { Scenario } from "../support/scenario";
import { ACTIVE_LINE, ChildBots, STANDBY_LINE } from "../support/standby";
import { waitFor, waitWhileProgressing } from "../support/wait";
import { recordingBrain, say } from "../support/brains";
import { currentSyncToken, logTime, printFigure, seedKnownRooms, timing, UNBOUNDED_RUNS } from "./support";

const LEASE_MS = 5000;
/** The target: the standby takes over within the lease plus 2 s. */
const TAKEOVER_LIMIT_MS = LEASE_MS + 2000;
const KILLS = 3;
const ROOMS = 60;
const TURN_INTERVAL_MS = 40; // 25 turns/s
const FANOUT_INTERVAL_MS = 1000;
/** Turns answered by an active before it is killed: it really is processing traffic when it dies. */
const ANSWERED_BEFORE_KILL = 40;
const RUN_DEADLINE_MS = timing("RUN_DEADLINE_MS");
const READY_DEADLINE_MS = 6 * RUN_DEADLINE_MS;
const ANSWER_PREFIX = "answered: ";
const TURN_SEPARATOR = " + ";

describeEachBackend("fault: the active SIGKILLed under steady traffic, the standby takes over", (backend) => {
  let s: Scenario | undefined;
  const bots = new ChildBots();
  afterEach(async () => {
    await bots.stop();
    await s?.stop();
    s = undefined;
  });

  it(`${KILLS} SIGKILLs of the active at 25 turns/s across ${ROOMS} rooms with fan-out: 0 lost, no fan-out copy doubled, no run answered twice, takeover ≤ LEASE_MS + 2 s`, async () => {
    // Turns that arrive while a room's run is in flight go to the agent together: its answer names every one of them.
    const { brain } = recordingBrain((run, out) => say(out, `${ANSWER_PREFIX}${run.contents.join(TURN_SEPARATOR)}`));
    const world = (s = await Scenario.start({ mode: "client", backend, externalAgent: true, brain,
      env: { ...UNBOUNDED_RUNS, LEASE_MS: String(LEASE_MS) } }));
    await world.stopBot();
    const rooms = createJoinedRooms(world, ROOMS);
    await seedKnownRooms(world.dataDir, rooms, { optIn: true, syncToken: await currentSyncToken(world), storeUrl: world.store.url });
    const start = (dataDir?: string): ChildBot => bots.start(world.botEnv, dataDir);
    const waitingAsStandby = (bot: ChildBot): Promise<unknown> =>
      waitFor(() => bot.logs.find((l) => l.msg === STANDBY_LINE), { what: "the standby waiting for the lease", timeoutMs: READY_DEADLINE_MS });

    let active = await start(world.dataDir).ready(READY_DEADLINE_MS);
    let standby = start();
    const other = bots.dataDirOf(standby) as string;
    await waitingAsStandby(standby);
    expect(standby.logs.find((l) => l.msg === "ready")).toBeUndefined();

    // What the bot must post: each turn answered once, one copy of each digest per room.
    const expected = new Map<string, number>();
    const turns = new Set<string>();
    const turnsSent: string[] = [];
    const traffic = setInterval(() => {
      const n = turnsSent.length;
      const body = `turn ${n}`;
      turnsSent.push(body);
      expected.set(body, 1);
      turns.add(body);
      world.hs.sendEvent(world.alice.userId, rooms[n % rooms.length] as string, "m.room.message", { msgtype: "m.text", body });
    }, TURN_INTERVAL_MS);
    let digests = 0;
    let emitting: Promise<unknown> = Promise.resolve();
    const fanout = setInterval(() => {
      const body = `digest ${digests++}`;
      expected.set(body, rooms.length);
      emitting = emitting.then(() => world.agent?.emitProactive("*", body));
    }, FANOUT_INTERVAL_MS);
    /** How often each turn was answered and each digest posted, from what the homeserver double received. */
    const posted = (): Map<string, number> => {
      const counts = new Map<string, number>();
      const count = (key: string): void => void counts.set(key, (counts.get(key) ?? 0) + 1);
      for (const e of world.hs.sent({ sender: world.botUserId, type: "m.room.message" })) {
        const body = e.content["body"];
        if (typeof body !== "string" || e.content["m.new_content"] !== undefined) continue;
        if (body.startsWith(ANSWER_PREFIX)) body.slice(ANSWER_PREFIX.length).split(TURN_SEPARATOR).forEach(count);
        else if (expected.has(body)) count(body);
      }
      return counts;
    };
    const answered = (): number => [...posted().keys()].filter((b) => turns.has(b)).length;

    const takeovers: number[] = [];
    const readies: number[] = [];
    try {
      for (let k = 0; k < KILLS; k++) {
        const before = answered();
        await waitFor(() => answered() >= before + ANSWERED_BEFORE_KILL, { what: "the active answering traffic", timeoutMs: READY_DEADLINE_MS, ...MANY_ROOMS_POLL });
        const killedAt = Date.now();
        active.kill("SIGKILL");
        expect((await active.exited).signal).toBe("SIGKILL");
        await standby.ready(READY_DEADLINE_MS);
        takeovers.push((logTime(standby.logs, (l) => l.msg === ACTIVE_LINE) ?? Date.now()) - killedAt);
        readies.push((logTime(standby.logs, (l) => l.msg === "ready") ?? Date.now()) - killedAt);
        active = standby;
        standby = start(bots.dataDirOf(active) === other ? world.dataDir : other); // on the dead one's DATA_DIR
        await waitingAsStandby(standby);
      }
      const before = answered();
      await waitFor(() => answered() >= before + ANSWERED_BEFORE_KILL, { what: "the last active answering traffic", timeoutMs: READY_DEADLINE_MS, ...MANY_ROOMS_POLL });
    } finally {
      clearInterval(traffic);
      clearInterval(fanout);
    }
    await emitting;

    const delivered = (): number => [...posted().entries()].reduce((sum, [body, n]) => sum + Math.min(n, expected.get(body) ?? 0), 0);
    const wanted = [...expected.values()].reduce((a, b) => a + b, 0);
    await waitWhileProgressing(() => delivered() === wanted, delivered,
      { what: "every turn answered and every digest posted to every room", stallMs: 2 * RUN_DEADLINE_MS, ...MANY_ROOMS_POLL }).catch(() => undefined);
    await world.quiet(timing("SHUTDOWN_GRACE_MS") / 4); // room for a duplicate to show up, if there were one
    const counts = posted();
    // Each turn's answers, as the list of turns each answer named (a run answers every turn batched into it).
    const answersOf = new Map<string, string[]>();
    for (const e of world.hs.sent({ sender: world.botUserId, type: "m.room.message" })) {
      const body = e.content["body"];
      if (typeof body !== "string" || e.content["m.new_content"] !== undefined || !body.startsWith(ANSWER_PREFIX)) continue;
      for (const turn of body.slice(ANSWER_PREFIX.length).split(TURN_SEPARATOR)) answersOf.set(turn, [...(answersOf.get(turn) ?? []), body]);
    }
    let lost = 0;
    let digestsDoubled = 0;
    let turnsDoubled = 0;
    /** Turns answered twice by the same run (same batch, so the same txnId): the homeserver should have dropped one. */
    let sameRunTwice = 0;
    for (const [body, want] of expected) {
      const got = counts.get(body) ?? 0;
      lost += Math.max(0, want - got);
      if (!turns.has(body)) digestsDoubled += Math.max(0, got - want);
      else if (got > 1) {
        turnsDoubled += got - 1;
        const answers = answersOf.get(body) ?? [];
        if (new Set(answers).size < answers.length) sameRunTwice += 1;
      }
    }
    printFigure(`standby-takeover-${backend}`, { leaseMs: LEASE_MS, kills: KILLS, rooms: ROOMS, turns: turnsSent.length, digests,
      takeoverMs: takeovers.join(","), maxTakeoverMs: Math.max(...takeovers), readyMs: readies.join(","), lost,
      doubled: digestsDoubled + turnsDoubled, digestsDoubled, turnsDoubledByRebatching: turnsDoubled, sameRunTwice });
    expect({ lost, digestsDoubled, sameRunTwice }).toEqual({ lost: 0, digestsDoubled: 0, sameRunTwice: 0 });
    for (const ms of takeovers) expect(ms).toBeLessThanOrEqual(TAKEOVER_LIMIT_MS);
  });

  // Not done (issue 30): a run that answered several turns at once (they arrived while the room's previous run was in
  // flight), cut short by the kill after its answer was sent but before its turns were marked handled, is run again
  // after the takeover with a different batch (the journal does not keep which turns formed a run), so a new txnId:
  // those turns are answered a second time. The same happens after a SIGKILL and restart of a single process. The
  // fix is a durable record of each run's batch (turns and runId), so that recovery runs exactly that batch again.
  it.todo("0 turns answered twice after a takeover, also when a kill cuts short a run that answered several turns at once");
}, ["postgres", "redis"]);
