// Between the Matrix connection and the work: invites handled, events journaled before the batch is
// acknowledged, then processed in order per room (rooms in parallel): room facts updated, messages
// classified and handed to the turn pipeline, everything else marked done.
import type { Logger } from "pino";
import type { InboundBatchResult, InboundItem, RoomEvent } from "./matrix/events";
import type { Journal } from "./matrix/journal";
import type { RoomDirectory } from "./matrix/room-directory";
import type { InviteHandler } from "./rooms/invites";
import { classifyMessage, relationOf } from "./turns/classify";
import { FAILURE_TEXTS } from "./turns/failure-text";
import { TurnRun } from "./turns/turn-run";
import type { TurnMessage, TurnPipeline } from "./turns/pipeline";
import type { RoomMessageSender } from "./matrix/sender";
import type { MediaIntake } from "./media/intake";
import { mediaForTurn } from "./media/turn-media";
import { checkpoint } from "./util/checkpoints";
import { fullJitterBackoff, sleep } from "./util/timers";

export interface RouterDeps {
  botUserId: string;
  botDisplayName?: string;
  journal: Journal;
  directory: RoomDirectory;
  invites: InviteHandler;
  pipeline: TurnPipeline;
  sender: RoomMessageSender;
  log: Logger;
  threadKeyFor: (roomId: string, threadRootId: string | undefined) => Promise<string>;
  /** The replied-to event, for the reply context and "replied to the bot" detection. */
  fetchEvent: (roomId: string, eventId: string) => Promise<RoomEvent | undefined>;
  isAllowedSender: (userId: string) => boolean;
  encryptedNotice: { onUnreadable(roomId: string): Promise<void> };
  /** Commands (`/x`, `!x`, `@bot x`) are handled here and never reach the agent. */
  commands?: { handle(event: RoomEvent, facts: { isDirect: boolean; threadKey: string }): Promise<boolean> };
  /** A group room's reply mode: "mention" (default) or "all" (every message is answered). */
  replyModeFor?: (roomId: string) => Promise<"mention" | "all">;
  /**
   * An event whose routing failed (the homeserver or the store kept failing) is tried again in place, holding back
   * its room's later events so the order stays, with full-jitter backoff. After the last attempt it stays in the
   * journal for the next start. Defaults: 8 attempts, 500 ms rising to 30 s.
   */
  retry?: { attempts?: number; baseMs?: number; maxMs?: number };
  /** Pictures, files, voice: downloaded for the agent (src/media); without it they get the non-text notice. */
  media?: MediaIntake;
}

/**
 * Sees every routed room event in order per room (spaces, lifecycle, upgrades): all but the bot's own non-state
 * events (see isOwnTimelineEvent). Errors are logged, not thrown.
 */
export interface RoomEventObserver {
  readonly name: string;
  onEvent(event: RoomEvent): Promise<void>;
}

export class InboundRouter {
  private readonly roomChains = new Map<string, Promise<void>>();
  /** Events scheduled and not yet routed (waiting behind their room's earlier events, routing, or retrying). */
  private scheduled = 0;
  private readonly observers: RoomEventObserver[] = [];
  /** Aborted by stop(): retry waits end at once (shutdown must not wait out a backoff). */
  private readonly stopped = new AbortController();

  constructor(private readonly deps: RouterDeps) {}

  addObserver(observer: RoomEventObserver): void {
    this.observers.push(observer);
  }

  /** Journals the batch's events (throws if the store fails: the batch is then not acknowledged). */
  async onBatch(items: InboundItem[]): Promise<InboundBatchResult> {
    const hasMessage = items.some((i) => i.kind === "event" && i.event.type === "m.room.message");
    if (hasMessage) checkpoint("message-received");
    const events: RoomEvent[] = [];
    for (const item of items) {
      if (item.kind === "invite") {
        await this.deps.invites.handle(item.invite).catch((e: unknown) =>
          this.deps.log.warn({ roomId: item.invite.roomId, err: String(e) }, "invite could not be handled"));
      } else if (item.snapshot) {
        this.schedule(item.event, false); // current state, not news: room facts and observers only
      } else if (this.isStrangerTimelineEvent(item.event)) {
        if (item.event.type === "m.room.message") this.ignored(item.event, "not allowed (ALLOWED_USERS)");
      } else if (!this.isOwnTimelineEvent(item.event)) {
        events.push(item.event);
      }
    }
    const fresh = await this.deps.journal.record(events);
    if (hasMessage) checkpoint("message-journaled");
    for (const event of fresh) this.schedule(event);
    return { journaled: fresh.length };
  }

  /**
   * A stranger's (a sender outside ALLOWED_USERS) non-state event: a message, reaction, redaction, poll or encrypted
   * event. Nothing is done with it (only allowed senders are answered; the encrypted-room notice is for them too), so
   * it costs nothing: not journaled, not routed. A stranger's state events still are (room facts, observers).
   */
  private isStrangerTimelineEvent(event: RoomEvent): boolean {
    return event.state_key === undefined && event.sender !== this.deps.botUserId && !this.deps.isAllowedSender(event.sender);
  }

  /**
   * The bot's own non-state events (its answers, notices, fan-out copies) come back through the homeserver, and
   * nothing is done with them: not a turn, no room fact (those are state events), nothing for the observers
   * (they watch state events). They are neither journaled nor routed, which saves the journal's writes for
   * every message the bot sends. Own redactions still go through (they may withdraw a queued message).
   */
  private isOwnTimelineEvent(event: RoomEvent): boolean {
    return event.sender === this.deps.botUserId && event.state_key === undefined && event.type !== "m.room.redaction";
  }

  /** Processes what was journaled but not finished before the last stop. */
  async recover(): Promise<number> {
    const unfinished = await this.deps.journal.unfinished();
    for (const event of unfinished) this.schedule(event);
    if (unfinished.length > 0) this.deps.log.info({ count: unfinished.length }, "resuming unfinished events");
    return unfinished.length;
  }

  /** No more retries: waits in progress end, and a failing event stays in the journal for the next start. */
  stop(): void {
    this.stopped.abort();
  }

  /** Resolves when every scheduled event has been routed (not necessarily answered). */
  async idle(): Promise<void> {
    while (this.roomChains.size > 0) await Promise.allSettled([...this.roomChains.values()]);
  }

  /** Events scheduled and not yet routed (the idle and work_in_flight metrics). */
  pendingCount(): number {
    return this.scheduled;
  }

  private schedule(event: RoomEvent, journaled = true): void {
    this.scheduled += 1;
    const previous = this.roomChains.get(event.room_id) ?? Promise.resolve();
    const next = previous.then(() => (journaled ? this.routeWithRetries(event) : this.observe(event))).catch((e: unknown) =>
      this.deps.log.error({ roomId: event.room_id, eventId: event.event_id, err: String(e) }, "event could not be routed"));
    this.roomChains.set(event.room_id, next);
    void next.finally(() => {
      this.scheduled -= 1;
      if (this.roomChains.get(event.room_id) === next) this.roomChains.delete(event.room_id);
    });
  }

  private async routeWithRetries(event: RoomEvent): Promise<void> {
    const attempts = Math.max(1, this.deps.retry?.attempts ?? 8);
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.route(event);
        return;
      } catch (e) {
        if (attempt >= attempts || this.stopped.signal.aborted) throw e;
        const waitMs = Math.max(1, fullJitterBackoff(attempt, this.deps.retry?.baseMs ?? 500, this.deps.retry?.maxMs ?? 30_000));
        this.deps.log.warn({ roomId: event.room_id, eventId: event.event_id, attempt, retryInMs: waitMs, err: String(e) },
          "event could not be routed yet; trying again");
        if (!(await sleep(waitMs, this.stopped.signal))) throw e;
      }
    }
  }

  /** Room facts and observers (spaces, lifecycle) see every event, news or state snapshot. */
  private async observe(event: RoomEvent): Promise<void> {
    this.deps.directory.observe(event);
    for (const observer of this.observers) {
      await observer.onEvent(event).catch((e: unknown) =>
        this.deps.log.error({ roomId: event.room_id, observer: observer.name, err: String(e) }, "room event observer failed"));
    }
  }

  private async route(event: RoomEvent): Promise<void> {
    await this.observe(event);
    if (event.type === "m.room.encrypted" && event.sender !== this.deps.botUserId && this.deps.isAllowedSender(event.sender)
      && (await this.deps.directory.isJoined(event.room_id))) {
      await this.deps.encryptedNotice.onUnreadable(event.room_id);
    }
    if (event.type === "m.room.redaction" && typeof (event.redacts ?? event.content["redacts"]) === "string") {
      const redacted = String(event.redacts ?? event.content["redacts"]);
      const withdrawn = this.deps.pipeline.withdraw(event.room_id, redacted);
      if (withdrawn) {
        this.deps.log.info({ roomId: event.room_id, eventId: redacted }, "a queued message was redacted; it will not be answered");
        await this.deps.journal.complete(event.room_id, redacted);
      }
    }
    const turn = event.type === "m.room.message" ? await this.toTurn(event) : undefined;
    if (turn === undefined) {
      await this.deps.journal.complete(event.room_id, event.event_id);
      return;
    }
    if ("notice" in turn) {
      const startedAt = Date.now();
      const target = await this.target(event, undefined, "");
      await TurnRun.notify(this.deps, target, turn.notice, turn.part);
      await this.deps.journal.complete(event.room_id, event.event_id);
      this.deps.log.info({ roomId: event.room_id, threadKey: target.threadKey, eventId: event.event_id,
        outcome: turn.part === "media" ? "media_notice" : "non_text",
        ms: Date.now() - startedAt }, "message handled");
      return;
    }
    this.deps.pipeline.submit(turn);
  }

  private async toTurn(event: RoomEvent): Promise<TurnMessage | { notice: string; part: string } | undefined> {
    const { botUserId, directory, log } = this.deps;
    if (event.sender === botUserId) return this.ignored(event, "own event");
    if (!this.deps.isAllowedSender(event.sender)) return this.ignored(event, "not allowed (ALLOWED_USERS)");
    if (!(await directory.isJoined(event.room_id))) return this.ignored(event, "not joined");
    const isDirect = await directory.isDirect(event.room_id);
    if (this.deps.commands) {
      const relation = relationOf(event);
      const threadKey = await this.deps.threadKeyFor(event.room_id, relation.relType === "m.thread" ? relation.eventId : undefined);
      if (await this.deps.commands.handle(event, { isDirect, threadKey })) return this.ignored(event, "command"); // never sent to the agent
    }
    const replyTo = relationOf(event).inReplyTo;
    const replied = replyTo !== undefined && relationOf(event).relType !== "m.thread"
      ? await this.deps.fetchEvent(event.room_id, replyTo) : undefined;
    const roomName = isDirect ? undefined : await directory.displayName(event.room_id, botUserId);
    const classified = classifyMessage(event, {
      botUserId, isDirect, ...(this.deps.botDisplayName ? { botDisplayName: this.deps.botDisplayName } : {}),
      ...(roomName ? { botRoomDisplayName: roomName } : {}),
      ...(replied ? { repliedToSender: replied.sender } : {}),
    });
    if (classified.kind === "ignore") return this.ignored(event, classified.reason);
    // Locations, polls and the like: a notice when addressed. Attachments: passed on (src/media), or told why not;
    // in "all" mode an unaddressed one the agent cannot read is not a question.
    const nonText = { notice: FAILURE_TEXTS.non_text, part: "non-text" };
    if (classified.kind === "non_text" || (classified.kind === "media" && !this.deps.media)) {
      return classified.addressed ? nonText : this.ignored(event, "not addressed (not text)");
    }
    const answerAll = !isDirect && (await this.deps.replyModeFor?.(event.room_id)) === "all";
    if (!classified.addressed && !answerAll) return this.ignored(event, "not addressed");
    const media = classified.kind === "media" && this.deps.media
      ? await mediaForTurn(this.deps.media, event, classified.addressed, log, this.stopped.signal) : undefined;
    if (media && "notice" in media) return { notice: media.notice, part: "media" };
    if (classified.kind === "media" && !media) return this.ignored(event, "not addressed (attachment the agent cannot read)");
    const text = classified.kind === "media" ? classified.caption ?? "" : classified.text;
    const target = await this.target(event, classified.threadRootId, text, isDirect);
    const quoted = typeof replied?.content["body"] === "string" ? replied.content["body"] : undefined;
    return { ...target, ...(quoted ? { inReplyTo: quoted } : {}), ...(media ? { media: media.media } : {}) };
  }

  /** One debug line per message the agent does not get, with the reason (never its text or a display name). */
  private ignored(event: RoomEvent, reason: string): undefined {
    this.deps.log.debug({ roomId: event.room_id, eventId: event.event_id, sender: event.sender, reason }, "message not answered");
    return undefined;
  }

  private async target(event: RoomEvent, threadRootId: string | undefined, text: string, isDirect?: boolean): Promise<TurnMessage> {
    const direct = isDirect ?? (await this.deps.directory.isDirect(event.room_id));
    const senderName = await this.deps.directory.displayName(event.room_id, event.sender);
    return {
      roomId: event.room_id, eventId: event.event_id, sender: event.sender, isDirect: direct, text,
      threadKey: await this.deps.threadKeyFor(event.room_id, threadRootId),
      ...(threadRootId ? { threadRootId } : {}), ...(senderName ? { senderName } : {}),
    };
  }
}
