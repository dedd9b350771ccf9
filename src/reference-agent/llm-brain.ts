// The LLM brain: answers a run through any OpenAI-compatible chat-completions endpoint (OpenAI, OpenRouter,
// Ollama, llama.cpp, ...) with the official `openai` client, streaming the text as it comes (llm-stream.ts). With
// tools (the built-in ones, allowed MCP tools: tools/), the model may call them: each call is shown to the bot
// (TOOL_CALL_*), run, and its result (or its error, told to the model, never thrown) sent back, for at most
// `maxToolRounds` rounds; the last round must answer in text. The text of each round is one TEXT_MESSAGE, so a
// tool line reads above the text that follows from it. Reasoning the model streams goes out as REASONING_* only.
// The thread's history (tool calls with their results) comes from ThreadMemory and grows after each successful
// run. Provider failures become typed RUN_ERRORs (llm-errors.ts).
import OpenAI, { toFile } from "openai";
import type { Logger } from "pino";
import type { AgentBrain, RunOutput } from "./brain";
import { mapProviderError, ProviderRunError, USER_MESSAGES } from "./llm-errors";
import { streamCompletion, type CompletionRequest } from "./llm-stream";
import { buildPrompt, replacedIdsOf, userTurnsOf, withoutReplaced, type ChatTurn, type PromptMessage, type ThreadMemory } from "./memory";
import type { Toolbox } from "./tools/toolbox";
import type { AgentTool } from "./tools/types";
import { decisionOf, type ToolApprovals } from "./tool-approvals";
import type { ResumeEntry } from "../agent/protocol-v2";
import type { ToolCall } from "./memory";
import { AgentRunError } from "./brain";
import { answerPreface, llmReads, readAttachments, type MediaReading } from "./llm-media";

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
  /** The tools offered to the model; none: plain chat. */
  toolbox?: Toolbox;
  /** Model requests per run that may call tools (LLM_MAX_TOOL_ROUNDS); default 8. */
  maxToolRounds?: number;
  /** Tools that wait for a person's approval (LLM_TOOLS_REQUIRE_APPROVAL), and the runs paused for it. */
  approvals?: ToolApprovals;
  /** Attachments: images to the model (LLM_VISION), audio transcribed (LLM_TRANSCRIBE_MODEL), text files read. */
  media?: { vision: boolean; transcribeModel?: string; fileMaxChars: number; fetchMaxBytes: number };
}

/** How a conversation ended: answered (or not), or paused before calls that need approval. */
type Conversed = { turns: ChatTurn[]; answered: boolean; pending?: undefined } | { turns: ChatTurn[]; pending: ToolCall[] };

/** An AgentBrain that can also answer a scheduled check-in prompt (no thread, no memory). */
export interface LlmBrain extends AgentBrain {
  /** The model's whole answer to `prompt` (with the system prompt); throws ProviderRunError on failure. */
  checkIn(prompt: string, signal: AbortSignal): Promise<string>;
}

/** Sent as the API key when none is configured (the client insists on one; keyless servers ignore it). */
export const NO_API_KEY = "no-key";

export function createLlmBrain(options: LlmBrainOptions): LlmBrain {
  const log = options.logger;
  const maxToolRounds = options.maxToolRounds ?? 8;
  const client = new OpenAI({
    baseURL: options.baseUrl,
    apiKey: options.apiKey ?? NO_API_KEY,
    maxRetries: 0, // the bot tells the user; retrying here would only hide the failure's code
    timeout: options.timeoutMs,
    logLevel: "off", // the client would log through console; failures are logged here instead
  });
  const media = options.media ?? { vision: false, fileMaxChars: 20_000, fetchMaxBytes: 0 };
  const transcribeModel = media.transcribeModel;
  const reading: MediaReading = {
    vision: media.vision, fileMaxChars: media.fileMaxChars, fetchMaxBytes: media.fetchMaxBytes,
    ...(transcribeModel !== undefined ? {
      transcribe: async (bytes: Buffer, filename: string, mimeType: string, signal: AbortSignal) => {
        try {
          const file = await toFile(bytes, filename, { type: mimeType });
          return (await client.audio.transcriptions.create({ file, model: transcribeModel }, { signal })).text;
        } catch (err) {
          throw mapProviderError(err);
        }
      },
    } : {}),
  };
  const complete = (request: CompletionRequest, signal: AbortSignal, on?: Parameters<typeof streamCompletion>[5]) =>
    streamCompletion(client, options.model, options.timeoutMs, request, signal, on);

  function logFailure(err: unknown, context: Record<string, unknown>): void {
    if (err instanceof ProviderRunError) {
      if (err.code === "cancelled") return;
      log.warn({ ...context, code: err.code, provider: err.detail }, "the LLM request failed");
    } else {
      log.error({ ...context, err }, "the LLM request failed unexpectedly");
    }
  }

  /**
   * Runs the model's calls in order; a call that needs approval and has no decision pauses the run there (returns
   * the calls left, from that one), when the bot can be asked; else the model is told it could not run.
   */
  async function runCalls(calls: readonly ToolCall[], tools: readonly AgentTool[], turns: ChatTurn[], out: RunOutput, signal: AbortSignal,
    decisions?: ReadonlyMap<string, ResumeEntry>): Promise<ToolCall[]> {
    for (const [i, call] of calls.entries()) {
      const tool = tools.find((t) => t.name === call.name);
      const gated = options.approvals?.requires(tool) === true;
      if (gated && decisions?.has(call.id) !== true && out.interrupt) return calls.slice(i);
      const decision = gated ? decisionOf(decisions?.get(call.id)) : "run";
      const outcome = decision !== "run" ? decision : options.toolbox ? await options.toolbox.call(tools, call.name, call.arguments, signal)
        : { ok: false as const, error: "no tools are available" };
      if (signal.aborted) throw new ProviderRunError("cancelled", "The run was cancelled.", false, { reason: "aborted" });
      out.toolCallResult?.(call.id, outcome.ok ? outcome.content : "", outcome.ok ? undefined : outcome.error);
      // The model is told of a failure in words, and goes on.
      turns.push({ role: "tool", toolCallId: call.id, content: outcome.ok ? outcome.content : `Error: ${outcome.error}` });
    }
    return [];
  }

  /** The rounds of one run: the turns it adds to the history (tool calls, results, answers), and whether it said anything. */
  async function converse(prompt: PromptMessage[], out: RunOutput, signal: AbortSignal,
    from: { earlier?: ChatTurn[]; preface?: string } = {}): Promise<Conversed> {
    const tools = options.toolbox?.list() ?? [];
    const definitions = options.toolbox?.definitions(tools) ?? [];
    const turns: ChatTurn[] = [...(from.earlier ?? [])];
    let preface = from.preface ?? "";
    let answered = false;
    for (let round = 0; ; round += 1) {
      const last = definitions.length === 0 || round >= maxToolRounds;
      let messageId: string | undefined;
      const completion = await complete({ messages: [...prompt, ...turns], ...(definitions.length > 0 ? { tools: definitions, toolChoice: last ? "none" : "auto" } : {}) },
        signal, {
          text: (delta) => {
            if (messageId === undefined) {
              messageId = out.startMessage();
              if (preface !== "") out.delta(messageId, preface);
              preface = "";
            }
            out.delta(messageId, delta);
          },
          reasoning: (delta) => out.reasoning?.(delta),
          toolStart: (call) => out.toolCallStart?.(call.id, call.name),
          toolArgs: (id, delta) => out.toolCallArgs?.(id, delta),
        });
      if (completion.usage) out.usage?.(completion.usage);
      if (messageId !== undefined) {
        out.endMessage(messageId);
        answered = true;
      }
      const calls = last ? [] : completion.toolCalls;
      for (const call of completion.toolCalls) {
        out.toolCallEnd?.(call.id);
        if (last) out.toolCallResult?.(call.id, "", "not run: no more tool calls in this answer");
      }
      if (calls.length === 0) {
        if (completion.text !== "") turns.push({ role: "assistant", content: completion.text });
        return { turns, answered };
      }
      turns.push({ role: "assistant", content: completion.text, toolCalls: calls });
      const pending = await runCalls(calls, tools, turns, out, signal);
      if (pending.length > 0) return { turns, pending };
    }
  }

  /** A resume run: the paused calls run or refused as the answers say, then the conversation goes on. */
  async function resumed(threadId: string, entries: readonly ResumeEntry[], out: RunOutput, signal: AbortSignal):
    Promise<{ newTurns: ChatTurn[]; result: Conversed }> {
    const paused = await options.approvals?.take(threadId);
    if (!paused) throw new AgentRunError("internal", "There was nothing here waiting for an answer.");
    const tools = options.toolbox?.list() ?? [];
    const turns = [...paused.turns];
    await runCalls(paused.pending, tools, turns, out, signal, new Map(entries.map((e) => [e.interruptId, e])));
    const history = await options.memory.history(threadId);
    const prompt = buildPrompt(options.systemPrompt, history, paused.newTurns, options.memory.budgetChars);
    return { newTurns: paused.newTurns, result: await converse(prompt, out, signal, { earlier: turns }) };
  }

  /** A new question: its attachments read (images, transcripts, text files), then the conversation. */
  async function asked(input: Parameters<AgentBrain["run"]>[0], out: RunOutput, signal: AbortSignal, threadId: string,
    replaced: string[]): Promise<{ newTurns: ChatTurn[]; result: Conversed } | undefined> {
    const read = await readAttachments(input, reading, signal);
    const preface = answerPreface(read);
    if (!read.answerable) { // nothing the model could answer: say why, ask nothing
      const id = out.startMessage();
      out.delta(id, preface.trim());
      out.endMessage(id);
      return undefined;
    }
    const newTurns = userTurnsOf({ ...input, messages: input.messages.map((m, i) => ({ ...m, content: read.messages[i]?.text ?? m.content })) });
    await options.approvals?.take(threadId); // a new question abandons a paused run
    const history = withoutReplaced(await options.memory.history(threadId), replaced);
    const prompt = buildPrompt(options.systemPrompt, history, newTurns, options.memory.budgetChars);
    const first = prompt.length - newTurns.length;
    read.messages.forEach((m, i) => {
      const turn = prompt[first + i];
      if (m.images.length > 0 && turn?.role === "user") prompt[first + i] = { role: "user", content: turn.content, images: m.images };
    });
    return { newTurns, result: await converse(prompt, out, signal, { preface }) };
  }

  return {
    reads: llmReads(reading),

    async run(input, out: RunOutput, signal, info) {
      // An edited question answered before: its old version and that answer are not part of the conversation any more.
      const replaced = replacedIdsOf(input);
      let conversed: { newTurns: ChatTurn[]; result: Conversed } | undefined;
      try {
        conversed = input.resume !== undefined && input.messages.length === 0
          ? await resumed(info.threadId, input.resume, out, signal)
          : await asked(input, out, signal, info.threadId, replaced);
      } catch (err) {
        logFailure(err, { threadId: info.threadId, runId: info.runId });
        throw err;
      }
      if (conversed === undefined) return;
      const { newTurns, result } = conversed;
      if (result.pending !== undefined) {
        const interrupts = options.approvals?.interruptsFor(result.pending, options.toolbox?.list() ?? []) ?? [];
        await options.approvals?.save(info.threadId, { newTurns, turns: result.turns, pending: result.pending });
        log.info({ threadId: info.threadId, runId: info.runId, calls: interrupts.length }, "run paused: tool calls wait for approval");
        out.interrupt?.(interrupts);
        return;
      }
      if (!result.answered) {
        log.warn({ threadId: info.threadId, runId: info.runId }, "the LLM returned an empty answer");
        throw new ProviderRunError("internal", USER_MESSAGES.empty, false, { reason: "empty answer" });
      }
      try {
        await options.memory.append(info.threadId, [...newTurns, ...result.turns], replaced);
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
        return (await complete({ messages }, signal)).text;
      } catch (err) {
        logFailure(err, { checkIn: true });
        throw err;
      }
    },
  };
}
