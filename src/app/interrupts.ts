// Pending prompts (src/interrupts/) wired to the bot: the store, the outbox, the pipeline (which it pauses and
// resumes), the settings permission and the metrics. The pipeline is created with `forPipeline` before the manager
// exists; the manager is bound once both are.
import type { Logger } from "pino";
import type { Config } from "../config";
import { PermissionChecker } from "../commands/permissions";
import { InterruptManager, type PromptOutcome } from "../interrupts/manager";
import type { MatrixHttp } from "../matrix/http";
import type { RoomDirectory } from "../matrix/room-directory";
import type { RoomMessageSender } from "../matrix/sender";
import type { Store } from "../store";
import type { PipelineInterrupts, TurnPipeline } from "../turns/pipeline";

export interface InterruptWiring {
  /** What the pipeline calls (delegates to the manager once bound). */
  forPipeline: PipelineInterrupts;
  bind(deps: { pipeline: TurnPipeline; directory: RoomDirectory; threadKeyFor(roomId: string, root: string | undefined): Promise<string> }): InterruptManager;
}

export function wireInterrupts(config: Config, deps: { store: Store; http: MatrixHttp; messages: RoomMessageSender; log: Logger;
  onOutcome(outcome: PromptOutcome): void; }): InterruptWiring {
  let manager: InterruptManager | undefined;
  const bound = (): InterruptManager => {
    if (!manager) throw new Error("pending prompts are not wired yet");
    return manager;
  };
  const permissions = new PermissionChecker({ http: deps.http, botAdmins: config.botAdmins, log: deps.log });
  return {
    forPipeline: {
      paused: (batch, runId, interrupts) => bound().paused(batch, runId, interrupts),
      resumed: (message) => bound().resumed(message),
      stopped: (threadKey) => bound().stopped(threadKey),
    },
    bind({ pipeline, directory, threadKeyFor }) {
      manager = new InterruptManager({
        kv: deps.store.namespace("interrupts"), sender: deps.messages, log: deps.log, timeoutMs: config.timings.approvalTimeoutMs,
        pipeline, threadKeyFor, onOutcome: deps.onOutcome,
        displayName: (roomId, userId) => directory.displayName(roomId, userId),
        hasSettingsPermission: async (roomId, userId) =>
          (await permissions.check("settings", { roomId, userId, isDirect: await directory.isDirect(roomId) })).allowed,
      });
      return manager;
    },
  };
}
