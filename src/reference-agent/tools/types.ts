// A tool the reference agent offers its model (OpenAI-style function calling): a built-in one or one of an MCP
// server. A call never throws at the model: every failure is an outcome with an error the model is told.

export type ToolOutcome = { ok: true; content: string } | { ok: false; error: string };

export interface AgentTool {
  /** The name the model sees: letters, digits, `_` and `-`, at most 64 characters (what providers accept). */
  name: string;
  /** What configuration globs match: `<server>.<tool>` for an MCP tool; absent: `name`. */
  qualifiedName?: string;
  description: string;
  /** JSON Schema of the arguments (an object schema). */
  parameters: Record<string, unknown>;
  /** Runs the call; may throw (the toolbox turns it into an error outcome). */
  call(args: Record<string, unknown>, signal: AbortSignal): Promise<ToolOutcome>;
}

/** A name providers accept for a function: `[A-Za-z0-9_-]{1,64}` (other characters become `_`). */
export function modelToolName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64);
  return cleaned === "" ? "tool" : cleaned;
}
