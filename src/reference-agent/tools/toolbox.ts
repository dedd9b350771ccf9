// The tools a run offers the model, and their calls: the arguments parsed from the model's JSON, the call run
// with the run's abort signal and a deadline, and every failure (unknown tool, bad JSON, a throw, a timeout) an
// error outcome the model is told, never a failed run. Results are cut to what a prompt can hold.
import type { Logger } from "pino";
import type { AgentTool, ToolOutcome } from "./types";

/** Characters of a tool result the model gets (the rest is cut, and it is told so). */
export const TOOL_RESULT_MAX_CHARS = 16_000;

/** A tool as the OpenAI chat-completions API takes it. */
export interface FunctionTool {
  type: "function";
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

export interface ToolSource {
  /** The tools offered now (MCP servers come and go). */
  tools(): AgentTool[];
}

function cut(text: string): string {
  return text.length <= TOOL_RESULT_MAX_CHARS ? text : `${text.slice(0, TOOL_RESULT_MAX_CHARS)}\n… (cut: the result was ${text.length} characters)`;
}

export class Toolbox {
  constructor(private readonly sources: readonly ToolSource[], private readonly log: Logger, private readonly timeoutMs: number) {}

  /** Every tool offered now, first of each name (built-ins come first). */
  list(): AgentTool[] {
    const seen = new Set<string>();
    const out: AgentTool[] = [];
    for (const source of this.sources) {
      for (const tool of source.tools()) {
        if (seen.has(tool.name)) continue;
        seen.add(tool.name);
        out.push(tool);
      }
    }
    return out;
  }

  definitions(tools: readonly AgentTool[]): FunctionTool[] {
    return tools.map((t) => ({ type: "function", function: { name: t.name, description: t.description, parameters: t.parameters } }));
  }

  /** Runs one call the model made; never throws. */
  async call(tools: readonly AgentTool[], name: string, argumentsJson: string, signal: AbortSignal): Promise<ToolOutcome> {
    const tool = tools.find((t) => t.name === name);
    if (!tool) return { ok: false, error: `there is no tool named "${name.slice(0, 64)}"` };
    let args: unknown;
    try {
      args = argumentsJson.trim() === "" ? {} : JSON.parse(argumentsJson);
    } catch {
      return { ok: false, error: "the arguments are not valid JSON" };
    }
    if (typeof args !== "object" || args === null || Array.isArray(args)) return { ok: false, error: "the arguments must be a JSON object" };
    const started = Date.now();
    const controller = new AbortController();
    const abort = (): void => controller.abort();
    signal.addEventListener("abort", abort, { once: true });
    const timer = setTimeout(() => controller.abort(), this.timeoutMs);
    timer.unref();
    let outcome: ToolOutcome;
    try {
      const deadline = new Promise<ToolOutcome>((resolve) => controller.signal.addEventListener("abort",
        () => resolve({ ok: false, error: signal.aborted ? "the run was cancelled" : `the tool did not answer within ${this.timeoutMs} ms` }), { once: true }));
      outcome = await Promise.race([tool.call(args as Record<string, unknown>, controller.signal), deadline]);
    } catch (err) {
      outcome = { ok: false, error: err instanceof Error && err.message !== "" ? err.message.slice(0, 500) : "the tool failed" };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", abort);
    }
    // Names and outcomes only: arguments and results may hold what users said.
    this.log.info({ tool: name, ok: outcome.ok, ms: Date.now() - started }, "tool called");
    return outcome.ok ? { ok: true, content: cut(outcome.content) } : { ok: false, error: outcome.error.slice(0, 1_000) };
  }
}
