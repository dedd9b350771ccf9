// The standby scenarios of the fault suite (issue 30; client mode: standby-takeover.test.ts, appservice mode:
// standby-appservice.test.ts): steady traffic (turns across many rooms, a proactive fan-out to all of them), the
// active SIGKILLed several times while a standby waits, and what the homeserver received counted: lost, doubled.
import type { ChildBot } from "../support/bot-harness";
import { recordingBrain, say } from "../support/brains";
import type { AgentBrain } from "../../src/reference-agent/server";
import { MANY_ROOMS_POLL } from "../support/fanout-world";
import type { Scenario } from "../support/scenario";
import { ACTIVE_LINE, type ChildBots, STANDBY_LINE } from "../support/standby";
import { waitFor, waitWhileProgressing } from "../support/wait";
import { failureNotices, shownMessages, type ShownMessage } from "./shown-messages";
import { AGENT_DEADLINES, logTime, printFigure, timing } from "./support";

export { AGENT_DEADLINES };

/** The scenarios' figures (LEASE_MS 5 s there, the default is 10 s): 25 turns/s across 60 rooms, a fan-out every second. */
export const LEASE_MS = 5000;
/** The target: the standby takes over within the lease plus 2 s. */
export const TAKEOVER_LIMIT_MS = LEASE_MS + 2000;
export const KILLS = 3;
export const ROOMS = 60;
export const TURN_INTERVAL_MS = 40;
export const FANOUT_INTERVAL_MS = 1000;

const ANSWER_PREFIX = "answered: ";
const TURN_SEPARATOR = " + ";
/** Turns answered by an active before it is killed: it really is processing traffic when it dies. */
export const ANSWERED_BEFORE_KILL = 40;
const RUN_DEADLINE_MS = timing("RUN_DEADLINE_MS");
export const READY_DEADLINE_MS = 6 * RUN_DEADLINE_MS;


/** Turns that arrive while a room's run is in flight go to the agent together: its answer names every one of them. */
export function batchNamingBrain(): AgentBrain {
  return recordingBrain((run, out) => say(out, `${ANSWER_PREFIX}${run.contents.join(TURN_SEPARATOR)}`)).brain;
}

export interface TrafficOutcome {
  lost: number;
  /** Of `lost`, the turns never answered (the rest are digest copies never posted). */
  lostTurns: number;
  /** A few of what was lost (for the figure line), e.g. `turn 12`, `digest 3`. */
  lostSample: string[];
  /** Failure notices the bot posted, by kind (`link_lost:3`): a turn told to be sent again is lost. */
  failureNotices: string[];
  /** Answers shown in an edit (of their placeholder: the run took longer than PLACEHOLDER_DELAY_MS). */
  answersInEdits: number;
  digestsDoubled: number;
  /** Turns answered again in a different batch (a new run, so a new txnId): the rebatching defect of issue 30. */
  turnsDoubled: number;
  /** Turns answered twice by the same run (same batch, so the same txnId): the homeserver should have dropped one. */
  sameRunTwice: number;
}

/**
 * A turn every `turnIntervalMs` round the rooms (`burst` in a row to one room, default 1: those after the first arrive
 * while its run is in flight and are answered together), a digest to every room every `fanoutIntervalMs`.
 */
export class SteadyTraffic {
  /** What the bot must post: each turn answered once, one copy of each digest per room. */
  private readonly expected = new Map<string, number>();
  private readonly turns = new Set<string>();
  turnsSent = 0;
  digests = 0;
  private emitting: Promise<unknown> = Promise.resolve();
  private readonly timers: NodeJS.Timeout[];

  constructor(private readonly world: Scenario, private readonly rooms: readonly string[], opts: { turnIntervalMs: number; fanoutIntervalMs: number; burst?: number }) {
    this.timers = [setInterval(() => {
      const n = this.turnsSent++;
      const body = `turn ${n}`;
      this.expected.set(body, 1);
      this.turns.add(body);
      world.hs.sendEvent(world.alice.userId, rooms[Math.floor(n / (opts.burst ?? 1)) % rooms.length] as string, "m.room.message", { msgtype: "m.text", body });
    }, opts.turnIntervalMs), setInterval(() => {
      const body = `digest ${this.digests++}`;
      this.expected.set(body, rooms.length);
      this.emitting = this.emitting.then(() => world.agent?.emitProactive("*", body));
    }, opts.fanoutIntervalMs)];
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    await this.emitting;
  }

  /** The bot's room messages as a client shows them (shown-messages.ts: an edited one with its last edit's text). */
  private messages(): ShownMessage[] {
    return shownMessages(this.world.hs.sent({ sender: this.world.botUserId, type: "m.room.message" }));
  }

  private bodies(): string[] {
    return this.messages().map((m) => m.body);
  }

  /** How often each turn was answered and each digest posted. */
  posted(): Map<string, number> {
    const counts = new Map<string, number>();
    const count = (key: string): void => void counts.set(key, (counts.get(key) ?? 0) + 1);
    for (const body of this.bodies()) {
      if (body.startsWith(ANSWER_PREFIX)) body.slice(ANSWER_PREFIX.length).split(TURN_SEPARATOR).forEach(count);
      else if (this.expected.has(body)) count(body);
    }
    return counts;
  }

  answered(): number {
    return [...this.posted().keys()].filter((b) => this.turns.has(b)).length;
  }

  /** Waits until the bot answered `count` more turns than now. */
  async answersMore(count: number, what: string): Promise<void> {
    const before = this.answered();
    await waitFor(() => this.answered() >= before + count, { what, timeoutMs: READY_DEADLINE_MS, ...MANY_ROOMS_POLL });
  }

  /** Waits (while the count grows) until every turn was answered and every digest posted, then a little longer. */
  async settle(): Promise<void> {
    const delivered = (): number => [...this.posted().entries()].reduce((sum, [body, n]) => sum + Math.min(n, this.expected.get(body) ?? 0), 0);
    const wanted = [...this.expected.values()].reduce((a, b) => a + b, 0);
    await waitWhileProgressing(() => delivered() === wanted, delivered,
      { what: "every turn answered and every digest posted to every room", stallMs: 2 * RUN_DEADLINE_MS, ...MANY_ROOMS_POLL }).catch(() => undefined);
    await this.world.quiet(timing("SHUTDOWN_GRACE_MS") / 4); // room for a duplicate to show up, if there were one
  }

  outcome(): TrafficOutcome {
    const counts = this.posted();
    const answersOf = new Map<string, string[]>(); // each turn's answers, as the run that answered it named them
    for (const body of this.bodies()) {
      if (!body.startsWith(ANSWER_PREFIX)) continue;
      for (const turn of body.slice(ANSWER_PREFIX.length).split(TURN_SEPARATOR)) answersOf.set(turn, [...(answersOf.get(turn) ?? []), body]);
    }
    const messages = this.messages();
    const outcome: TrafficOutcome = { lost: 0, lostTurns: 0, lostSample: [], failureNotices: failureNotices(messages),
      answersInEdits: messages.filter((m) => m.edited && m.body.startsWith(ANSWER_PREFIX)).length, digestsDoubled: 0, turnsDoubled: 0, sameRunTwice: 0 };
    for (const [body, want] of this.expected) {
      const got = counts.get(body) ?? 0;
      outcome.lost += Math.max(0, want - got);
      if (got < want && this.turns.has(body)) outcome.lostTurns += 1;
      if (got < want && outcome.lostSample.length < 5) outcome.lostSample.push(`${body} (${got} of ${want})`);
      if (!this.turns.has(body)) outcome.digestsDoubled += Math.max(0, got - want);
      else if (got > 1) {
        outcome.turnsDoubled += got - 1;
        const answers = answersOf.get(body) ?? [];
        if (new Set(answers).size < answers.length) outcome.sameRunTwice += 1;
      }
    }
    return outcome;
  }

  /** Prints the scenario's figure line and returns the outcome. */
  report(scenario: string, figures: Record<string, number | string>, takeovers: TakeoverTimes, bots?: ChildBots): TrafficOutcome {
    const outcome = this.outcome();
    const failed = outcome.lost + outcome.digestsDoubled + outcome.turnsDoubled + outcome.sameRunTwice > 0;
    if (failed && bots) figures = { ...figures, botLogs: bots.saveLogs(scenario) }; // for finding out why
    printFigure(scenario, { ...figures, turns: this.turnsSent, digests: this.digests,
      takeoverMs: takeovers.takeovers.join(","), maxTakeoverMs: Math.max(...takeovers.takeovers), readyMs: takeovers.readies.join(","),
      lost: outcome.lost, lostTurns: outcome.lostTurns, lostSample: outcome.lostSample.join("; "),
      failureNotices: outcome.failureNotices.join(","), answersInEdits: outcome.answersInEdits, doubled: outcome.digestsDoubled + outcome.turnsDoubled, digestsDoubled: outcome.digestsDoubled,
      turnsDoubledByRebatching: outcome.turnsDoubled, sameRunTwice: outcome.sameRunTwice });
    return outcome;
  }
}

export function waitingAsStandby(bot: ChildBot): Promise<unknown> {
  return waitFor(() => bot.logs.find((l) => l.msg === STANDBY_LINE), { what: "the standby waiting for the lease", timeoutMs: READY_DEADLINE_MS });
}

export interface TakeoverTimes {
  /** SIGKILL → the standby holds the lease (asserted ≤ LEASE_MS + 2 s). */
  takeovers: number[];
  /** SIGKILL → the new active's `ready` (after its recovery: printed, not asserted). */
  readies: number[];
}

/**
 * `kills` times: waits for the active to answer traffic, SIGKILLs it, waits for the standby to be ready, and starts a
 * new standby on the dead one's DATA_DIR (`startStandby`, told the new active; it resolves once the new one waits as a standby).
 */
export async function killActiveRepeatedly(traffic: SteadyTraffic, bots: { active: ChildBot; standby: ChildBot }, kills: number,
  startStandby: (deadDataDir: string | undefined, active: ChildBot) => Promise<ChildBot>, dataDirOf: (bot: ChildBot) => string | undefined): Promise<TakeoverTimes> {
  const times: TakeoverTimes = { takeovers: [], readies: [] };
  let { active, standby } = bots;
  for (let k = 0; k < kills; k++) {
    await traffic.answersMore(ANSWERED_BEFORE_KILL, "the active answering traffic");
    const killedAt = Date.now();
    active.kill("SIGKILL");
    expect((await active.exited).signal).toBe("SIGKILL");
    await standby.ready(READY_DEADLINE_MS);
    times.takeovers.push((logTime(standby.logs, (l) => l.msg === ACTIVE_LINE) ?? Date.now()) - killedAt);
    times.readies.push((logTime(standby.logs, (l) => l.msg === "ready") ?? Date.now()) - killedAt);
    const dead = dataDirOf(active);
    active = standby;
    standby = await startStandby(dead, active);
  }
  await traffic.answersMore(ANSWERED_BEFORE_KILL, "the last active answering traffic");
  return times;
}
