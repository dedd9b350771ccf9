// Results the agent produces on its own (agent-initiated runs, and POST /proactive) delivered into rooms, by one
// rule on both paths (DESIGN.md): `*` → every room opted in when the bot records the run; a room id or a thread
// key → that room if the bot is joined to it, opted in or not (a reminder asked for there); any other target is
// refused (a permanent nack; 404 for POST). The room set is recorded before anything is queued, so a replay after a
// crash reaches the same rooms; every (run, room, part) is one outbox entry with a txnId derived from them, all
// committed before the agent is acked, so a resend after a crash is deduplicated by the homeserver.
// The entries are queued `chunkRooms` rooms at a time: the first rooms are sent while the next are recorded,
// and the records of all rooms are never built at once (bench/README.md, "Memory and fan-out").
import { createHash } from "node:crypto";
import type Keyv from "keyv";
import type { Logger } from "pino";
import type { AgentInitiatedOutcome, AgentInitiatedRun } from "../agent/link";
import { buildMessageContents, mentionsFor } from "../matrix/format";
import type { OutboxEntryInput } from "../outbox";
import { decodeThreadKey } from "../rooms/thread-key";
import { checkpoint } from "../util/checkpoints";

export interface FanoutDeps {
  /** Rooms opted in to proactive messages (the explicit index). */
  proactiveRooms: () => Promise<string[]>;
  /** Whether the bot is joined to a room now. */
  isJoined: (roomId: string) => Promise<boolean>;
  outbox: { enqueue(entries: OutboxEntryInput[], opts?: { group?: boolean }): Promise<void> };
  /** Run id → the rooms it was recorded for (namespace "proactive-runs"). */
  recordedRuns: Keyv<string[]>;
  log: Logger;
  recordTtlMs?: number;
  /** Rooms whose entries are recorded in one outbox enqueue. Default 100. */
  chunkRooms?: number;
}

export interface ProactiveResult {
  rooms: number;
  messages: number;
}

/** Why a target was refused: it names no room (`unknown_target`), or a room the bot is not in (`not_joined`). */
export interface RefusedTarget {
  refused: "unknown_target" | "not_joined";
  /** For the caller (POST /proactive's 404 body); no secrets. */
  detail: string;
}

export function proactiveTxnId(runId: string, roomId: string, message: number, part: number): string {
  const digest = createHash("sha256").update(`${runId}\n${roomId}`).digest("base64url").slice(0, 32);
  return `mab.p.${digest}.${message}.${part}`;
}

export class ProactiveFanout {
  /** deliver() calls under way: results not yet queued in the outbox (the work_in_flight metric). */
  private delivering = 0;

  constructor(private readonly deps: FanoutDeps) {}

  pendingCount(): number {
    return this.delivering;
  }

  /** The link's handler for agent-initiated runs: "handled" only once every delivery is durably queued. */
  async onAgentInitiated(run: AgentInitiatedRun): Promise<AgentInitiatedOutcome> {
    if (!run.proactive && run.threadId === "*") {
      this.deps.log.warn({ runId: run.runId }, "agent-initiated run for * without proactive: true; posted nowhere");
      return "handled";
    }
    const result = await this.deliver(run.runId, run.threadId, run.messages);
    if ("refused" in result) return { nack: true, reason: result.refused, permanent: true };
    return "handled";
  }

  /** Queues `messages` for the target. Throws if the store fails (the caller must then not ack). */
  async deliver(runId: string, threadId: string, messages: string[]): Promise<ProactiveResult | RefusedTarget> {
    this.delivering += 1;
    try {
      return await this.queue(runId, threadId, messages);
    } finally {
      this.delivering -= 1;
    }
  }

  private async queue(runId: string, threadId: string, messages: string[]): Promise<ProactiveResult | RefusedTarget> {
    const rooms = await this.roomsFor(runId, threadId);
    if (!Array.isArray(rooms)) return rooms;
    // One content object per message part, shared by every room's entry (the outbox keeps it shared while queued).
    const contents = messages.map((text) => buildMessageContents(text, { msgtype: "m.text" })
      .map((part) => ({ ...part, "m.mentions": mentionsFor({}) })));
    const origin = { kind: "proactive", runId } as const;
    const chunk = Math.max(1, this.deps.chunkRooms ?? 100);
    for (let i = 0; i < rooms.length; i += chunk) {
      const entries: OutboxEntryInput[] = [];
      for (const roomId of rooms.slice(i, i + chunk)) {
        contents.forEach((parts, m) => parts.forEach((content, p) => entries.push({
          roomId, type: "m.room.message", txnId: proactiveTxnId(runId, roomId, m, p), content, origin,
        })));
      }
      await this.deps.outbox.enqueue(entries, { group: true }); // one store write per chunk (outbox-store.ts)
      if (i + chunk < rooms.length) checkpoint("proactive-chunk-queued");
    }
    checkpoint("proactive-queued");
    this.deps.log.info({ runId, target: threadId === "*" ? "*" : "room", rooms: rooms.length, messages: messages.length },
      "proactive result queued");
    return { rooms: rooms.length, messages: messages.length };
  }

  /** The rooms of a run: recorded ones for a replay; else by the rule, recorded before anything is queued. */
  private async roomsFor(runId: string, threadId: string): Promise<string[] | RefusedTarget> {
    const recorded = await this.deps.recordedRuns.get(runId);
    if (recorded !== undefined) return recorded;
    let rooms: string[];
    if (threadId === "*") {
      rooms = await this.deps.proactiveRooms();
    } else {
      const roomId = decodeThreadKey(threadId)?.roomId ?? (threadId.startsWith("!") ? threadId : undefined);
      if (roomId === undefined) {
        this.deps.log.warn({ runId }, "proactive result for a target that names no room or thread; refused");
        return { refused: "unknown_target", detail: "the target is neither *, a room id (!…) nor a thread key" };
      }
      if (!(await this.deps.isJoined(roomId))) {
        this.deps.log.warn({ runId, roomId }, "proactive result for a room the bot is not in; refused");
        return { refused: "not_joined", detail: `the bot is not in the room ${roomId}` };
      }
      rooms = [roomId];
    }
    await this.deps.recordedRuns.set(runId, rooms, this.deps.recordTtlMs ?? 30 * 24 * 3600 * 1000);
    return rooms;
  }
}
