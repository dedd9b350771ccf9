// What the agent did for one agent message of an answer: its tool calls and steps (each running, done or failed,
// with the call's arguments and result as far as they are kept) and its reasoning text. Every text is bounded as
// it arrives: an agent cannot grow the bot's memory through a long tool result or endless reasoning.
import type { WorkEvent } from "../agent/run-events";

export type WorkState = "running" | "done" | "failed";

export interface WorkItem {
  kind: "tool" | "step";
  /** The tool call id, or the step's name. */
  id: string;
  name: string;
  state: WorkState;
  /** Why it failed, as the agent said (short, one line once shown). */
  reason?: string;
  /** The arguments as streamed so far (at most `WORK_LIMITS.keptChars` + 1 characters kept). */
  args: string;
  result?: string;
}

/** What is kept of each text: a little more than any view shows, so a view can tell it was cut. */
export const WORK_LIMITS = { keptChars: 4_000, items: 100 } as const;

function append(kept: string, delta: string): string {
  return kept.length > WORK_LIMITS.keptChars ? kept : (kept + delta).slice(0, WORK_LIMITS.keptChars + 1);
}

export class Work {
  readonly items: WorkItem[] = [];
  reasoning = "";
  /** Items beyond `WORK_LIMITS.items`: counted only. */
  dropped = 0;

  /** Whether there is anything at all (a view may still show nothing: reasoning is hidden by default). */
  get empty(): boolean {
    return this.items.length === 0 && this.dropped === 0 && this.reasoning === "";
  }

  /** Whether a tool call or step is still running. */
  get running(): boolean {
    return this.items.some((i) => i.state === "running");
  }

  tool(toolCallId: string): WorkItem | undefined {
    return this.items.find((i) => i.kind === "tool" && i.id === toolCallId);
  }

  /** The step of that name still running, if any. */
  step(name: string): WorkItem | undefined {
    for (let i = this.items.length - 1; i >= 0; i -= 1) {
      const item = this.items[i];
      if (item?.kind === "step" && item.id === name && item.state === "running") return item;
    }
    return undefined;
  }

  /** Applies one event; false when it names nothing this work knows (the caller routes those). */
  apply(e: WorkEvent): boolean {
    switch (e.kind) {
      case "tool_start":
        if (this.tool(e.toolCallId) === undefined) this.add({ kind: "tool", id: e.toolCallId, name: e.name, state: "running", args: "" });
        return true;
      case "step_start":
        this.add({ kind: "step", id: e.name, name: e.name, state: "running", args: "" });
        return true;
      case "reasoning":
        this.reasoning = append(this.reasoning, e.delta);
        return true;
      case "tool_args": {
        const item = this.tool(e.toolCallId);
        if (item) item.args = append(item.args, e.delta);
        return item !== undefined;
      }
      case "tool_end":
        return this.tool(e.toolCallId) !== undefined; // the arguments are complete; the call runs on
      case "tool_result": {
        const item = this.tool(e.toolCallId);
        if (!item) return false;
        item.result = append("", e.content);
        if (e.error !== undefined) {
          item.state = "failed";
          item.reason = e.error.slice(0, WORK_LIMITS.keptChars);
        } else {
          item.state = "done";
        }
        return true;
      }
      case "step_end": {
        const item = this.step(e.name);
        if (item) item.state = "done";
        return item !== undefined;
      }
    }
  }

  /** The run is over: what still runs is done (the run succeeded) or failed unfinished. */
  end(ok: boolean): void {
    for (const item of this.items) {
      if (item.state !== "running") continue;
      item.state = ok ? "done" : "failed";
      if (!ok) item.reason = "not finished";
    }
  }

  private add(item: WorkItem): void {
    if (this.items.length >= WORK_LIMITS.items) this.dropped += 1;
    else this.items.push(item);
  }
}
