// Agent protocol v2 ("matrix-agent/2"): AG-UI 1.0 inside the v1 envelope. Events are parsed with the official
// `EventSchema` of `@ag-ui/core/schemas` (never a copy); `run.input` is an AG-UI `RunAgentInput`; a v2 `ready`
// carries AG-UI `AgentCapabilities`. See runbook/agent-protocol.md ("Protocol v2").
import { AgentCapabilitiesSchema, EventSchema, InterruptSchema, ResumeEntrySchema, RunAgentInputSchema } from "@ag-ui/core/schemas";
import { splitUsage } from "../usage/token-usage";
import { EventType } from "@ag-ui/core";
import { z } from "zod";
import type { AgentEvent, RunInput } from "./protocol";

export const PROTOCOL_V2 = "matrix-agent/2";
export type ProtocolVersion = 1 | 2;

export { AgentCapabilitiesSchema, InterruptSchema, ResumeEntrySchema, RunAgentInputSchema };
/** Something a paused run needs from people (RUN_FINISHED outcome `interrupt`, src/interrupts/). */
export type AgentInterrupt = z.infer<typeof InterruptSchema>;
/** The answer to one interrupt, sent in the run that continues from it (`RunAgentInput.resume`). */
export type ResumeEntry = z.infer<typeof ResumeEntrySchema>;
export type AguiEvent = z.infer<typeof EventSchema>;
export type AgentCapabilities = z.infer<typeof AgentCapabilitiesSchema>;
export type RunAgentInput = z.input<typeof RunAgentInputSchema>;

const AGUI_TYPES: ReadonlySet<string> = new Set(Object.values(EventType));

/**
 * The event of a v2 `event` frame: an AG-UI 1.0 event, or a type AG-UI 1.0 does not define (ignored).
 * `usageRejected`: the RUN_FINISHED/RUN_ERROR `usage` entries left out as malformed, and why (the event stands).
 */
export type V2Event = { kind: "agui"; event: AguiEvent; usageRejected?: string } | { kind: "unknown"; type: string };

/** AG-UI 1.0 types must be valid by `EventSchema`; any other type string becomes `{ kind: "unknown" }`. */
export const V2EventSchema = z.looseObject({ type: z.string() }).transform((raw, ctx): V2Event => {
  if (!AGUI_TYPES.has(raw.type)) return { kind: "unknown", type: raw.type };
  // A malformed `usage` fails only itself: the event is checked without the entries that are not TokenUsage.
  const { event: checked, rejected } = splitUsage(raw);
  const parsed = EventSchema.safeParse(checked);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      ctx.addIssue({ code: "custom", message: issue.message, path: issue.path as (string | number)[] });
    }
    return z.NEVER;
  }
  return { kind: "agui", event: parsed.data, ...(rejected !== undefined ? { usageRejected: rejected } : {}) };
});

/** RUN_STARTED and RUN_FINISHED name their run; in the envelope they must name the envelope's. */
export function envelopeMismatch(event: V2Event, threadId: string, runId: string): string | undefined {
  if (event.kind !== "agui") return undefined;
  const e = event.event;
  if (e.type !== EventType.RUN_STARTED && e.type !== EventType.RUN_FINISHED) return undefined;
  if (e.threadId !== threadId) return `${e.type}.threadId does not match the envelope's threadId`;
  if (e.runId !== runId) return `${e.type}.runId does not match the envelope's runId`;
  return undefined;
}

// ---------------------------------------------------------------- run input

/** Context entries of a v2 run (`RunAgentInput.context`): their descriptions, as agents look them up. */
export const CONTEXT_KEYS = { roomId: "roomId", isDirect: "isDirect", threadRootId: "threadRootId", inReplyTo: "inReplyTo" } as const;

type MessageContent = RunAgentInput["messages"][number] extends infer M ? M extends { role: "user"; content: infer C } ? C : never : never;

/**
 * The bot's run input (the v1 shape, protocol-neutral) as an AG-UI RunAgentInput; `contentOf` gives a message's
 * content (content parts for an attachment), default its text.
 */
export function toRunAgentInput(threadId: string, runId: string, input: RunInput,
  contentOf: (message: RunInput["messages"][number]) => MessageContent = (m) => m.content): RunAgentInput {
  const ctx = input.context;
  const context = [
    { description: CONTEXT_KEYS.roomId, value: ctx.roomId },
    { description: CONTEXT_KEYS.isDirect, value: String(ctx.isDirect) },
    ...(typeof ctx["threadRootId"] === "string" ? [{ description: CONTEXT_KEYS.threadRootId, value: ctx["threadRootId"] }] : []),
    ...(ctx.inReplyTo !== undefined ? [{ description: CONTEXT_KEYS.inReplyTo, value: ctx.inReplyTo }] : []),
  ];
  return {
    threadId,
    runId,
    messages: input.messages.map((m) => ({
      id: m.id, role: "user" as const, content: contentOf(m),
      ...(m.senderName !== undefined ? { name: m.senderName } : {}),
      metadata: { sender: m.sender, ...(m.replaces !== undefined ? { replaces: m.replaces } : {}) },
    })),
    tools: [],
    context,
    ...(input.resume !== undefined ? { resume: input.resume } : {}),
  };
}

type ParsedRunAgentInput = z.output<typeof RunAgentInputSchema>;

/** An attachment of a user message: described for a text-only brain, with where its bytes are (`source`) for one that reads them. */
export interface InputAttachment {
  /** "image", "audio", "voice message", "video" or "file" (a document part). */
  label: string;
  filename: string;
  mimeType?: string;
  size?: number;
  /** What a text-only history keeps: "[image: cat.png]". */
  placeholder: string;
  /** Where the bytes are (base64 inline, or the bot's one-time URL), for a brain that reads them. */
  source?: { type: "data" | "url"; value: string };
}

type ParsedContent = Exclude<Extract<ParsedRunAgentInput["messages"][number], { role: "user" }>["content"], string>;

/** The attachments of a message's content parts, described, with where their bytes are (a brain may read them). */
export function attachmentsOf(parts: ParsedContent): InputAttachment[] {
  return parts.flatMap((part): InputAttachment[] => {
    if (part.type === "text") return [];
    const meta = (typeof part.metadata === "object" && part.metadata !== null ? part.metadata : {}) as Record<string, unknown>;
    const label = meta["voice"] === true ? "voice message" : part.type === "document" ? "file" : part.type;
    const filename = typeof meta["filename"] === "string" && meta["filename"] !== "" ? meta["filename"] : label;
    const source = part.source;
    const size = source.type === "data" ? Buffer.byteLength(source.value, "base64") : typeof meta["size"] === "number" ? meta["size"] : undefined;
    return [{ label, filename, ...(source.mimeType !== undefined ? { mimeType: source.mimeType } : {}), ...(size !== undefined ? { size } : {}),
      placeholder: `[${label}: ${filename}]`, ...(source.type === "data" || source.type === "url" ? { source: { type: source.type, value: source.value } } : {}) }];
  });
}

/**
 * An AG-UI RunAgentInput as the v1 shape (what the reference agent's brains read): user messages as text, each
 * attachment a placeholder in the text and described in `attachments` (with `caption`, the text parts alone).
 */
export function fromRunAgentInput(input: ParsedRunAgentInput): RunInput | undefined {
  const messages = input.messages.flatMap((m) => {
    if (m.role !== "user") return [];
    const caption = typeof m.content === "string" ? m.content
      : m.content.flatMap((part) => (part.type === "text" ? [part.text] : [])).join("\n");
    const attachments = typeof m.content === "string" ? [] : attachmentsOf(m.content);
    const content = [caption, ...attachments.map((a) => a.placeholder)].filter((t) => t !== "").join("\n");
    const meta = m["metadata"] as Record<string, unknown> | undefined;
    const sender = typeof meta?.["sender"] === "string" && meta["sender"] !== "" ? meta["sender"] : "unknown";
    const replaces = typeof meta?.["replaces"] === "string" && meta["replaces"] !== "" ? meta["replaces"] : undefined;
    return [{ id: m.id === "" ? "message" : m.id, role: "user" as const, content, sender, ...(m.name !== undefined ? { senderName: m.name } : {}),
      ...(attachments.length > 0 ? { attachments, caption } : {}), ...(replaces !== undefined ? { replaces } : {}) }];
  });
  if (messages.length === 0 && input.resume === undefined) return undefined;
  const value = (key: string): string | undefined => input.context.find((c) => c.description === key)?.value;
  const inReplyTo = value(CONTEXT_KEYS.inReplyTo);
  const threadRootId = value(CONTEXT_KEYS.threadRootId);
  return {
    messages,
    context: {
      roomId: value(CONTEXT_KEYS.roomId) ?? "unknown",
      isDirect: value(CONTEXT_KEYS.isDirect) === "true",
      ...(inReplyTo !== undefined ? { inReplyTo } : {}),
      ...(threadRootId !== undefined ? { threadRootId } : {}),
    },
    ...(input.resume !== undefined ? { resume: input.resume } : {}),
  };
}

// ---------------------------------------------------------------- agents' side

/** A v1 event as the AG-UI 1.0 event a v2 agent sends (RUN_STARTED/RUN_FINISHED name their run). */
/** The `usage[]` a run's end carries along (AG-UI TokenUsage entries, as the reference agent adds them up). */
function usageOf(event: Record<string, unknown>): { usage?: unknown[] } {
  return Array.isArray(event["usage"]) && event["usage"].length > 0 ? { usage: event["usage"] } : {};
}

export function toAguiEvent(event: AgentEvent, threadId: string, runId: string): Record<string, unknown> | undefined {
  switch (event.type) {
    case "RUN_STARTED":
      return { type: event.type, threadId, runId };
    case "RUN_FINISHED":
      return { type: event.type, threadId, runId, ...usageOf(event) };
    case "TEXT_MESSAGE_START":
      return { type: event.type, messageId: event.messageId, role: "assistant" };
    case "TEXT_MESSAGE_CONTENT":
      return { type: event.type, messageId: event.messageId, delta: event.delta };
    case "TEXT_MESSAGE_END":
      return { type: event.type, messageId: event.messageId };
    case "RUN_ERROR":
      // `retryable` is ours, not AG-UI's: AG-UI events are open objects, so it travels along.
      return { type: event.type, code: event.code, message: event.message, retryable: event.retryable, ...usageOf(event) };
    case "UNKNOWN":
      return undefined;
  }
}
