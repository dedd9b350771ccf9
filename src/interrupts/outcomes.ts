// What an answered run turns into: the resume run's message (AG-UI resume entries) and each prompt's outcome (metrics).
import type { ResumeEntry } from "../agent/protocol-v2";
import type { TurnMessage } from "../turns/turn-run";
import type { Prompt, PromptAnswer, PausedRun } from "./records";

export type PromptOutcome = "approved" | "denied" | "chosen" | "answered" | "expired" | "cancelled";

/** The resume run of a run whose prompts are all answered or expired: the answers as AG-UI resume entries. */
export function resumeMessage(key: string, run: PausedRun): TurnMessage {
  const entries: ResumeEntry[] = run.prompts.map((p) => ({ interruptId: p.interruptId, status: p.answer?.status ?? "cancelled",
    ...(p.answer?.payload !== undefined ? { payload: p.answer.payload } : {}) }));
  return { roomId: run.roomId, eventId: run.askerEventId, sender: run.asker, isDirect: run.isDirect, threadKey: run.threadKey, text: "",
    ...(run.threadRootId ? { threadRootId: run.threadRootId } : {}), ...(run.askerName ? { senderName: run.askerName } : {}),
    resume: { runId: `${run.runId}.resume`, key, entries } };
}

export function outcomeOf(prompt: Prompt, answer: PromptAnswer): PromptOutcome {
  if (answer.status === "cancelled") return answer.shown.includes("expired") ? "expired" : "cancelled";
  if (prompt.kind === "approval") return (answer.payload as { approved?: boolean } | undefined)?.approved ? "approved" : "denied";
  return prompt.kind === "choice" ? "chosen" : "answered";
}
