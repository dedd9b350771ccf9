// One agent message shown as it is written: its first visible text is posted after a short hold (firstPostHoldMs:
// what arrives whole in a burst is posted whole) or edits the placeholder, then m.replace edits follow, coalesced (the latest text wins; one send at a time, nothing queued), paced
// (pacing.ts), at most `maxEdits` per Matrix message. A message about to outgrow one event is frozen at a block
// boundary (cut.ts) and continues in a new one. The final edit carries the whole text and no live marker.
// Every send goes through the outbox (durable, retried, in order per room); the record in the LiveStore is
// written before each send, so that a restart can end the message (live-recovery.ts). The agent's work for this
// message (its tool lines, details on request: work-view.ts) sits above the text in its first Matrix message.
import { checkpoint } from "../util/checkpoints";
import { cutToFit } from "./cut";
import { LIVE_EVENT_MAX_BYTES, liveEdit, markLive, segmentContent, sentBytes, type Content } from "./live-content";
import type { LiveRecord } from "./live-store";
import { shownBy, type LiveContext, type Segment } from "./live-types";
import { intermediateEdits, nextEditAt } from "./pacing";
import { viewKey, type WorkView } from "./work-view";

export { shownBy, type LiveContext, type Segment } from "./live-types";

/** An event id as long as real ones, for sizing an edit before the real one is known. */
const SIZING_EVENT_ID = `$${"x".repeat(43)}`;

export class LiveMessage {
  private text = "";
  /** Where the current Matrix message's part of the text starts, and what its markdown starts with. */
  private base = 0;
  private lead = "";
  private segment: Segment | undefined;
  private segments = 0;
  private busy: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  /** The first post's hold (LiveOptions.firstPostHoldMs) has passed. */
  private holdOver = false;
  /** Matrix messages this agent message posted, and whether it took over the placeholder. */
  private posted = 0;
  private adopted = false;
  /** The agent's work for this message, as shown above the text of its first Matrix message. */
  private work: WorkView | undefined;
  private lastContent: { md: string; first: boolean; work: WorkView | undefined; result: ReturnType<typeof segmentContent> } | undefined;

  /**
   * `index`: the agent message's place in the answer. `opening`: the placeholder this message takes over (its
   * posting may still be under way), for the answer's first message.
   */
  constructor(private readonly ctx: LiveContext, private readonly index: number, private readonly opening?: Promise<Segment | undefined>) {}

  /** Matrix messages showing this agent message (the placeholder it took over included). */
  get shown(): number {
    return this.posted + (this.adopted ? 1 : 0);
  }

  get textSoFar(): string {
    return this.text;
  }

  /** Whether newer text waits for its edit's time (the edit interval or a retry_after_ms), nothing being sent. */
  get held(): boolean {
    return this.timer !== undefined && this.busy === undefined;
  }

  /** The text so far grew. */
  update(text: string): void {
    if (this.closed) return;
    this.text = text;
    this.kick();
  }

  /** The agent's work for this message changed (undefined: nothing to show of it). */
  setWork(view: WorkView | undefined): void {
    if (this.closed) return;
    this.work = view;
    this.kick();
  }

  /**
   * The whole text: the final edit(s). Resolves once they went through the outbox. `interrupted`: the run ended
   * without it (text and mark given), shown only where something of the message is shown already. `final`: the
   * work view the finished message keeps (default: the last one set).
   */
  async finish(text: string, how: "complete" | "interrupted" = "complete", final?: { work: WorkView | undefined }): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.busy;
    if (how === "interrupted" && this.segment === undefined && this.posted === 0) return;
    this.text = text;
    if (final) this.work = final.work;
    if (text.trim() !== "" || this.work !== undefined) await this.openPlaceholder();
    for (let md = this.segmentText(); ;) {
      if (this.fits(md)) {
        await this.settle(md);
        return;
      }
      const cut = cutToFit(md, (head) => this.fits(head), LIVE_EVENT_MAX_BYTES);
      if (cut === undefined) return this.ctx.log.error({ runId: this.ctx.runId }, "live message: nothing of the text fits an event; dropped");
      await this.settle(cut.head);
      md = this.advance(cut.restAt, cut.restLead);
    }
  }

  private now(): number {
    return (this.ctx.now ?? Date.now)();
  }

  private segmentText(): string {
    return this.lead + this.text.slice(this.base);
  }

  private advance(restAt: number, restLead: string): string {
    this.base += Math.max(0, restAt - this.lead.length);
    this.lead = restLead;
    return this.segmentText();
  }

  /** The work view shown in a Matrix message of this agent message: only its first has one. */
  private workIn(first: boolean): WorkView | undefined {
    return first ? this.work : undefined;
  }

  /**
   * segmentContent of `md` in this message's first Matrix message or a later one. The last one is kept: sizing a text
   * (fits) and then sending it would otherwise render it twice (each answer's final edit). Its users only read it.
   */
  private contentFor(md: string, first: boolean): ReturnType<typeof segmentContent> {
    const work = this.workIn(first);
    const last = this.lastContent;
    if (last !== undefined && last.md === md && last.first === first && last.work === work) return last.result;
    const result = segmentContent(md, this.ctx.target, first, "m.text", work);
    this.lastContent = { md, first, work, result };
    return result;
  }

  /** What a Matrix message shows: its markdown and, in the first, the work view. */
  private keyOf(md: string, first: boolean): string {
    const work = this.workIn(first);
    return work === undefined ? md : `${md}\u0000${viewKey(work)}`;
  }

  /** Whether `md` fits one event as an edit of a live message. Text that shows nothing fits. */
  private fits(md: string): boolean {
    const first = this.segment?.first ?? this.segments === 0;
    const { content, tooLarge } = this.contentFor(md, first);
    if (content === undefined) return !tooLarge;
    const edit = liveEdit(this.segment?.eventId ?? SIZING_EVENT_ID, content, true);
    return sentBytes(this.ctx.target.roomId, edit, this.ctx.encrypted) <= LIVE_EVENT_MAX_BYTES;
  }

  private kick(): void {
    if (this.busy || this.closed) return;
    const md = this.segmentText();
    if (this.segment === undefined) {
      const shows = md.trim() !== "" || this.workIn(this.segments === 0) !== undefined;
      const hold = this.ctx.options.firstPostHoldMs ?? 0;
      if (shows && this.segments === 0 && !this.holdOver && hold > 0) {
        this.timer ??= setTimeout(() => {
          this.timer = undefined;
          this.holdOver = true;
          this.kick();
        }, hold).unref();
        return;
      }
      if (shows) this.step(() => this.openPlaceholder().then(() => (this.segment ? this.editLive() : this.post())));
      return;
    }
    const key = this.keyOf(md, this.segment.first);
    if (key === (this.segment.shownKey ?? this.segment.shown) || key === this.segment.checked) return;
    const wait = nextEditAt(this.segment.sentAt, this.text.length, this.ctx.options, this.ctx.gate) - this.now();
    if (wait > 0) {
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.kick();
      }, wait).unref();
      return;
    }
    this.step(() => this.editLive());
  }

  private step(work: () => Promise<void>): void {
    this.busy = work()
      .catch((err: unknown) => this.ctx.log.error({ err: String(err), runId: this.ctx.runId }, "live message step failed"))
      .finally(() => {
        this.busy = undefined;
        this.kick();
      });
  }

  /** The answer's first message takes over the placeholder, once its posting is done. */
  private async openPlaceholder(): Promise<void> {
    if (this.segment !== undefined || this.segments > 0 || this.opening === undefined) return;
    const placeholder = await this.opening;
    if (placeholder !== undefined && this.segment === undefined && this.segments === 0) {
      this.segment = placeholder;
      this.segments = 1;
      this.adopted = true;
      this.ctx.onShown?.(placeholder.eventId);
    }
  }

  /** Posts the first event of a new Matrix message with the text so far (after freezing what does not fit). */
  private async post(): Promise<void> {
    let md = this.segmentText();
    while (!this.fits(md)) {
      const cut = cutToFit(md, (head) => this.fits(head), LIVE_EVENT_MAX_BYTES);
      if (cut === undefined) return;
      await this.settle(cut.head); // a part complete already: posted as it is, not live
      md = this.advance(cut.restAt, cut.restLead);
    }
    const first = this.segments === 0;
    const work = this.workIn(first);
    const shownKey = this.keyOf(md, first);
    const { content } = this.contentFor(md, first);
    if (content === undefined) return;
    const key = this.ctx.txn(`m${this.index}.s${this.segments}`);
    this.segments += 1;
    // A run again after a restart continues its message (a fresh run's claim reads nothing). An answer that arrived
    // whole in a burst was finished during the first post's hold (kick()): it is posted whole by finish().
    const before = await this.ctx.store.claim(key);
    if (this.closed && before === undefined) {
      this.segments -= 1; // finished meanwhile: finish() posts the whole text at once, not live
      this.ctx.store.release(key);
      return;
    }
    const initial = markLive(content);
    // An earlier answer's message is edited (live) instead of posting a new one: its event id is known at once.
    const reused = this.ctx.takeOver?.();
    const known = before?.eventId ?? reused;
    await this.ctx.beforeRecord?.();
    await this.ctx.store.put({ key, roomId: this.ctx.target.roomId, runId: this.ctx.runId, initial, text: md, msgtype: "m.text",
      edits: before?.edits ?? 0, updatedAt: this.now(), ...(known ? { eventId: known } : {}), ...(work ? { work } : {}) });
    const result = await this.ctx.send(reused === undefined ? initial : liveEdit(reused, content, true), key);
    if (!result.ok) {
      this.ctx.log.error({ roomId: this.ctx.target.roomId, error: result.error.describe() }, "could not post a live message");
      await this.ctx.store.remove(key);
      return;
    }
    const eventId = reused ?? result.eventId;
    this.posted += 1;
    this.ctx.onShown?.(eventId);
    checkpoint("reply-accepted");
    const record: LiveRecord = { key, roomId: this.ctx.target.roomId, runId: this.ctx.runId, eventId, initial,
      text: md, msgtype: "m.text", edits: before?.edits ?? 0, updatedAt: this.now(), ...(work ? { work } : {}) };
    this.segment = { key, eventId, edits: record.edits, record, shown: before ? shownBy(before) : md, sentAt: this.now(), first,
      ...(before ? {} : { shownKey }) };
    await this.ctx.store.put(record);
  }

  /** One live edit with the text so far; a message that would outgrow one event is frozen and continued. */
  private async editLive(): Promise<void> {
    const segment = this.segment;
    if (segment === undefined) return;
    const md = this.segmentText();
    if (!this.fits(md)) {
      const cut = cutToFit(md, (head) => this.fits(head), LIVE_EVENT_MAX_BYTES);
      if (cut === undefined) return;
      await this.settle(cut.head);
      this.advance(cut.restAt, cut.restLead);
      return this.post();
    }
    segment.sentAt = this.now();
    const key = this.keyOf(md, segment.first);
    // Out of edits: the text waits for the final edit (its size is still checked, above, once per interval).
    if (segment.edits >= intermediateEdits(this.ctx.options)) {
      segment.checked = key;
      return;
    }
    const work = this.workIn(segment.first);
    const { content } = this.contentFor(md, segment.first);
    if (content === undefined) return;
    segment.edits += 1;
    if (segment.record) {
      const { work: _before, ...record } = segment.record;
      segment.record = { ...record, text: md, edits: segment.edits, updatedAt: this.now(), ...(work ? { work } : {}) };
      await this.ctx.store.put(segment.record);
    }
    const result = await (this.ctx.sendLive ?? this.ctx.send)(liveEdit(segment.eventId, content, true), `${segment.key}.e${segment.edits}`);
    if (result.ok) {
      segment.shown = md;
      segment.shownKey = key;
      checkpoint("live-edit-accepted");
    } else {
      this.ctx.log.warn({ roomId: this.ctx.target.roomId, error: result.error.describe() }, "a live edit was not delivered");
    }
  }

  /** The final content of the current Matrix message (edit, not live), or a new message when none is open. */
  private async settle(md: string): Promise<void> {
    const segment = this.segment;
    if (segment === undefined) {
      const first = this.segments === 0;
      const { content } = this.contentFor(md, first);
      const key = this.ctx.txn(`m${this.index}.s${this.segments}`);
      this.segments += 1;
      if (content === undefined) return;
      const reused = this.ctx.takeOver?.();
      const result = reused === undefined ? await this.postWhole(key, content) : await this.ctx.send(liveEdit(reused, content, false), `${key}.final`);
      if (result.ok) {
        this.posted += 1;
        this.ctx.onShown?.(reused ?? result.eventId);
        checkpoint("reply-accepted");
      } else {
        this.ctx.log.error({ roomId: this.ctx.target.roomId, error: result.error.describe() }, "could not deliver an answer");
      }
      return;
    }
    this.segment = undefined;
    // A message never ends empty once it showed text (a snapshot may have shrunk it): it keeps what it showed.
    const { content } = this.contentFor(md.trim() === "" ? segment.shown : md, segment.first);
    if (content !== undefined) {
      const result = await this.ctx.send(liveEdit(segment.eventId, content, false), `${segment.key}.final`);
      if (result.ok) checkpoint("reply-accepted");
      else this.ctx.log.error({ roomId: this.ctx.target.roomId, error: result.error.describe() }, "could not deliver the final text of a live message");
    }
    await this.ctx.store.remove(segment.key);
  }

  /**
   * A whole message, never shown live: under the transaction id a live post of it would have (`key`), so that this
   * run again after a crash ends up in the same message whichever way each attempt showed it. A message an earlier
   * attempt began live (its record claimed) is finished by an edit instead.
   */
  private async postWhole(key: string, content: Content): ReturnType<LiveContext["send"]> {
    const before = await this.ctx.store.claim(key);
    if (before === undefined) {
      this.ctx.store.release(key);
      return this.ctx.send(content, key);
    }
    const first = await this.ctx.send(before.initial, key); // the homeserver and the outbox dedupe it: its event id
    const result = first.ok ? await this.ctx.send(liveEdit(first.eventId, content, false), `${key}.final`) : first;
    if (result.ok) await this.ctx.store.remove(key);
    return first.ok && result.ok ? { ...result, eventId: first.eventId } : result;
  }
}
