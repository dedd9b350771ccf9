// The outbox's data: what callers hand in, what the store keeps, what a dead letter looks like.
// Every record read back from the store is parsed with these schemas (a malformed one is logged and skipped).
import { z } from "zod";

export const outboxOriginSchema = z.object({
  /** "live": an intermediate edit of an answer being written; cosmetic: a failed one is dropped, never a dead letter
   *  (sent again later, it would show stale text after the final edit). */
  kind: z.enum(["reply", "proactive", "notice", "live"]),
  runId: z.string().optional(),
});
export type OutboxOrigin = z.infer<typeof outboxOriginSchema>;

export const outboxEntryInputSchema = z.object({
  roomId: z.string().min(1),
  type: z.string().min(1),
  content: z.record(z.string(), z.unknown()),
  /** Chosen by the caller, deterministic (run + room + part): the homeserver dedupes a resend with it. */
  txnId: z.string().min(1),
  origin: outboxOriginSchema.optional(),
  /** Appservice mode: the user of the appservice's namespace it is sent as (a named agent's own user); unset: the bot. */
  asUser: z.string().min(1).optional(),
});
export type OutboxEntryInput = z.infer<typeof outboxEntryInputSchema>;

const contentSchema = outboxEntryInputSchema.shape.content;
const entryButContentSchema = outboxEntryInputSchema.omit({ content: true });

/**
 * Parses entries with the schema; a content object that several entries share (a fan-out's message, the same in
 * every room) is parsed once and stays shared, so 10,000 queued rooms hold one copy of it, not 10,000.
 */
export function parseEntries(entries: readonly OutboxEntryInput[]): OutboxEntryInput[] {
  const contents = new Map<object, OutboxEntryInput["content"]>();
  return entries.map((e) => {
    let content = contents.get(e.content);
    if (content === undefined) {
      content = contentSchema.parse(e.content);
      contents.set(e.content, content);
    }
    const { roomId, type, txnId, origin, asUser } = entryButContentSchema.parse(e);
    return { roomId, type, content, txnId, ...(origin ? { origin } : {}), ...(asUser !== undefined ? { asUser } : {}) };
  });
}

/** The failure kinds of src/matrix/errors.ts (failRoom records "forbidden": the bot may no longer post there). */
const failureKindSchema = z.enum(["rate_limited", "unknown_token", "forbidden", "not_found", "server", "network", "client"]);

export const deadLetterSchema = outboxEntryInputSchema.extend({
  /** Safe one-line reason (error kind, status, errcode, message); never content or tokens. */
  reason: z.string(),
  /** true: the homeserver refused (403/404/4xx, room left); false: retries were exhausted. */
  permanent: z.boolean(),
  attempts: z.number().int().nonnegative(),
  /** When it became a dead letter (ms since the epoch). */
  at: z.number(),
  /** The normalized failure, when it came from the homeserver (lets `send` rebuild a MatrixRequestError). */
  errorKind: failureKindSchema.optional(),
  status: z.number().int().optional(),
  errcode: z.string().optional(),
});
export type DeadLetter = z.infer<typeof deadLetterSchema>;

/** One record per txnId in the "outbox" namespace. */
export const outboxRecordSchema = z.discriminatedUnion("status", [
  z.object({ status: z.literal("pending"), entry: outboxEntryInputSchema, seq: z.number(), enqueuedAt: z.number() }),
  z.object({ status: z.literal("sent"), roomId: z.string(), eventId: z.string(), at: z.number() }),
  z.object({ status: z.literal("dead"), letter: deadLetterSchema, seq: z.number() }),
]);
export type OutboxRecord = z.infer<typeof outboxRecordSchema>;

/** Index "outbox-pending": txnId → where it belongs and its place in the enqueue order. */
export const pendingIndexSchema = z.object({ roomId: z.string(), seq: z.number() });
export type PendingIndexValue = z.infer<typeof pendingIndexSchema>;

/** Index "outbox-dead": txnId → room and time, enough to count dead letters per room without reading them. */
export const deadIndexSchema = z.object({ roomId: z.string(), at: z.number() });
export type DeadIndexValue = z.infer<typeof deadIndexSchema>;

/** Namespace "outbox-groups": entries recorded together in one write (a fan-out chunk), under a random id. */
export const pendingGroupSchema = z.object({
  entries: z.array(z.object({ entry: outboxEntryInputSchema, seq: z.number() })).min(1),
  enqueuedAt: z.number(),
});
export type PendingGroupValue = z.infer<typeof pendingGroupSchema>;

/** An entry on its way: the input plus its place in the global enqueue order. */
export interface PendingEntry {
  entry: OutboxEntryInput;
  seq: number;
  /** Recorded in this group ("outbox-groups"), not under its own txnId. */
  group?: string;
}

/** Lanes of the fair queue: people waiting for an answer go before background fan-out. */
export type Lane = "interactive" | "proactive";

export function laneOf(entry: OutboxEntryInput): Lane {
  return entry.origin?.kind === "proactive" ? "proactive" : "interactive";
}
