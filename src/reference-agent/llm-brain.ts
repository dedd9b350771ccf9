// The LLM brain: answers a run through any OpenAI-compatible chat-completions endpoint (OpenAI, OpenRouter,
// Ollama, llama.cpp, ...) with the official `openai` client, streaming the deltas into ONE TEXT_MESSAGE.
// The thread's history comes from ThreadMemory and grows after each successful run. Provider failures
// become typed RUN_ERRORs (llm-errors.ts); a provider silent for `timeoutMs` is cut (`timeout`); the run's
// abort signal (cancel, or the bot went away) aborts the HTTP request.
import OpenAI from "openai";
import type { Logger } from "pino";
import type { AgentBrain, RunOutput } from "./brain";
import { mapProviderError, ProviderRunError, timeoutError, USER_MESSAGES } from "./llm-errors";
import { buildPrompt, replacedIdsOf, userTurnsOf, withoutReplaced, type PromptMessage, type ThreadMemory } from "./memory";

export interface LlmBrainOptions {
  /** OpenAI-compatible API base, e.g. https://api.openai.com/v1 or http://127.0.0.1:11434/v1. */
  baseUrl: string;
  model: string;
  /** Optional: local servers often need none (a placeholder is sent then). */
  apiKey?: string;
  systemPrompt?: string;
  /** Longest silence from the provider: before the answer starts and between chunks. */
  timeoutMs: number;
  memory: ThreadMemory;
  logger: Logger;
}

/** An AgentBrain that can also answer a scheduled check-in prompt (no thread, no memory). */
export interface LlmBrain extends AgentBrain {
  /** The model's whole answer to `prompt` (with the system prompt); throws ProviderRunError on failure. */
  checkIn(prompt: string, signal: AbortSignal): Promise<string>;
}

/** Sent as the API key when none is configured (the client insists on one; keyless servers ignore it). */
export const NO_API_KEY = "no-key";

export function createLlmBrain(options: LlmBrainOptions): LlmBrain {
  const log = options.logger;
  const client = new OpenAI({
    baseURL: options.baseUrl,
    apiKey: options.apiKey ?? NO_API_KEY,
    maxRetries: 0, // the bot tells the user; retrying here would only hide the failure's code
    timeout: options.timeoutMs,
    logLevel: "off", // the client would log through console; failures are logged here instead
  });

  /**
   * Stream one completion; `onDelta` gets each non-empty piece of text. Resolves with the whole text.
   * The watchdog aborts the request when the provider stays silent for `timeoutMs`.
   */
  async function complete(messages: PromptMessage[], signal: AbortSignal, onDelta: (text: string) => void): Promise<string> {
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
      }, options.timeoutMs);
      watchdog.unref();
    };
    const interrupted = (): ProviderRunError | undefined => {
      if (timedOut) return timeoutError(options.timeoutMs);
      if (signal.aborted) return new ProviderRunError("cancelled", "The run was cancelled.", false, { reason: "aborted" });
      return undefined;
    };
    let text = "";
    try {
      if (signal.aborted) throw interrupted();
      arm();
      const stream = await client.chat.completions.create(
        { model: options.model, messages, stream: true },
        { signal: controller.signal },
      );
      arm();
      for await (const chunk of stream) {
        arm();
        const delta = chunk.choices[0]?.delta?.content;
        if (typeof delta === "string" && delta !== "") {
          text += delta;
          onDelta(delta);
        }
      }
      // The client ends the iteration quietly when the request is aborted: that is not a complete answer.
      const cut = interrupted();
      if (cut) throw cut;
      return text;
    } catch (err) {
      throw interrupted() ?? mapProviderError(err);
    } finally {
      if (watchdog) clearTimeout(watchdog);
      signal.removeEventListener("abort", abort);
    }
  }

  function logFailure(err: unknown, context: Record<string, unknown>): void {
    if (err instanceof ProviderRunError) {
      if (err.code === "cancelled") return;
      log.warn({ ...context, code: err.code, provider: err.detail }, "the LLM request failed");
    } else {
      log.error({ ...context, err }, "the LLM request failed unexpectedly");
    }
  }

  return {
    async run(input, out: RunOutput, signal, info) {
      const newTurns = userTurnsOf(input);
      // An edited question answered before: its old version and that answer are not part of the conversation any more.
      const replaced = replacedIdsOf(input);
      const history = withoutReplaced(await options.memory.history(info.threadId), replaced);
      const messages = buildPrompt(options.systemPrompt, history, newTurns, options.memory.budgetChars);
      let messageId: string | undefined;
      let answer: string;
      try {
        answer = await complete(messages, signal, (delta) => {
          messageId ??= out.startMessage();
          out.delta(messageId, delta);
        });
      } catch (err) {
        logFailure(err, { threadId: info.threadId, runId: info.runId });
        throw err;
      }
      if (messageId === undefined) {
        log.warn({ threadId: info.threadId, runId: info.runId }, "the LLM returned an empty answer");
        throw new ProviderRunError("internal", USER_MESSAGES.empty, false, { reason: "empty answer" });
      }
      out.endMessage(messageId);
      try {
        await options.memory.append(info.threadId, [...newTurns, { role: "assistant", content: answer }], replaced);
      } catch (err) {
        // The answer reached the user; only the memory of it is lost.
        log.error({ err, threadId: info.threadId }, "could not save the conversation history");
      }
    },

    async checkIn(prompt, signal) {
      const messages: PromptMessage[] = [
        ...(options.systemPrompt !== undefined ? [{ role: "system" as const, content: options.systemPrompt }] : []),
        { role: "user", content: prompt },
      ];
      try {
        return await complete(messages, signal, () => undefined);
      } catch (err) {
        logFailure(err, { checkIn: true });
        throw err;
      }
    },
  };
}
