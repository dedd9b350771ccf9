// One streamed chat completion of an OpenAI-compatible endpoint: text deltas, reasoning deltas (the
// `reasoning_content` or `reasoning` field that DeepSeek, vLLM, llama.cpp, Ollama and OpenRouter stream) and tool
// calls (OpenAI-style `tool_calls` deltas, assembled by index), each handed on as it arrives. A provider silent
// for `timeoutMs` is cut (`timeout`); the run's abort signal aborts the request.
import type OpenAI from "openai";
import { randomUUID } from "node:crypto";
import { mapProviderError, ProviderRunError, timeoutError } from "./llm-errors";
import type { PromptMessage, ToolCall } from "./memory";
import type { FunctionTool } from "./tools/toolbox";
import { tokenUsageOf } from "./run-usage";
import type { TokenUsage } from "../usage/token-usage";

export interface StreamHandlers {
  text?(delta: string): void;
  reasoning?(delta: string): void;
  /** A tool call began (its id and name are known); its arguments follow. */
  toolStart?(call: { id: string; name: string }): void;
  toolArgs?(id: string, delta: string): void;
}

export interface Completion {
  text: string;
  toolCalls: ToolCall[];
  /** The tokens the request used, when the server said (the last chunk's `usage`, asked for with include_usage). */
  usage?: TokenUsage;
}

export interface CompletionRequest {
  messages: readonly PromptMessage[];
  tools?: readonly FunctionTool[];
  /** "none": the model must answer in text now (the last round). */
  toolChoice?: "auto" | "none";
}

type ApiMessage = OpenAI.Chat.Completions.ChatCompletionMessageParam;

/** Our turns as the API's messages (tool calls and results in its shape). */
export function apiMessages(messages: readonly PromptMessage[]): ApiMessage[] {
  return messages.map((m): ApiMessage => {
    if (m.role === "tool") return { role: "tool", tool_call_id: m.toolCallId, content: m.content };
    if (m.role === "assistant" && (m.toolCalls?.length ?? 0) > 0) {
      return { role: "assistant", content: m.content === "" ? null : m.content,
        tool_calls: (m.toolCalls ?? []).map((c) => ({ id: c.id, type: "function", function: { name: c.name, arguments: c.arguments } })) };
    }
    if (m.role === "user" && "images" in m && m.images.length > 0) {
      return { role: "user", content: [{ type: "text", text: m.content }, ...m.images.map((url) => ({ type: "image_url" as const, image_url: { url } }))] };
    }
    return { role: m.role, content: m.content };
  });
}

interface PendingCall {
  id: string;
  name: string;
  args: string;
  /** toolStart was called (the name is known). */
  started: boolean;
}

export async function streamCompletion(client: OpenAI, model: string, timeoutMs: number, request: CompletionRequest,
  signal: AbortSignal, on: StreamHandlers = {}): Promise<Completion> {
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  signal.addEventListener("abort", abort, { once: true });
  let timedOut = false;
  let watchdog: NodeJS.Timeout | undefined;
  const arm = (): void => {
    if (watchdog) clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    watchdog.unref();
  };
  const interrupted = (): ProviderRunError | undefined => {
    if (timedOut) return timeoutError(timeoutMs);
    if (signal.aborted) return new ProviderRunError("cancelled", "The run was cancelled.", false, { reason: "aborted" });
    return undefined;
  };
  let text = "";
  let usage: TokenUsage | undefined;
  const calls: PendingCall[] = [];
  const startIfNamed = (call: PendingCall): void => {
    if (call.started || call.name === "") return;
    call.started = true;
    on.toolStart?.({ id: call.id, name: call.name });
    if (call.args !== "") on.toolArgs?.(call.id, call.args);
  };
  try {
    if (signal.aborted) throw interrupted();
    arm();
    const tools = request.tools && request.tools.length > 0 ? request.tools : undefined;
    const stream = await client.chat.completions.create(
      { model, messages: apiMessages(request.messages), stream: true, stream_options: { include_usage: true },
        ...(tools ? { tools: [...tools], tool_choice: request.toolChoice ?? "auto" } : {}) },
      { signal: controller.signal },
    );
    arm();
    for await (const chunk of stream) {
      arm();
      usage = tokenUsageOf(chunk.usage, model) ?? usage; // the last chunk's (its choices are empty)
      const delta = chunk.choices[0]?.delta as (Record<string, unknown> & OpenAI.Chat.Completions.ChatCompletionChunk.Choice.Delta) | undefined;
      if (!delta) continue;
      const reasoning = delta["reasoning_content"] ?? delta["reasoning"];
      if (typeof reasoning === "string" && reasoning !== "") on.reasoning?.(reasoning);
      if (typeof delta.content === "string" && delta.content !== "") {
        text += delta.content;
        on.text?.(delta.content);
      }
      for (const part of delta.tool_calls ?? []) {
        let call = calls[part.index];
        if (!call) {
          call = { id: part.id ?? `call-${randomUUID()}`, name: "", args: "", started: false };
          calls[part.index] = call;
        }
        if (part.function?.name) call.name += part.function.name;
        startIfNamed(call);
        const args = part.function?.arguments;
        if (typeof args === "string" && args !== "") {
          call.args += args;
          if (call.started) on.toolArgs?.(call.id, args);
        }
      }
    }
    // The client ends the iteration quietly when the request is aborted: that is not a complete answer.
    const cut = interrupted();
    if (cut) throw cut;
    const toolCalls = calls.filter((c): c is PendingCall => c !== undefined);
    for (const call of toolCalls) startIfNamed(call);
    return { text, toolCalls: toolCalls.map((c) => ({ id: c.id, name: c.name, arguments: c.args })), ...(usage ? { usage } : {}) };
  } catch (err) {
    throw interrupted() ?? mapProviderError(err);
  } finally {
    if (watchdog) clearTimeout(watchdog);
    signal.removeEventListener("abort", abort);
  }
}
