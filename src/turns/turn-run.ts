// One agent run for a batch of messages of one thread: read receipt, typing held for the whole turn
// (typing.ts), a placeholder after a delay, the answer rendered into the room as it comes (src/render/: live
// by edits, or whole), and a specific reply for every failure. txnIds derive from the run, so a resend after a
// crash is deduplicated by the homeserver.
import { createHash } from "node:crypto";
import type { Logger } from "pino";
import type { RunFailure, RunResult } from "../agent/link";
import type { ResumeEntry } from "../agent/protocol-v2";
import type { WorkEvent } from "../agent/run-events";
import type { AttachmentParse } from "../media/outgoing";
import { ATTACHMENT_TEXTS, postAttachment, type AttachmentPosting } from "../render/attachment-post";
import type { RoomMessageSender } from "../matrix/sender";
import { runPrefixOf } from "../outbox/unrecorded";
import { AnswerRenderer, type LiveRendering } from "../render/answer";
import type { PreparedMedia } from "../media/prepared";
import { retire, TakeOver } from "../render/takeover";
import { FAILURE_TEXTS, failureText } from "./failure-text";
import { answerContents, type ReplyTarget } from "./reply-content";
import { RoomTyping } from "./typing";
import { WaitingSigns } from "./waiting-signs";

/** A message for the agent. `eventId` is the question as people see it (what the answer replies to). */
export interface TurnMessage extends ReplyTarget {
  threadKey: string;
  text: string;
  senderName?: string;
  inReplyTo?: string;
  /** The edit (m.replace) of `eventId` that carries `text`, when the question was edited. */
  editId?: string;
  /** Earlier versions (journal entries) that this message replaced while it waited: settled with it. */
  supersedes?: string[];
  /** The agent was given `eventId` before (answered, or in a run cancelled by this edit): this text replaces it. */
  replaces?: boolean;
  /** The bot's messages of the answer being replaced: edited into the new answer, the rest redacted. */
  previousAnswer?: string[];
  /** An attachment (src/media): its bytes in memory until the turn is settled. */
  media?: PreparedMedia;
  /** A paused run continued (src/interrupts/): the run `runId` carries the answers and no new message. */
  resume?: { runId: string; key: string; entries: ResumeEntry[] };
  /**
   * Its event was handed out by journal.record() in this process (new, or a redelivery of one no run had): no run used
   * its id before, so a run named by it reads no record of an earlier attempt (src/outbox/unrecorded.ts).
   */
  fresh?: true;
}

/** The journal entries a message settles: the event carrying its text, and the versions it replaced. */
export function journalIdsOf(message: TurnMessage): string[] {
  return [message.editId ?? message.eventId, ...(message.supersedes ?? [])];
}

/** Why a run was aborted: /stop, shutdown past its grace period, or its batch changed (an edit, a redaction). */
export type AbortReason = "stop" | "shutdown" | "edited" | "redacted";

export interface TurnRunOptions {
  /** Names the run and its txnIds. Default: the event carrying the last message's text. */
  runId?: string;
  /** An earlier answer's messages to edit into this one (default: the last message's previousAnswer). */
  takeOver?: string[];
  /**
   * A batch a crash cut short, run again as recorded (run-batches.ts). What its first attempt posted is not known
   * here until its sends (deduplicated by the homeserver) name those messages, so an edit or a redaction of its
   * questions does not cancel it: it is handled once the run has answered, as a change of an answered question.
   */
  recovered?: true;
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
    onWork?(event: WorkEvent): void;
    onTextMessage(messageId: string, text: string): void | Promise<void>;
    onAttachment?(attachment: AttachmentParse): void | Promise<void>;
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
  /** Files the agent sends (upload, encryption); absent: they are refused in words. */
  attachments?: AttachmentPosting;
  /** Awaited before a live message writes its record ahead of its send: the run's deferred record goes first (record-gate.ts). */
  beforeLiveRecord?: () => Promise<void>;
}

/**
 * The plain first run of a fresh message (TurnMessage.fresh) as its batch's last: not a batch run again (recovered,
 * after a change: opts.runId), a resume (its paused run's id), an edited question (its edit's id) or a takeover of an
 * earlier answer. No attempt used its run id (the message's event id) before.
 */
export function isPlainFreshRun(last: TurnMessage, opts: TurnRunOptions): boolean {
  return last.fresh === true && opts.runId === undefined && opts.takeOver === undefined && opts.recovered !== true
    && last.resume === undefined && last.editId === undefined && last.previousAnswer === undefined;
}

export function txnIdFor(runId: string, roomId: string, part: string): string {
  return `${txnPrefixFor(runId, roomId)}${part}`;
}

/** What every txnId of a run starts with (one hash per run, not per message part). */
function txnPrefixFor(runId: string, roomId: string): string {
  return `mab.${createHash("sha256").update(`${roomId}\n${runId}`).digest("base64url").slice(0, 32)}.`;
}

export class TurnRun {
  private readonly aborter = new AbortController();
  private readonly last: TurnMessage;
  private readonly render: Promise<AnswerRenderer>;
  readonly runId: string;
  /** Run again as recorded after a crash (TurnRunOptions.recovered). */
  private readonly recovered: boolean;
  /** A run named by a fresh message (TurnMessage.fresh), run for the first time: ends its txnIds' cover at its end. */
  private readonly endFresh: (() => void) | undefined;
  /** The agent's part is over (its result is known): an edit or a redaction no longer cancels the run. */
  private agentDone = false;
  /** Failure notices and the agent's files, posted outside the renderer's messages (part of the answer all the same). */
  private readonly notices: string[] = [];
  /** The agent's files in this run so far (each one's place names its txnId), and those posted. */
  private attachmentsSeen = 0;
  private attachmentsPosted = 0;

  constructor(private readonly batch: TurnMessage[], private readonly deps: RunDeps, opts: TurnRunOptions = {}) {
    const last = batch[batch.length - 1];
    if (!last) throw new Error("a run needs at least one message");
    this.last = last;
    this.runId = opts.runId ?? last.resume?.runId ?? last.editId ?? last.eventId;
    this.recovered = opts.recovered === true;
    const prefix = isPlainFreshRun(last, opts) ? runPrefixOf(this.txn("")) : undefined;
    this.endFresh = prefix !== undefined ? deps.live?.unrecorded?.begin(prefix) : undefined;
    // Decided while the run starts (the room's settings and state may be read), not before it.
    this.render = AnswerRenderer.create(last, this.runId, {
      sender: deps.sender, log: deps.log,
      ...(deps.options.placeholderText !== undefined ? { placeholderText: deps.options.placeholderText } : {}),
      ...(deps.live ? { live: deps.live } : {}), ...(deps.beforeLiveRecord ? { beforeLiveRecord: deps.beforeLiveRecord } : {}),
    }, (part) => this.txn(part), new TakeOver(opts.takeOver ?? last.previousAnswer ?? []));
  }

  /** The messages of this run's answer (placeholder, taken-over ones, failure notices), once the run is over. */
  async answerEventIds(): Promise<string[]> {
    return [...(await this.render).eventIds, ...this.notices];
  }

  /** The earlier answer's messages this run did not take over. */
  async unusedTakeOver(): Promise<string[]> {
    return (await this.render).unusedTakeOver;
  }

  /** Aborted by /stop or at shutdown (also while the run waits for a slot). */
  get signal(): AbortSignal {
    return this.aborter.signal;
  }

  /** Why the run was aborted, if it was. */
  abortedFor: AbortReason | undefined;

  /**
   * Aborts the run. An edit or a redaction of its batch does so only while the agent is still at it (returns false
   * after: the answer is out, and is dealt with as an answer).
   */
  abort(reason: AbortReason = "stop"): boolean {
    if ((reason === "edited" || reason === "redacted") && (this.agentDone || this.recovered)) return false;
    this.abortedFor ??= reason;
    this.aborter.abort();
    return true;
  }

  /** Posts one notice-like reply to a message outside any run (queue overflow, non-text input). */
  static async notify(deps: Pick<RunDeps, "sender" | "log">, target: ReplyTarget, text: string, part: string,
    runId = target.eventId): Promise<string | undefined> {
    const [content] = answerContents(text, target, "m.notice");
    if (!content) return undefined;
    const result = await deps.sender.sendEvent(target.roomId, "m.room.message", content, txnIdFor(runId, target.roomId, part));
    if (!result.ok) deps.log.error({ roomId: target.roomId, error: result.error.describe() }, "could not post a notice");
    return result.ok ? result.eventId : undefined;
  }

  async execute(): Promise<RunResult> {
    try {
      return await this.executeOnce();
    } finally {
      this.endFresh?.();
    }
  }

  private async executeOnce(): Promise<RunResult> {
    const { sender, options } = this.deps;
    // Typing and the read receipt only for an agent slower than TYPING_DELAY_MS, and not while an answer is delivered.
    const typing = this.deps.typing ?? new RoomTyping(sender, options.typingTimeoutMs, this.deps.log, options.typingDelayMs);
    const signs = new WaitingSigns(typing, this.last.roomId, options.typingDelayMs ?? 0,
      () => void sender.sendReadReceipt(this.last.roomId, this.last.editId ?? this.last.eventId));
    const placeholderTimer = setTimeout(() => void this.render.then((r) => (this.aborter.signal.aborted ? undefined : r.postPlaceholder())),
      options.placeholderDelayMs);
    let result: RunResult;
    try {
      result = await this.runWithBusyRetries(signs);
    } catch (e) {
      this.deps.log.error({ err: String(e), roomId: this.last.roomId }, "agent run threw");
      result = { ok: false, failure: { kind: "agent_error", code: "internal", message: "run threw", retryable: false } };
    } finally {
      this.agentDone = true;
      clearTimeout(placeholderTimer);
      signs.agentDone();
    }
    const render = await this.render;
    await render.finish(result.ok);
    const changed = this.abortedFor === "edited" || this.abortedFor === "redacted"; // the pipeline runs it again, or not at all
    signs.settleReceipt(changed || this.abortedFor === "shutdown"); // then nothing of this run will be posted
    if (!result.ok && !changed) await this.tellFailure(result.failure, render);
    else if (result.ok && render.answered === 0 && this.attachmentsPosted === 0 && result.interrupts === undefined) await render.replacePlaceholder("(no answer)");
    else if (result.ok && result.interrupts !== undefined) await render.replacePlaceholder("Waiting for an answer…");
    // An answer given again that came out shorter: the earlier answer's messages it did not need go.
    if (!changed && this.abortedFor !== "shutdown") {
      await retire(this.deps.sender, this.deps.log, this.last.roomId, render.unusedTakeOver, this.txn("retired"), "shorter");
    }
    await signs.end();
    return result;
  }

  private async runWithBusyRetries(signs: WaitingSigns): Promise<RunResult> {
    const retries = this.deps.options.busyRetries ?? 3;
    const render = this.render;
    for (let attempt = 0; ; attempt++) {
      const result = await this.deps.agent.run(
        { threadId: this.last.threadKey, runId: this.runId, input: this.input() },
        {
          onTextStart: (id) => void render.then((r) => r.onTextStart(id)),
          onTextProgress: (id, text) => void render.then((r) => r.onTextProgress(id, text)),
          onWork: (event) => void render.then((r) => r.onWork(event)),
          onTextMessage: (id, text) => signs.delivering(() => render.then((r) => r.onTextMessage(id, text))),
          onAttachment: (attachment) => this.postAttachment(attachment),
        },
        this.aborter.signal,
      );
      const busy = !result.ok && result.failure.kind === "agent_error" && result.failure.code === "thread_busy";
      if (!busy || attempt >= retries || this.aborter.signal.aborted) return result;
      await new Promise((r) => setTimeout(r, this.deps.options.busyRetryDelayMs ?? 1000));
    }
  }

  private input(): unknown {
    if (this.last.resume) {
      const ctx = this.last;
      return { messages: [], resume: ctx.resume?.entries,
        context: { roomId: ctx.roomId, isDirect: ctx.isDirect, ...(ctx.threadRootId ? { threadRootId: ctx.threadRootId } : {}) } };
    }
    return {
      // A question answered before and edited since: the edit's id, and the question it replaces.
      messages: this.batch.map((m) => ({
        id: m.replaces && m.editId ? m.editId : m.eventId, role: "user", content: m.text, sender: m.sender,
        ...(m.senderName ? { senderName: m.senderName } : {}), ...(m.replaces ? { replaces: m.eventId } : {}),
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
    const notice = await TurnRun.notify(this.deps, this.last, failureText(failure), `failure.${render.answered}`, this.runId);
    if (notice !== undefined) this.notices.push(notice);
  }

  /** An agent's file, posted in order with the answer's messages; a refusal is told in a notice. */
  private async postAttachment(attachment: AttachmentParse): Promise<void> {
    const index = this.attachmentsSeen++;
    const posting = this.deps.attachments;
    const outcome = posting ? await postAttachment({ ...posting, sender: this.deps.sender, log: this.deps.log }, this.last, attachment, this.txn(`file${index}`))
      : { ok: false as const, userText: ATTACHMENT_TEXTS.failed };
    if (outcome.ok) {
      this.attachmentsPosted += 1;
      if (outcome.eventId !== undefined) this.notices.push(outcome.eventId);
      return;
    }
    const notice = await TurnRun.notify(this.deps, this.last, outcome.userText, `file${index}.refused`, this.runId);
    if (notice !== undefined) this.notices.push(notice);
  }

  private txnPrefix: string | undefined;

  private txn(part: string): string {
    this.txnPrefix ??= txnPrefixFor(this.runId, this.last.roomId);
    return `${this.txnPrefix}${part}`;
  }
}
