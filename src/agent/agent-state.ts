// An HTTP agent's shared state as AG-UI carries it: a run starts from the state the bot kept (sent as
// `RunAgentInput.state`); STATE_SNAPSHOT replaces it, STATE_DELTA applies a JSON Patch (RFC 6902) to it, as
// @ag-ui/client's own event applier does (fast-json-patch, validated, never mutating). A patch that does not apply
// is logged and skipped, the state kept as it was; the run goes on.
import { applyPatch, type Operation } from "fast-json-patch";
import type { Logger } from "pino";
import type { AguiEvent } from "./protocol-v2";

export class AgentState {
  private current: unknown;
  private changed = false;

  constructor(initial: unknown, private readonly log: Logger) {
    this.current = initial;
  }

  /** Follows one event of the run (only STATE_SNAPSHOT and STATE_DELTA change anything). */
  follow(event: AguiEvent): void {
    if (event.type === "STATE_SNAPSHOT") {
      this.current = event.snapshot;
      this.changed = true;
    } else if (event.type === "STATE_DELTA") {
      try {
        this.current = applyPatch(this.current ?? {}, event.delta as Operation[], true, false).newDocument;
        this.changed = true;
      } catch (err) {
        this.log.warn({ err: err instanceof Error ? err.message : String(err), operations: event.delta.length },
          "the agent's STATE_DELTA does not apply to its state; the state is kept as it was");
      }
    }
  }

  /** The state after the run, when the run changed it. */
  get updated(): unknown {
    return this.changed ? this.current : undefined;
  }
}
