// A run's answer in the room: the placeholder, then one Matrix message per agent message: live (shown as it is
// written, live-message.ts) where the room streams, else posted whole when complete (the placeholder edited into
// the first). txnIds derive from the run, so a resend after a crash is deduplicated by the homeserver.
import type { Logger } from "pino";
import type { RoomMessageSender, SendResult } from "../matrix/sender";
import { answerContents, editContent } from "../turns/reply-content";
import type { ReplyTarget } from "../turns/reply-content";
import { checkpoint } from "../util/checkpoints";
import { interruptedText, liveEdit, markLive, type Content } from "./live-content";
import { LiveMessage, shownBy, type LiveContext, type Segment } from "./live-message";
import type { LiveStore } from "./live-store";
import type { LiveOptions, RateLimitGate } from "./pacing";
import { TakeOver } from "./takeover";

/** What live answers need; absent: every answer is posted when complete. */
export interface LiveRendering {
  /** Whether answers in this room are shown as they are written (STREAMING, /stream, the room's MSC4357 state). */
  streams(roomId: string): Promise<boolean>;
  /** Whether sends into the room are encrypted (edits must fit one event as ciphertext). */
  encrypted(roomId: string): Promise<boolean>;
  store: LiveStore;
  gate: RateLimitGate;
  options: LiveOptions;
  /** Sends an intermediate edit (cosmetic: dropped when it cannot be delivered); default: the answer's sender. */
  sendLive?(roomId: string, content: Content, txnId: string): Promise<SendResult>;
}

export interface AnswerDeps {
  sender: Pick<RoomMessageSender, "sendEvent">;
  log: Logger;
  placeholderText?: string;
  live?: LiveRendering;
}

export class AnswerRenderer {
  private placeholderEventId: string | undefined;
  private placeholderPosting: Promise<Segment | undefined> | undefined;
  private readonly messages = new Map<string, LiveMessage>();
  private readonly finished = new Set<string>();
  private delivered = 0;
  private stopped = false;
  /** The Matrix messages showing this answer, in the order they appeared (taken-over ones included). */
  private readonly shownIds: string[] = [];

  private constructor(private readonly target: ReplyTarget, private readonly runId: string, private readonly deps: AnswerDeps,
    private readonly txn: (part: string) => string, private readonly live: LiveContext | undefined, private readonly takeOver: TakeOver) {}

  /**
   * The renderer of one run; `runId` names its txnIds. Live when the room streams. `takeOver`: an earlier answer's
   * messages, edited into this answer (in order) instead of posting new ones.
   */
  static async create(target: ReplyTarget, runId: string, deps: AnswerDeps, txn: (part: string) => string,
    takeOver = new TakeOver()): Promise<AnswerRenderer> {
    const live = deps.live;
    const sendLive = live?.sendLive;
    let context: LiveContext | undefined;
    if (live && (await live.streams(target.roomId).catch(() => false))) {
      context = {
        target, runId, encrypted: await live.encrypted(target.roomId).catch(() => false), store: live.store, gate: live.gate,
        options: live.options, log: deps.log, txn,
        send: (content, txnId) => deps.sender.sendEvent(target.roomId, "m.room.message", content, txnId),
        ...(sendLive ? { sendLive: (content: Content, txnId: string) => sendLive(target.roomId, content, txnId) } : {}),
        takeOver: () => takeOver.take(),
      };
    }
    const renderer = new AnswerRenderer(target, runId, deps, txn, context, takeOver);
    if (context) context.onShown = (eventId) => renderer.noteShown(eventId);
    // A run again after a restart whose placeholder was live: it is the live message again, at once.
    if (context) {
      if ((await context.store.claim(txn("placeholder"))) !== undefined) void renderer.postPlaceholder();
      else context.store.release(txn("placeholder")); // claimed again if a placeholder is posted
    }
    return renderer;
  }

  get streaming(): boolean {
    return this.live !== undefined;
  }

  /** The Matrix messages showing this answer so far (placeholder and taken-over ones included), each once, in order. */
  get eventIds(): string[] {
    return [...this.shownIds];
  }

  /** The earlier answer's messages this answer did not take over (yet). */
  get unusedTakeOver(): string[] {
    return this.takeOver.unused;
  }

  /** A message of this answer appeared (a failure notice the run posted counts too). */
  noteShown(eventId: string): void {
    if (eventId !== "" && !this.shownIds.includes(eventId)) this.shownIds.push(eventId);
  }

  /** Matrix messages showing the answer so far (the placeholder counts once an answer took it over). */
  get answered(): number {
    let live = 0;
    for (const m of this.messages.values()) live += m.shown;
    return this.delivered + live;
  }

  /** The run takes a while: a placeholder ("…", a notice) that the answer will replace. Once per run. */
  postPlaceholder(): Promise<void> {
    if (this.placeholderPosting || this.stopped || this.answered > 0 || this.messages.size > 0) {
      return this.placeholderPosting?.then(() => undefined) ?? Promise.resolve();
    }
    this.placeholderPosting = this.sendPlaceholder().catch((err: unknown) => {
      this.deps.log.warn({ err: String(err), roomId: this.target.roomId }, "placeholder failed");
      return undefined;
    });
    return this.placeholderPosting.then(() => undefined);
  }

  onTextStart(messageId: string): void {
    this.liveMessage(messageId);
  }

  onTextProgress(messageId: string, text: string): void {
    this.liveMessage(messageId)?.update(text);
  }

  /** A complete agent message. Resolves once it went through the outbox. */
  async onTextMessage(messageId: string, text: string): Promise<void> {
    this.finished.add(messageId);
    const live = this.liveMessage(messageId);
    if (live) return live.finish(text);
    await this.placeholderPosting;
    const index = this.delivered++;
    const editsPlaceholder = index === 0 && this.placeholderEventId !== undefined;
    const parts = answerContents(text, this.target, "m.text", { forEdit: editsPlaceholder });
    for (const [p, content] of parts.entries()) {
      const edit = editsPlaceholder && p === 0;
      const reused = edit ? undefined : this.takeOver.take();
      const body = edit ? editContent(this.placeholderEventId ?? "", content) : reused !== undefined ? liveEdit(reused, content, false) : content;
      const result = await this.deps.sender.sendEvent(this.target.roomId, "m.room.message", body, this.txn(`m${index}.${p}`));
      if (result.ok) {
        this.noteShown(edit ? this.placeholderEventId ?? "" : reused ?? result.eventId);
        checkpoint("reply-accepted");
      } else this.deps.log.error({ roomId: this.target.roomId, error: result.error.describe(), permanent: result.permanent }, "could not deliver an answer");
    }
  }

  /**
   * The run is over: no more placeholder; live messages the agent left unfinished (the run failed or stopped)
   * get their text so far and "(interrupted)", not live.
   */
  async finish(): Promise<void> {
    this.stopped = true;
    await this.placeholderPosting;
    for (const [id, message] of this.messages) {
      if (!this.finished.has(id)) await message.finish(interruptedText(message.textSoFar), "interrupted");
    }
  }

  /** Edits the placeholder into `text` (a notice) when no answer took it over. False when there is none to edit. */
  async replacePlaceholder(text: string): Promise<boolean> {
    await this.placeholderPosting;
    if (this.placeholderEventId === undefined || this.answered > 0) return false;
    const [content] = answerContents(text, this.target, "m.notice");
    if (!content) return false;
    const key = this.txn("placeholder");
    await this.deps.sender.sendEvent(this.target.roomId, "m.room.message", editContent(this.placeholderEventId, content),
      this.live ? `${key}.final` : this.txn("placeholder-edit"));
    if (this.live) await this.live.store.remove(key);
    return true;
  }

  private liveMessage(messageId: string): LiveMessage | undefined {
    if (!this.live) return undefined;
    let message = this.messages.get(messageId);
    if (!message) {
      const first = this.messages.size === 0;
      message = new LiveMessage(this.live, this.messages.size, first ? this.placeholderPosting : undefined);
      this.messages.set(messageId, message);
    }
    return message;
  }

  private async sendPlaceholder(): Promise<Segment | undefined> {
    const [plain] = answerContents(this.deps.placeholderText ?? "…", this.target, "m.notice");
    if (!plain) return undefined;
    const key = this.txn("placeholder");
    const content: Content = this.live ? markLive(plain) : plain;
    const before = this.live ? await this.live.store.claim(key) : undefined;
    // An answer given again shows its placeholder in the earlier answer's first message.
    const reused = this.takeOver.take();
    const known = before?.eventId ?? reused;
    if (this.live) {
      await this.live.store.put({ key, roomId: this.target.roomId, runId: this.runId, initial: content, text: before?.text ?? "",
        msgtype: "m.notice", edits: before?.edits ?? 0, updatedAt: Date.now(), ...(known ? { eventId: known } : {}) });
    }
    const sent = reused === undefined ? content : liveEdit(reused, plain, this.live !== undefined);
    const result = await this.deps.sender.sendEvent(this.target.roomId, "m.room.message", sent, key);
    if (!result.ok) {
      if (this.live) await this.live.store.remove(key);
      return undefined;
    }
    const eventId = reused ?? result.eventId;
    this.placeholderEventId = eventId;
    this.noteShown(eventId);
    if (!this.live) return undefined;
    const record = { key, roomId: this.target.roomId, runId: this.runId, eventId, initial: content, text: before?.text ?? "",
      msgtype: "m.notice" as const, edits: before?.edits ?? 0, updatedAt: Date.now() };
    await this.live.store.put(record);
    return { key, eventId, edits: record.edits, record, shown: before ? shownBy(before) : record.text, sentAt: 0, first: true };
  }
}
