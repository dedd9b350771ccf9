// A run's answer in the room: the placeholder, then one Matrix message per agent message: live (shown as it is
// written, live-message.ts) where the room streams, else posted whole when complete (the placeholder edited into
// the first). The agent's work (tool calls, steps, reasoning) is shown above the text of the agent message it
// leads to (work-slots.ts), as a status line while it runs and, as the room chose (/toollines, /details), in the
// finished message. txnIds derive from the run, so a resend after a crash is deduplicated by the homeserver.
import type { Logger } from "pino";
import type { WorkEvent } from "../agent/run-events";
import type { MessageContent } from "../matrix/format";
import type { RoomMessageSender, SendResult } from "../matrix/sender";
import type { UnrecordedRuns } from "../outbox/unrecorded";
import { answerContents, editContent } from "../turns/reply-content";
import type { ReplyTarget } from "../turns/reply-content";
import { checkpoint } from "../util/checkpoints";
import { interruptedText, liveEdit, markLive, segmentContent, type Content } from "./live-content";
import { LiveMessage, shownBy, type LiveContext, type Segment } from "./live-message";
import type { LiveStore } from "./live-store";
import type { LiveOptions, RateLimitGate } from "./pacing";
import { TakeOver } from "./takeover";
import { Slots, type Slot } from "./work-slots";
import { DEFAULT_WORK_VISIBILITY, withWork, workView, type WorkView, type WorkVisibility } from "./work-view";

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
  /** What the room shows of the agent's work (/toollines, /details), live or not; default lines kept, no details. */
  workVisibility?(roomId: string): Promise<WorkVisibility>;
  /**
   * The txnIds of runs newly begun, which no attempt used before (src/outbox/unrecorded.ts): a fresh run opens its
   * own (TurnRun), and neither the outbox nor `store` reads a record under them. Absent: every run reads.
   */
  unrecorded?: UnrecordedRuns;
}

export interface AnswerDeps {
  sender: Pick<RoomMessageSender, "sendEvent">;
  log: Logger;
  placeholderText?: string;
  live?: LiveRendering;
  /** Awaited before a live message's record is written ahead of its send (LiveContext.beforeRecord). */
  beforeLiveRecord?: () => Promise<void>;
}

export class AnswerRenderer {
  private placeholderEventId: string | undefined;
  private placeholderPosting: Promise<Segment | undefined> | undefined;
  private readonly slots = new Slots();
  /** Live messages created so far (the first takes over the placeholder). */
  private lives = 0;
  /** Messages finished when their work did (held text): finish() waits for them. */
  private readonly completing: Array<Promise<void>> = [];
  private delivered = 0;
  private stopped = false;
  /** The Matrix messages showing this answer, in the order they appeared (taken-over ones included). */
  private readonly shownIds: string[] = [];

  private constructor(private readonly target: ReplyTarget, private readonly runId: string, private readonly deps: AnswerDeps,
    private readonly txn: (part: string) => string, private readonly live: LiveContext | undefined, private readonly takeOver: TakeOver,
    private readonly visibility: WorkVisibility) {}

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
        takeOver: () => takeOver.take(), ...(deps.beforeLiveRecord ? { beforeRecord: deps.beforeLiveRecord } : {}),
      };
    }
    const visibility = await live?.workVisibility?.(target.roomId).catch(() => undefined) ?? DEFAULT_WORK_VISIBILITY;
    const renderer = new AnswerRenderer(target, runId, deps, txn, context, takeOver, visibility);
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
    for (const slot of this.slots.all) live += slot.live?.shown ?? 0;
    return this.delivered + live;
  }

  /** The run takes a while: a placeholder ("…", a notice) that the answer will replace. Once per run. */
  postPlaceholder(): Promise<void> {
    if (this.placeholderPosting || this.stopped || this.answered > 0 || this.lives > 0) {
      return this.placeholderPosting?.then(() => undefined) ?? Promise.resolve();
    }
    this.placeholderPosting = this.sendPlaceholder().catch((err: unknown) => {
      this.deps.log.warn({ err: String(err), roomId: this.target.roomId }, "placeholder failed");
      return undefined;
    });
    return this.placeholderPosting.then(() => undefined);
  }

  onTextStart(messageId: string): void {
    this.liveOf(this.slots.forMessage(messageId));
  }

  onTextProgress(messageId: string, text: string): void {
    this.liveOf(this.slots.forMessage(messageId))?.update(text);
  }

  /** A complete agent message. Resolves once it went through the outbox (or, while its work runs, is held). */
  async onTextMessage(messageId: string, text: string): Promise<void> {
    const slot = this.slots.forMessage(messageId);
    if (slot.done) return;
    if (slot.work.running) {
      slot.held = text; // finished with its work (onWork), or at the end of the run
      return;
    }
    await this.complete(slot, text);
  }

  /** A tool call, step or reasoning event: shown in the live message of the agent message it belongs to. */
  onWork(event: WorkEvent): void {
    const slot = this.slots.forWork(event);
    if (!slot || slot.done || !slot.work.apply(event)) return;
    const view = workView(slot.work, this.visibility.details);
    if (view !== undefined || slot.live) this.liveOf(slot)?.setWork(view);
    if (slot.held !== undefined && !slot.work.running) this.completing.push(this.complete(slot, slot.held));
  }

  /** What a finished message keeps of its work: as the room chose; a message without text keeps its lines. */
  private finalView(slot: Slot, text: string): WorkView | undefined {
    const { toolLines, details } = this.visibility;
    return toolLines || details || text.trim() === "" ? workView(slot.work, details) : undefined;
  }

  private async complete(slot: Slot, text: string): Promise<void> {
    if (slot.done) return;
    slot.done = true;
    slot.held = undefined;
    const view = this.finalView(slot, text);
    const live = this.liveOf(slot);
    if (live) return live.finish(text, "complete", { work: view });
    if (text.trim() !== "" || view !== undefined) await this.postWhole(text, view);
  }

  /** The message posted whole (rooms that do not stream): the placeholder edited into the first. */
  private async postWhole(text: string, view: WorkView | undefined): Promise<void> {
    await this.placeholderPosting;
    const index = this.delivered++;
    const editsPlaceholder = index === 0 && this.placeholderEventId !== undefined;
    const reserveBytes = view ? Buffer.byteLength(JSON.stringify(view), "utf8") : 0; // at most WORK_VIEW_LIMITS.viewBytes
    const parts = answerContents(text, this.target, "m.text", { forEdit: editsPlaceholder, reserveBytes });
    if (view) {
      const [head] = parts;
      const first = head ? { ...head, ...withWork(head as unknown as MessageContent, view, "m.text") }
        : segmentContent("", this.target, true, "m.text", view).content;
      if (first) parts.splice(0, 1, first);
    }
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
   * The run is over (`ok`: it succeeded): no more placeholder; work still running is over (done, or failed
   * unfinished); messages held for their work are finished; live messages the agent left unfinished (the run
   * failed or stopped) get their text so far and "(interrupted)", not live; work that led to no message is shown
   * on its own.
   */
  async finish(ok = true): Promise<void> {
    this.stopped = true;
    await this.placeholderPosting;
    await Promise.all(this.completing);
    for (const slot of this.slots.all) {
      if (slot.done) continue;
      slot.work.end(ok);
      if (slot.held !== undefined || !slot.started || !slot.live) {
        await this.complete(slot, slot.held ?? "");
        continue;
      }
      slot.done = true;
      const soFar = slot.live.textSoFar;
      await slot.live.finish(soFar.trim() === "" ? "" : interruptedText(soFar), "interrupted", { work: this.finalView(slot, soFar) });
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

  /** The slot's live message (created now if needed; the first takes over the placeholder); none in final mode. */
  private liveOf(slot: Slot): LiveMessage | undefined {
    if (!this.live) return undefined;
    if (!slot.live) {
      slot.live = new LiveMessage(this.live, slot.index, this.lives === 0 ? this.placeholderPosting : undefined);
      this.lives += 1;
    }
    return slot.live;
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
      await this.live.beforeRecord?.();
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
