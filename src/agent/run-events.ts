// What a run's event frames mean to the bot, whatever the protocol: v1 events map one to one; AG-UI 1.0 events
// (v2) go through a per-run decoder that expands `*_CHUNK` events as `@ag-ui/client`'s transformChunks does
// (a chunk stream stays open in its lane, the subagent or the agent itself, until another event of that lane, a
// chunk with another id, or a run-wide event closes it), keeps only assistant text, and reads the assistant
// messages of a MESSAGES_SNAPSHOT that follow its last user message. Tool calls, steps and reasoning become WORK
// events (shown as status lines, details on request: src/render/work*.ts).
import { EventType } from "@ag-ui/core";
import { RUN_ERROR_CODES, type AgentEvent, type RunErrorCode } from "./protocol";
import type { AgentInterrupt, AguiEvent } from "./protocol-v2";
import { usageField, type TokenUsage } from "../usage/token-usage";
import { ATTACHMENT_EVENT_NAME, parseAttachmentValue, type AttachmentParse } from "../media/outgoing";

export type RunEvent =
  | { type: "RUN_STARTED" }
  | { type: "TEXT_MESSAGE_START"; messageId: string }
  | { type: "TEXT_MESSAGE_CONTENT"; messageId: string; delta: string }
  | { type: "TEXT_MESSAGE_END"; messageId: string }
  /** Assistant messages as a MESSAGES_SNAPSHOT has them (their whole text so far). */
  | { type: "MESSAGES_SNAPSHOT"; texts: Array<{ messageId: string; text: string }> }
  /** `usage`: AG-UI TokenUsage entries the run reported (v2), counted by src/usage/. `interrupts`: with outcome
   *  "interrupt", what the paused run asks of people (src/interrupts/). */
  | { type: "RUN_FINISHED"; outcome: "success" | "cancelled" | "interrupt"; interrupts?: AgentInterrupt[]; usage?: TokenUsage[] }
  | { type: "RUN_ERROR"; code: RunErrorCode; message: string; retryable: boolean; usage?: TokenUsage[] }
  /** What the agent is doing besides writing: tool calls, steps, reasoning. */
  | { type: "WORK"; work: WorkEvent }
  /** A file for the room (CUSTOM `matrix.attachment`), or why it cannot be posted. */
  | { type: "ATTACHMENT"; attachment: AttachmentParse }
  /** Anything else: not shown, but it is activity (the idle timer restarts). */
  | { type: "UNKNOWN"; originalType: string };

/** The agent's work as the bot shows it (AG-UI TOOL_CALL_*, STEP_*, REASONING_*, chunks expanded). */
export type WorkEvent =
  | { kind: "tool_start"; toolCallId: string; name: string }
  | { kind: "tool_args"; toolCallId: string; delta: string }
  | { kind: "tool_end"; toolCallId: string }
  /** `error`: the tool failed (an `error` string on TOOL_CALL_RESULT, as AG-UI's tool messages carry it). */
  | { kind: "tool_result"; toolCallId: string; content: string; error?: string }
  | { kind: "step_start"; name: string }
  | { kind: "step_end"; name: string }
  | { kind: "reasoning"; messageId: string; delta: string };

export function fromV1(event: AgentEvent): RunEvent {
  switch (event.type) {
    case "RUN_STARTED": return { type: "RUN_STARTED" };
    case "TEXT_MESSAGE_START": return { type: event.type, messageId: event.messageId };
    case "TEXT_MESSAGE_CONTENT": return { type: event.type, messageId: event.messageId, delta: event.delta };
    case "TEXT_MESSAGE_END": return { type: event.type, messageId: event.messageId };
    case "RUN_FINISHED": return { type: "RUN_FINISHED", outcome: "success" };
    case "RUN_ERROR": return { type: "RUN_ERROR", code: event.code, message: event.message, retryable: event.retryable };
    case "UNKNOWN": return event;
  }
}

const KNOWN_CODES: ReadonlySet<string> = new Set(RUN_ERROR_CODES);

export function errorCodeOf(code: string | undefined): RunErrorCode {
  return code !== undefined && KNOWN_CODES.has(code) ? (code as RunErrorCode) : "internal";
}

type Lane = string; // subagentRunId, or "" for the agent itself
interface OpenStream {
  kind: "text" | "tool" | "reasoning";
  id: string;
}

export type DecodeResult = { ok: true; events: RunEvent[] } | { ok: false; error: string };

/** One run's AG-UI events → RunEvents. Keep one per run: chunk streams and message roles span frames. */
export class AguiDecoder {
  private readonly lanes = new Map<Lane, OpenStream>();
  /** Text messages of another role than assistant: not shown. */
  private readonly hidden = new Set<string>();

  decode(event: AguiEvent): DecodeResult {
    const out: AguiEvent[] = [];
    const error = this.expand(event, out);
    if (error !== undefined) return { ok: false, error };
    return { ok: true, events: out.flatMap((e) => this.map(e)) };
  }

  private expand(e: AguiEvent, out: AguiEvent[]): string | undefined {
    const lane: Lane = "subagentRunId" in e && typeof e.subagentRunId === "string" ? e.subagentRunId : "";
    switch (e.type) {
      case EventType.TEXT_MESSAGE_CHUNK:
        return this.chunk(lane, "text", e.messageId, out, (id, opened) => {
          if (opened) out.push({ type: EventType.TEXT_MESSAGE_START, messageId: id, role: e.role ?? "assistant" });
          if (e.delta !== undefined && e.delta !== "") out.push({ type: EventType.TEXT_MESSAGE_CONTENT, messageId: id, delta: e.delta });
        });
      case EventType.TOOL_CALL_CHUNK:
        if (e.toolCallId !== undefined && e.toolCallName === undefined && !this.continues(lane, "tool", e.toolCallId)) {
          return "the first TOOL_CALL_CHUNK of a stream must name its tool";
        }
        return this.chunk(lane, "tool", e.toolCallId, out, (id, opened) => {
          if (opened) {
            out.push({ type: EventType.TOOL_CALL_START, toolCallId: id, toolCallName: e.toolCallName ?? "",
              ...(e.parentMessageId !== undefined ? { parentMessageId: e.parentMessageId } : {}) });
          }
          if (e.delta !== undefined && e.delta !== "") out.push({ type: EventType.TOOL_CALL_ARGS, toolCallId: id, delta: e.delta });
        });
      case EventType.REASONING_MESSAGE_CHUNK:
        return this.chunk(lane, "reasoning", e.messageId, out, (id, opened) => {
          if (opened) out.push({ type: EventType.REASONING_MESSAGE_START, messageId: id, role: "reasoning" });
          if (e.delta !== undefined && e.delta !== "") out.push({ type: EventType.REASONING_MESSAGE_CONTENT, messageId: id, delta: e.delta });
        });
      case EventType.RUN_STARTED: case EventType.RUN_FINISHED: case EventType.RUN_ERROR: case EventType.MESSAGES_SNAPSHOT:
        for (const l of [...this.lanes.keys()]) this.close(l, out);
        break;
      case EventType.RAW: case EventType.ACTIVITY_SNAPSHOT: case EventType.ACTIVITY_DELTA:
      case EventType.REASONING_ENCRYPTED_VALUE: case EventType.SUBAGENT_STARTED:
        break;
      default:
        this.close(lane, out);
    }
    out.push(e);
    return undefined;
  }

  /** Whether a chunk with this id continues the stream open in its lane. */
  private continues(lane: Lane, kind: OpenStream["kind"], id: string): boolean {
    const open = this.lanes.get(lane);
    return open?.kind === kind && open.id === id;
  }

  private chunk(lane: Lane, kind: OpenStream["kind"], id: string | undefined, out: AguiEvent[],
    emit: (id: string, opened: boolean) => void): string | undefined {
    const open = this.lanes.get(lane);
    if (open?.kind === kind && (id === undefined || id === open.id)) {
      emit(open.id, false);
      return undefined;
    }
    this.close(lane, out);
    if (id === undefined) return `the first ${kind === "text" ? "TEXT_MESSAGE" : kind === "tool" ? "TOOL_CALL" : "REASONING_MESSAGE"}_CHUNK of a stream must name its id`;
    this.lanes.set(lane, { kind, id });
    emit(id, true);
    return undefined;
  }

  private close(lane: Lane, out: AguiEvent[]): void {
    const open = this.lanes.get(lane);
    if (!open) return;
    this.lanes.delete(lane);
    if (open.kind === "text") out.push({ type: EventType.TEXT_MESSAGE_END, messageId: open.id });
    else if (open.kind === "tool") out.push({ type: EventType.TOOL_CALL_END, toolCallId: open.id });
    else out.push({ type: EventType.REASONING_MESSAGE_END, messageId: open.id });
  }

  private map(e: AguiEvent): RunEvent[] {
    switch (e.type) {
      case EventType.RUN_STARTED:
        return [{ type: "RUN_STARTED" }];
      case EventType.TEXT_MESSAGE_START:
        if (e.role !== undefined && e.role !== "assistant") {
          this.hidden.add(e.messageId);
          return [{ type: "UNKNOWN", originalType: e.type }];
        }
        return [{ type: "TEXT_MESSAGE_START", messageId: e.messageId }];
      case EventType.TEXT_MESSAGE_CONTENT:
        if (this.hidden.has(e.messageId)) return [{ type: "UNKNOWN", originalType: e.type }];
        return [{ type: "TEXT_MESSAGE_CONTENT", messageId: e.messageId, delta: e.delta }];
      case EventType.TEXT_MESSAGE_END:
        if (this.hidden.delete(e.messageId)) return [{ type: "UNKNOWN", originalType: e.type }];
        return [{ type: "TEXT_MESSAGE_END", messageId: e.messageId }];
      case EventType.MESSAGES_SNAPSHOT:
        return [{ type: "MESSAGES_SNAPSHOT", texts: snapshotTexts(e.messages) }];
      case EventType.RUN_FINISHED:
        return [e.outcome?.type === "interrupt" ? { type: "RUN_FINISHED", outcome: "interrupt", interrupts: e.outcome.interrupts, ...usageField(e.usage) }
          : { type: "RUN_FINISHED", outcome: e.outcome?.type ?? "success", ...usageField(e.usage) }];
      case EventType.RUN_ERROR: {
        const retryable = (e as { retryable?: unknown }).retryable;
        return [{ type: "RUN_ERROR", code: errorCodeOf(e.code), message: e.message, retryable: retryable === true, ...usageField(e.usage) }];
      }
      case EventType.CUSTOM:
        if (e.name === ATTACHMENT_EVENT_NAME) return [{ type: "ATTACHMENT", attachment: parseAttachmentValue(e.value) }];
        return [{ type: "UNKNOWN", originalType: e.type }];
      default: {
        const work = workOf(e);
        return [work === undefined ? { type: "UNKNOWN", originalType: e.type } : { type: "WORK", work }];
      }
    }
  }
}

/** A tool call, step or reasoning event as the bot shows it; undefined for other types and events not shown. */
function workOf(e: AguiEvent): WorkEvent | undefined {
  switch (e.type) {
    case EventType.TOOL_CALL_START: return { kind: "tool_start", toolCallId: e.toolCallId, name: e.toolCallName };
    case EventType.TOOL_CALL_ARGS: return { kind: "tool_args", toolCallId: e.toolCallId, delta: e.delta };
    case EventType.TOOL_CALL_END: return { kind: "tool_end", toolCallId: e.toolCallId };
    case EventType.TOOL_CALL_RESULT: {
      const error = (e as { error?: unknown }).error;
      return { kind: "tool_result", toolCallId: e.toolCallId, content: contentText(e.content),
        ...(typeof error === "string" ? { error } : error === true ? { error: "" } : {}) };
    }
    case EventType.STEP_STARTED: return { kind: "step_start", name: e.stepName };
    case EventType.STEP_FINISHED: return { kind: "step_end", name: e.stepName };
    case EventType.REASONING_MESSAGE_CONTENT: return { kind: "reasoning", messageId: e.messageId, delta: e.delta };
    default: return undefined;
  }
}

type ToolResultContent = Extract<AguiEvent, { type: EventType.TOOL_CALL_RESULT }>["content"];

/** A tool result's content as text: its text parts; other parts named by their type. */
function contentText(content: ToolResultContent): string {
  if (typeof content === "string") return content;
  return content.map((part) => (part.type === "text" ? part.text : `[${part.type}]`)).join("\n");
}

type SnapshotMessage = Extract<AguiEvent, { type: EventType.MESSAGES_SNAPSHOT }>["messages"][number];

/** The assistant messages after the snapshot's last user message (the answer to this run), with text. */
function snapshotTexts(messages: readonly SnapshotMessage[]): Array<{ messageId: string; text: string }> {
  let from = 0;
  messages.forEach((m, i) => {
    if (m.role === "user") from = i + 1;
  });
  return messages.slice(from).flatMap((m) =>
    m.role === "assistant" && typeof m.content === "string" && m.content.trim() !== "" ? [{ messageId: m.id, text: m.content }] : []);
}
