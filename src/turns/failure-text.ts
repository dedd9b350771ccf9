// What the user reads when a turn fails: one text per failure class. runbook/troubleshooting.md lists them
// with their meaning and fix; test/unit/runbook/troubleshooting.test.ts checks the two stay in step.
import type { RunFailure } from "../agent/link";

export const FAILURE_TEXTS = {
  unreachable: "⚠️ I can't reach my agent right now, so I couldn't answer. Please try again in a minute.",
  link_lost: "⚠️ I lost the connection to my agent while answering. Please send your message again.",
  no_start: "⚠️ My agent didn't pick up your message in time. Please try again in a minute.",
  idle: "⚠️ My agent stopped responding partway through the answer. Please try again.",
  deadline: "⚠️ The answer took too long, so I stopped it. Try a shorter or simpler request.",
  bad_frame: "⚠️ My agent sent a reply I couldn't understand. The operator has been told in the logs.",
  cancelled: "⏹️ Stopped.",
  agent_thread_busy: "⏳ I'm still working on an earlier message in this conversation. Please wait for that answer.",
  agent_rate_limited: "⚠️ The AI service is rate-limiting me. Please try again in a minute.",
  agent_upstream_unavailable: "⚠️ The AI service is unavailable right now. Please try again later.",
  agent_context_too_long: "⚠️ This conversation is too long for the AI model. Send /reset to start a fresh one.",
  agent_timeout: "⚠️ The AI service took too long to answer. Please try again.",
  agent_cancelled: "⏹️ Stopped.",
  agent_auth: "⚠️ The agent can't sign in to its AI service. The operator needs to check its API key.",
  agent_internal: "⚠️ Something went wrong inside my agent. Please try again; if it keeps happening, tell the operator.",
  http_auth: "⚠️ My agent refused my credentials, so I couldn't answer. The operator needs to check the agent's token.",
  http_rate_limited: "⚠️ My agent is rate-limiting me, so I couldn't answer.",
  http_unavailable: "⚠️ My agent is unavailable right now. Please try again later.",
  waiting: "⏳ I'm answering other messages right now; I'll get to yours in a moment.",
  queue_full: "⏳ I'm still working through earlier messages here, so I skipped this one. Please send it again when I've answered.",
  non_text: "I can't read this kind of message. Send me text, a picture, a file or a voice message instead.",
  shutdown: "🔄 I'm restarting and couldn't finish this answer in time. I'll answer your message as soon as I'm back.",
  /** The start of a usage-limit refusal; the rest (whose limit, when it resets) is src/usage/limits.ts's. */
  usage_limit: "⛔ The daily usage limit is reached, so I didn't send this to my agent.",
} as const;

export type FailureTextKey = keyof typeof FAILURE_TEXTS;

export function failureKey(failure: RunFailure): FailureTextKey {
  return failure.kind === "agent_error" ? (`agent_${failure.code}` as FailureTextKey) : failure.kind;
}

export function failureText(failure: RunFailure): string {
  if (failure.kind === "usage_limit") return failure.text;
  const text = FAILURE_TEXTS[failureKey(failure)] ?? FAILURE_TEXTS.agent_internal;
  return failure.kind === "http_rate_limited" ? `${text} ${retryWhen(failure.retryAfterMs)}` : text;
}

/** When to try again, in words, from an HTTP agent's Retry-After (never retried by the bot itself). */
export function retryWhen(retryAfterMs: number | undefined): string {
  if (retryAfterMs === undefined) return "Please try again in a minute.";
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  if (seconds < 90) return `Please try again in ${seconds} second${seconds === 1 ? "" : "s"}.`;
  const minutes = Math.ceil(seconds / 60);
  return minutes < 90 ? `Please try again in ${minutes} minutes.` : `Please try again in ${Math.ceil(minutes / 60)} hours.`;
}
