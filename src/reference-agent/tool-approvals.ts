// Tools that need a person's approval (LLM_TOOLS_REQUIRE_APPROVAL, globs over a built-in tool's name or an MCP tool's
// `<server>.<tool>`): the run pauses before such a call (AG-UI interrupt, one per call), what the run had so far is
// kept in the agent's store, and the resume run (its `resume` entries) runs the approved calls and tells the model of
// the denied or expired ones, then goes on. A paused run survives an agent restart; a new question in the thread
// instead of a resume abandons it.
import type Keyv from "keyv";
import { z } from "zod";
import type { AgentInterrupt, ResumeEntry } from "../agent/protocol-v2";
import { matchesAnyUserGlob } from "../rooms/user-glob";
import { ChatTurnSchema, ToolCallSchema, type ChatTurn, type ToolCall } from "./memory";
import type { AgentTool, ToolOutcome } from "./tools/types";

/** The store namespace paused runs live in. */
export const PAUSED_NAMESPACE = "agent-paused";

const pausedSchema = z.object({
  v: z.literal(1),
  /** The user turns of the run that paused (appended to the history once it is answered). */
  newTurns: z.array(ChatTurnSchema),
  /** The model's turns so far (its tool calls and the results of those that ran). */
  turns: z.array(ChatTurnSchema),
  /** The calls not yet run, from the first that needs approval. */
  pending: z.array(ToolCallSchema),
});
export type PausedToolRun = Omit<z.infer<typeof pausedSchema>, "v">;

export class ToolApprovals {
  constructor(private readonly globs: readonly string[], private readonly kv: Keyv<unknown>) {}

  /** Whether a call of this tool waits for a person's approval. */
  requires(tool: AgentTool | undefined): boolean {
    return tool !== undefined && this.globs.length > 0 && matchesAnyUserGlob(tool.qualifiedName ?? tool.name, this.globs);
  }

  async save(threadId: string, paused: PausedToolRun): Promise<void> {
    await this.kv.set(threadId, { v: 1, ...paused });
  }

  /** The thread's paused run, taken out of the store (a resume uses it once; a new question abandons it). */
  async take(threadId: string): Promise<PausedToolRun | undefined> {
    const parsed = pausedSchema.safeParse(await this.kv.get(threadId));
    if (parsed.success) await this.kv.delete(threadId);
    return parsed.success ? parsed.data : undefined;
  }

  /** The interrupts for the calls in `pending` that need approval. */
  interruptsFor(pending: readonly ToolCall[], tools: readonly AgentTool[]): AgentInterrupt[] {
    return pending.flatMap((call) => {
      const tool = tools.find((t) => t.name === call.name);
      if (!this.requires(tool)) return [];
      return [{ id: call.id, reason: "tool_approval", message: `May I run ${tool?.qualifiedName ?? call.name}?`, toolCallId: call.id,
        metadata: { toolCallName: tool?.qualifiedName ?? call.name, arguments: argumentsOf(call.arguments) } }];
    });
  }
}

function argumentsOf(json: string): unknown {
  try {
    return JSON.parse(json) as unknown;
  } catch {
    return json;
  }
}

/** What a resume entry says about a call: run it, or the error the model is told. */
export function decisionOf(entry: ResumeEntry | undefined): "run" | ToolOutcome {
  if (entry === undefined) return { ok: false, error: "not run: it needs a person's approval, and none came" };
  const payload = entry.payload as { approved?: unknown } | undefined;
  if (entry.status === "resolved" && payload?.approved === true) return "run";
  return { ok: false, error: entry.status === "cancelled" ? "not run: nobody approved it in time (expired or cancelled)" : "not run: the user denied it" };
}

export type { ChatTurn };
