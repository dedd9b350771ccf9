// What answers a run inside the reference agent. The echo brain is the default; an LLM brain can plug
// in through the same interface (startReferenceAgent's `mode: { kind: "custom", brain }`).
import type { RunErrorCode, RunInput } from "../agent/protocol";
import type { AgentCapabilities, AgentInterrupt, InputAttachment } from "../agent/protocol-v2";
import type { TokenUsage } from "../usage/token-usage";

/** The echo reply: exactly `You said: ` followed by the content of the run's last user message. */
export const ECHO_PREFIX = "You said: ";

export function echoReply(text: string): string {
  return `${ECHO_PREFIX}${text}`;
}

/** "You sent an image: cat.png (image/png, 1234 bytes)", one line per attachment, then the caption echoed. */
export function describeAttachments(message: RunInput["messages"][number]): string {
  const attachments = (message["attachments"] ?? []) as InputAttachment[];
  const lines = attachments.map((a) => {
    const details = [a.mimeType, a.size !== undefined ? `${a.size} bytes` : undefined].filter((d) => d !== undefined).join(", ");
    return `You sent ${/^[aeiou]/.test(a.label) ? "an" : "a"} ${a.label}: ${a.filename}${details ? ` (${details})` : ""}`;
  });
  const caption = typeof message["caption"] === "string" ? message["caption"] : "";
  return [...lines, ...(caption.trim() !== "" ? [echoReply(caption)] : [])].join("\n");
}

/** Alias of echoReply (the name some tests use). */
export const echoReplyFor = echoReply;

/** Throw this from a brain to end the run with RUN_ERROR of that code. */
export class AgentRunError extends Error {
  constructor(
    readonly code: RunErrorCode,
    /** Shown to users by the bot: no secrets, no stack traces. */
    readonly userMessage: string,
    readonly retryable = false,
  ) {
    super(`${code}: ${userMessage}`);
    this.name = "AgentRunError";
  }
}

/** A brain emits text through this; each started message becomes one Matrix message. */
export interface RunOutput {
  /** Begin a TEXT_MESSAGE; returns its messageId. */
  startMessage(): string;
  delta(messageId: string, text: string): void;
  endMessage(messageId: string): void;
  /** The model's reasoning as it streams (v2 bots only; dropped for v1): REASONING_* events, never text. */
  reasoning?(delta: string): void;
  /** A tool call (v2 bots only): TOOL_CALL_START, its arguments as they stream, TOOL_CALL_END. */
  toolCallStart?(toolCallId: string, name: string): void;
  toolCallArgs?(toolCallId: string, delta: string): void;
  toolCallEnd?(toolCallId: string): void;
  /** The call's result (TOOL_CALL_RESULT); `error`: the tool failed, and why. */
  toolCallResult?(toolCallId: string, content: string, error?: string): void;
  /** The run pauses for people's answers (v2 bots only): it ends with RUN_FINISHED outcome `interrupt`. */
  interrupt?(interrupts: AgentInterrupt[]): void;
  /** Tokens a model request used: added up and reported on the run's RUN_FINISHED or RUN_ERROR (`usage[]`). */
  usage?(entry: TokenUsage): void;
  /** A file for the room (v2 bots only): CUSTOM `matrix.attachment`, the bytes base64 in the frame. */
  attachment?(file: { filename: string; mimeType: string; bytes: Buffer }): void;
}

export interface RunContextInfo {
  threadId: string;
  runId: string;
}

export interface AgentBrain {
  /**
   * Answer one run. Resolve → RUN_FINISHED; throw AgentRunError → RUN_ERROR with its code; any other
   * throw → RUN_ERROR internal. Stop promptly when `signal` aborts (cancel, or the bot went away).
   */
  run(input: RunInput, out: RunOutput, signal: AbortSignal, info: RunContextInfo): Promise<void>;
  /** The attachment kinds it reads (its v2 capabilities' multimodal.input); default every kind (as a description). */
  reads?: NonNullable<NonNullable<AgentCapabilities["multimodal"]>["input"]>;
}

function delay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(new Error("aborted"));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(t);
      reject(new Error("aborted"));
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    t.unref();
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** Split a text in (up to) two chunks on a code-point boundary, to exercise streaming. */
export function twoChunks(text: string): string[] {
  const chars = [...text];
  if (chars.length < 2) return [text];
  const half = Math.ceil(chars.length / 2);
  return [chars.slice(0, half).join(""), chars.slice(half).join("")];
}

/** Echo: after `delayMs` (default 0), one TEXT_MESSAGE `echoReply(last message)`, streamed in two chunks. */
export function createEchoBrain(delayMs = 0): AgentBrain {
  return {
    async run(input, out, signal) {
      if (delayMs > 0) await delay(delayMs, signal);
      const last = input.messages[input.messages.length - 1];
      const reply = last && Array.isArray(last["attachments"]) ? describeAttachments(last) : echoReply(last?.content ?? "");
      const id = out.startMessage();
      for (const chunk of twoChunks(reply)) {
        if (signal.aborted) throw new Error("aborted");
        out.delta(id, chunk);
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      out.endMessage(id);
    },
  };
}
