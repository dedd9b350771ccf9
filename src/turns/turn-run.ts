// One agent run for a batch of messages of one thread: read receipt, typing held for the whole turn
// (typing.ts), a placeholder after a delay, the answer rendered into the room as it comes (src/render/: live
// by edits, or whole), and a specific reply for every failure. txnIds derive from the run, so a resend after a
// crash is deduplicated by the homeserver.
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { RunFailure, RunResult } from "../agent/link";
import type { RoomMessageSender } from "../matrix/sender";
import { AnswerRenderer, type LiveRendering } from "../render/answer";
import type { PreparedMedia } from "../media/prepared";
import { FAILURE_TEXTS, failureText } from "./failure-text";
import { answerContents, type ReplyTarget } from "./reply-content";
import { RoomTyping } from "./typing";

export interface TurnMessage extends ReplyTarget {
  threadKey: string;
  text: string;
  senderName?: string;
  inReplyTo?: string;
  /** An attachment (src/media): its bytes in memory until the turn is settled. */
  media?: PreparedMedia;
}

export interface TurnOptions {
  typingTimeoutMs: number;
  /** How long a run may take before typing goes on. Default 0 (at once). */
  typingDelayMs?: number;
  placeholderDelayMs: number;
  placeholderText?: string;
  /** How often a run refused with thread_busy is tried again before the user is told. */
  busyRetries?: number;
  busyRetryDelayMs?: number;
}

export interface AgentRunner {
  run(req: { threadId: string; runId: string; input: unknown }, observer: {
    onStarted?(): void;
    onTextStart?(messageId: string): void;
    onTextProgress?(messageId: string, text: string): void;
    onTextMessage(messageId: string, text: string): void | Promise<void>;
  }, signal?: AbortSignal): Promise<RunResult>;
}

interface RunDeps {
  agent: AgentRunner;
  sender: RoomMessageSender;
  log: Logger;
  options: TurnOptions;
  /** Typing shared by the turns of a room (the pipeline's); default one of this run's own. */
  typing?: RoomTyping;
  /** Live answers (shown as they are written); absent: answers are posted when complete. */
  live?: LiveRendering;
}

export function txnIdFor(runId: string, roomId: string, part: string): string {
  return `mab.${createHash("sha256").update(`${roomId}\n${runId}`).digest("base64url").slice(0, 32)}.${part}`;
}

export class TurnRun {
  private readonly aborter = new AbortController();
  private readonly last: TurnMessage;
  private readonly render: Promise<AnswerRenderer>;

  constructor(private readonly batch: TurnMessage[], private readonly deps: RunDeps) {
    const last = batch[batch.length - 1];
    if (!last) throw new Error("a run needs at least one message");
    this.last = last;
    // Decided while the run starts (the room's settings and state may be read), not before it.
    this.render = AnswerRenderer.create(last, last.eventId, {
      sender: deps.sender, log: deps.log,
      ...(deps.options.placeholderText !== undefined ? { placeholderText: deps.options.placeholderText } : {}),
      ...(deps.live ? { live: deps.live } : {}),
    }, (part) => this.txn(part));
  }

  /** Aborted by /stop or at shutdown (also while the run waits for a slot). */
  get signal(): AbortSignal {
    return this.aborter.signal;
  }

  /** Why the run was aborted, if it was: /stop, or shutdown past its grace period. */
  abortedFor: "stop" | "shutdown" | undefined;

  abort(reason: "stop" | "shutdown" = "stop"): void {
    this.abortedFor ??= reason;
    this.aborter.abort();
  }

  /** Posts one notice-like reply to a message outside any run (queue overflow, non-text input). */
  static async notify(deps: Pick<RunDeps, "sender" | "log">, target: ReplyTarget, text: string, part: string): Promise<void> {
    const [content] = answerContents(text, target, "m.notice");
    if (!content) return;
    const result = await deps.sender.sendEvent(target.roomId, "m.room.message", content, txnIdFor(target.eventId, target.roomId, part));
    if (!result.ok) deps.log.error({ roomId: target.roomId, error: result.error.describe() }, "could not post a notice");
  }

  async execute(): Promise<RunResult> {
    const { sender, options } = this.deps;
    void sender.sendReadReceipt(this.last.roomId, this.last.eventId);
    const typing = this.deps.typing ?? new RoomTyping(sender, options.typingTimeoutMs, this.deps.log, options.typingDelayMs);
    const stopTyping = typing.hold(this.last.roomId);
    const placeholderTimer = setTimeout(() => void this.render.then((r) => (this.aborter.signal.aborted ? undefined : r.postPlaceholder())),
      options.placeholderDelayMs);
    let result: RunResult;
    try {
      result = await this.runWithBusyRetries();
    } catch (e) {
      this.deps.log.error({ err: String(e), roomId: this.last.roomId }, "agent run threw");
      result = { ok: false, failure: { kind: "agent_error", code: "internal", message: "run threw", retryable: false } };
    } finally {
      clearTimeout(placeholderTimer);
    }
    const render = await this.render;
    await render.finish();
    if (!result.ok) await this.tellFailure(result.failure, render);
    else if (render.answered === 0) await render.replacePlaceholder("(no answer)");
    await stopTyping();
    return result;
  }

  private async runWithBusyRetries(): Promise<RunResult> {
    const retries = this.deps.options.busyRetries ?? 3;
    const render = this.render;
    for (let attempt = 0; ; attempt++) {
      const result = await this.deps.agent.run(
        { threadId: this.last.threadKey, runId: this.last.eventId, input: this.input() },
        {
          onTextStart: (id) => void render.then((r) => r.onTextStart(id)),
          onTextProgress: (id, text) => void render.then((r) => r.onTextProgress(id, text)),
          onTextMessage: (id, text) => render.then((r) => r.onTextMessage(id, text)),
        },
        this.aborter.signal,
      );
      const busy = !result.ok && result.failure.kind === "agent_error" && result.failure.code === "thread_busy";
      if (!busy || attempt >= retries || this.aborter.signal.aborted) return result;
      await new Promise((r) => setTimeout(r, this.deps.options.busyRetryDelayMs ?? 1000));
    }
  }

  private input(): unknown {
    return {
      messages: this.batch.map((m) => ({
        id: m.eventId, role: "user", content: m.text, sender: m.sender, ...(m.senderName ? { senderName: m.senderName } : {}),
        ...(m.media ? { media: m.media } : {}),
      })),
      context: {
        roomId: this.last.roomId,
        isDirect: this.last.isDirect,
        ...(this.last.threadRootId ? { threadRootId: this.last.threadRootId } : {}),
        ...(this.last.inReplyTo ? { inReplyTo: this.last.inReplyTo } : {}),
      },
    };
  }

  private async tellFailure(failure: RunFailure, render: AnswerRenderer): Promise<void> {
    if (this.abortedFor === "shutdown") {
      // The messages stay pending in the journal: the restarted bot answers them.
      await TurnRun.notify(this.deps, this.last, FAILURE_TEXTS.shutdown, "shutdown");
      return;
    }
    this.deps.log.warn({ roomId: this.last.roomId, threadKey: this.last.threadKey, failure }, "turn failed");
    if (await render.replacePlaceholder(failureText(failure))) return;
    await TurnRun.notify(this.deps, this.last, failureText(failure), `failure.${render.answered}`);
  }

  private txn(part: string): string {
    return txnIdFor(this.last.eventId, this.last.roomId, part);
  }
}
