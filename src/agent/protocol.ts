// Agent wire protocol v1 ("matrix-agent/1"): every frame both ways as zod schemas, types inferred.
// See runbook/agent-protocol.md for the semantics (seq, ack, resume, replay).
import { z } from "zod";

export const PROTOCOL = "matrix-agent/1";

const nonEmpty = z.string().min(1);
const seq = z.number().int().nonnegative();

// ---------------------------------------------------------------- AG-UI event vocabulary

export const RUN_ERROR_CODES = [
  "thread_busy",
  "rate_limited",
  "upstream_unavailable",
  "context_too_long",
  "timeout",
  "cancelled",
  "auth",
  "internal",
] as const;
export const RunErrorCodeSchema = z.enum(RUN_ERROR_CODES);
export type RunErrorCode = z.infer<typeof RunErrorCodeSchema>;

export const RunStartedEventSchema = z.looseObject({ type: z.literal("RUN_STARTED") });
export const TextMessageStartEventSchema = z.looseObject({
  type: z.literal("TEXT_MESSAGE_START"),
  messageId: nonEmpty,
});
export const TextMessageContentEventSchema = z.looseObject({
  type: z.literal("TEXT_MESSAGE_CONTENT"),
  messageId: nonEmpty,
  delta: z.string(),
});
export const TextMessageEndEventSchema = z.looseObject({
  type: z.literal("TEXT_MESSAGE_END"),
  messageId: nonEmpty,
});
export const RunFinishedEventSchema = z.looseObject({ type: z.literal("RUN_FINISHED") });
export const RunErrorEventSchema = z.looseObject({
  type: z.literal("RUN_ERROR"),
  code: RunErrorCodeSchema,
  message: z.string(),
  retryable: z.boolean().default(false),
});

const KnownEventSchema = z.discriminatedUnion("type", [
  RunStartedEventSchema,
  TextMessageStartEventSchema,
  TextMessageContentEventSchema,
  TextMessageEndEventSchema,
  RunFinishedEventSchema,
  RunErrorEventSchema,
]);
export type KnownAgentEvent = z.infer<typeof KnownEventSchema>;
export const KNOWN_EVENT_TYPES: ReadonlySet<string> = new Set([
  "RUN_STARTED",
  "TEXT_MESSAGE_START",
  "TEXT_MESSAGE_CONTENT",
  "TEXT_MESSAGE_END",
  "RUN_FINISHED",
  "RUN_ERROR",
]);

/** An event type we do not use (e.g. AG-UI TOOL_CALL_*): parsed, then ignored. */
export interface UnknownAgentEvent {
  type: "UNKNOWN";
  originalType: string;
}
export type AgentEvent = KnownAgentEvent | UnknownAgentEvent;

/** Known types must be well-formed; any other type string becomes `{ type: "UNKNOWN" }`. */
export const AgentEventSchema = z.looseObject({ type: z.string() }).transform((raw, ctx): AgentEvent => {
  if (!KNOWN_EVENT_TYPES.has(raw.type) || raw.type === "UNKNOWN") {
    return { type: "UNKNOWN", originalType: raw.type };
  }
  const parsed = KnownEventSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ code: "custom", message: issue.message, path: issue.path as (string | number)[] });
    }
    return z.NEVER;
  }
  return parsed.data;
});

// ---------------------------------------------------------------- bot → agent

export const RunInputMessageSchema = z.looseObject({
  id: nonEmpty,
  role: z.literal("user"),
  content: z.string(),
  sender: nonEmpty,
  senderName: z.string().optional(),
});
export type RunInputMessage = z.infer<typeof RunInputMessageSchema>;

export const RunContextSchema = z.looseObject({
  roomId: nonEmpty,
  isDirect: z.boolean(),
  inReplyTo: z.string().optional(),
});
export type RunContext = z.infer<typeof RunContextSchema>;

export const RunInputSchema = z.looseObject({
  messages: z.array(RunInputMessageSchema).min(1),
  context: RunContextSchema,
});
export type RunInput = z.infer<typeof RunInputSchema>;

export const HelloFrameSchema = z.object({
  op: z.literal("hello"),
  protocol: z.string(),
  client: z.string(),
  resume: z.object({ sessionId: nonEmpty, lastSeq: seq }).optional(),
});
export const RunFrameSchema = z.object({
  op: z.literal("run"),
  threadId: nonEmpty,
  runId: nonEmpty,
  input: RunInputSchema,
});
export const CancelFrameSchema = z.object({ op: z.literal("cancel"), runId: nonEmpty });
export const AckFrameSchema = z.object({ op: z.literal("ack"), seq });
export const NackFrameSchema = z.object({
  op: z.literal("nack"),
  seq,
  reason: z.string(),
  permanent: z.boolean(),
});
export const BotFrameSchema = z.discriminatedUnion("op", [
  HelloFrameSchema,
  RunFrameSchema,
  CancelFrameSchema,
  AckFrameSchema,
  NackFrameSchema,
]);
export type HelloFrame = z.infer<typeof HelloFrameSchema>;
export type RunFrame = z.infer<typeof RunFrameSchema>;
export type CancelFrame = z.infer<typeof CancelFrameSchema>;
export type AckFrame = z.infer<typeof AckFrameSchema>;
export type NackFrame = z.infer<typeof NackFrameSchema>;
export type BotFrame = z.infer<typeof BotFrameSchema>;

// ---------------------------------------------------------------- agent → bot

export const ReadyFrameSchema = z.object({
  op: z.literal("ready"),
  sessionId: nonEmpty,
  resumed: z.boolean(),
  heartbeatMs: z.number().int().positive().optional(),
});
export const EventFrameSchema = z.object({
  op: z.literal("event"),
  seq,
  threadId: nonEmpty,
  runId: nonEmpty,
  /** Only on agent-initiated runs: post to the opted-in rooms (`threadId` "*") or the thread's room. */
  proactive: z.boolean().optional(),
  event: AgentEventSchema,
});
export const ErrorFrameSchema = z.object({
  op: z.literal("error"),
  runId: z.string().optional(),
  code: z.string(),
  message: z.string(),
});
export const AgentFrameSchema = z.discriminatedUnion("op", [ReadyFrameSchema, EventFrameSchema, ErrorFrameSchema]);
export type ReadyFrame = z.infer<typeof ReadyFrameSchema>;
export type EventFrame = z.infer<typeof EventFrameSchema>;
export type ErrorFrame = z.infer<typeof ErrorFrameSchema>;
export type AgentFrame = z.infer<typeof AgentFrameSchema>;

// ---------------------------------------------------------------- parsing helpers

export type ParseResult<F> = { ok: true; frame: F } | { ok: false; error: string; runId?: string };

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length > 0 ? i.path.join(".") : "(frame)"}: ${i.message}`)
    .join("; ");
}

function parseWith<F>(schema: z.ZodType<F>, raw: string): ParseResult<F> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return { ok: false, error: "not JSON" };
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, error: "frame is not a JSON object" };
  }
  const parsed = schema.safeParse(json);
  if (parsed.success) return { ok: true, frame: parsed.data };
  const runId = (json as { runId?: unknown }).runId;
  const error = describeIssues(parsed.error);
  return typeof runId === "string" && runId.length > 0 ? { ok: false, error, runId } : { ok: false, error };
}

/** Parse one agent → bot frame. A malformed frame still yields its runId when it carries a string one. */
export function parseAgentFrame(raw: string): ParseResult<AgentFrame> {
  return parseWith(AgentFrameSchema, raw);
}

/** Parse one bot → agent frame (used by agents, e.g. the reference agent). */
export function parseBotFrame(raw: string): ParseResult<BotFrame> {
  return parseWith(BotFrameSchema, raw);
}
