// Between the Matrix connection and the work: invites handled, events journaled before the batch is
// acknowledged, then processed in order per room (rooms in parallel): room facts updated, messages
// classified and handed to the turn pipeline, everything else marked done.
import type { Logger } from "pino";
import type { InboundBatchOptions, InboundBatchResult, InboundItem, RoomEvent } from "./matrix/events";
import type { Journal } from "./matrix/journal";
import type { RoomDirectory } from "./matrix/room-directory";
import type { InviteHandler } from "./rooms/invites";
import { classifyMessage, relationOf } from "./turns/classify";
import { FAILURE_TEXTS } from "./turns/failure-text";
import type { ConversationChanges } from "./turns/changes";
import type { ThreadFollowing } from "./turns/thread-following";
import { TurnRun } from "./turns/turn-run";
import type { TurnMessage, TurnPipeline } from "./turns/pipeline";
import type { RoomMessageSender } from "./matrix/sender";
import type { MediaIntake } from "./media/intake";
import { mediaForTurn } from "./media/turn-media";
import { checkpoint } from "./util/checkpoints";
import { fullJitterBackoff, sleep } from "./util/timers";

/** A notice instead of an answer (non-text input, an attachment the agent cannot take), in the message's thread. */
type Notice = { notice: string; part: string; threadRootId?: string };
/** A thread key looked up while routing a message, for the thread root it was asked for. */
type KnownThreadKey = { root: string | undefined; key: string };

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
  /** An allowed user's encrypted event the bot could not read (src/rooms/undecryptable): the clear event if it reads now. */
  encryptedNotice: { onUnreadable(event: RoomEvent): Promise<RoomEvent | undefined> };
  /** Commands (`/x`, `!x`, `@bot x`) are handled here and never reach the agent. */
  commands?: { handle(event: RoomEvent, facts: { isDirect: boolean; threadKey: string }): Promise<boolean> };
  /** A group room's reply mode: "mention" (default) or "all" (every message is answered). */
  replyModeFor?: (roomId: string) => Promise<"mention" | "all">;
  /** Edits and redactions of questions (src/turns/changes.ts); absent: both are ignored. */
  changes?: Pick<ConversationChanges, "edit" | "redaction">;
  /** Group rooms: threads the bot was asked in address it for their later messages (the room's /threads setting). */
  threads?: Pick<ThreadFollowing, "addresses" | "asked">;
  /**
   * An event whose routing failed (the homeserver or the store kept failing) is tried again in place, holding back
   * its room's later events so the order stays, with full-jitter backoff. After the last attempt it stays in the
   * journal for the next start. Defaults: 8 attempts, 500 ms rising to 30 s.
   */
  retry?: { attempts?: number; baseMs?: number; maxMs?: number };
  /** Pictures, files, voice: downloaded for the agent (src/media); without it they get the non-text notice. */
  media?: MediaIntake;
  /** Answers to pending prompts (src/interrupts/): reactions, votes, replies, !approve/!deny, free text. */
  interrupts?: { onEvent(event: RoomEvent): Promise<boolean> };
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
  async onBatch(items: InboundItem[], opts?: InboundBatchOptions): Promise<InboundBatchResult> {
    const hasMessage = items.some((i) => i.kind === "event" && i.event.type === "m.room.message");
    if (hasMessage) checkpoint("message-received");
    const events: RoomEvent[] = [];
    for (const item of items) {
      if (item.kind === "invite") {
        await this.deps.invites.handle(item.invite).catch((e: unknown) =>
          this.deps.log.warn({ roomId: item.invite.roomId, err: String(e) }, "invite could not be handled"));
      } else if (item.snapshot || this.isOwnInviteDeclined(item.event)) {
        this.schedule(item.event, "observe"); // room facts and observers only, nothing to journal
      } else if (this.isStrangerTimelineEvent(item.event)) {
        if (item.event.type === "m.room.message") this.ignored(item.event, "not allowed (ALLOWED_USERS)");
        // A moderator outside ALLOWED_USERS may redact an allowed user's question: the homeserver accepted it, so it
        // counts. Like a room fact it is acted on and not journaled (a stranger's events cost no store write).
        if (item.event.type === "m.room.redaction") this.schedule(item.event, "redaction");
      } else if (!this.isOwnTimelineEvent(item.event)) {
        events.push(item.event);
      }
    }
    const fresh = await this.deps.journal.record(events, opts?.alongside);
    if (hasMessage) checkpoint("message-journaled");
    for (const event of fresh) this.schedule(event, "route", true);
    return { journaled: fresh.length };
  }

  /**
   * A stranger's (a sender outside ALLOWED_USERS) non-state event: a message, reaction, redaction, poll or encrypted
   * event. It is not journaled and not routed (only allowed senders are answered; the encrypted-room notice is for them
   * too), so it costs nothing; only a redaction is acted on (see onBatch). A stranger's state events still are routed
   * (room facts, observers).
   */
  private isStrangerTimelineEvent(event: RoomEvent): boolean {
    return event.state_key === undefined && event.sender !== this.deps.botUserId && !this.deps.isAllowedSender(event.sender);
  }

  /**
   * The bot's own leave from a room it was only invited to: how it declines an invite (from someone outside
   * ALLOWED_USERS). Room facts and observers see it; there is nothing to do, so it is not journaled either, and a
   * declined invite costs the store nothing.
   */
  private isOwnInviteDeclined(event: RoomEvent): boolean {
    const before = event.unsigned?.["prev_content"];
    return event.type === "m.room.member" && event.sender === this.deps.botUserId && event.state_key === this.deps.botUserId
      && event.content["membership"] === "leave" && typeof before === "object" && before !== null
      && (before as Record<string, unknown>)["membership"] === "invite";
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
    // First: a run cut short runs again with the turns it had, and the turns of a run that settled are marked handled
    // (run-batches.ts), so that the journal no longer lists them.
    await this.deps.pipeline.loadRecordedBatches();
    const unfinished = await this.deps.journal.unfinished();
    for (const event of unfinished) this.schedule(event);
    for (const roomId of new Set(unfinished.map((e) => e.room_id))) {
      this.inRoomOrder(roomId, undefined, async () => this.deps.pipeline.recoveryRouted(roomId));
    }
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

  /**
   * Queues an event behind its room's earlier ones: routed (journaled), observed (state snapshot), or a stranger's
   * redaction. `fresh`: journal.record() just handed it out (no process ran a turn for it before: TurnMessage.fresh).
   */
  private schedule(event: RoomEvent, how: "route" | "observe" | "redaction" = "route", fresh = false): void {
    this.inRoomOrder(event.room_id, event.event_id, () => how === "route" ? this.routeWithRetries(event, fresh)
      : how === "observe" ? this.observe(event) : this.deps.changes?.redaction(event) ?? Promise.resolve());
  }

  /**
   * Runs `work` behind the room's earlier events; the event it returns (reopened in the journal: a message read late)
   * is routed then, like a new one.
   */
  routeLater(roomId: string, work: () => Promise<RoomEvent | undefined>): void {
    this.inRoomOrder(roomId, undefined, async () => {
      const event = await work();
      if (event) await this.routeWithRetries(event);
    });
  }

  private inRoomOrder(roomId: string, eventId: string | undefined, work: () => Promise<void>): void {
    this.scheduled += 1;
    const previous = this.roomChains.get(roomId) ?? Promise.resolve();
    const next = previous.then(work).catch((e: unknown) =>
      this.deps.log.error({ roomId, eventId, err: String(e) }, "event could not be routed"));
    this.roomChains.set(roomId, next);
    void next.finally(() => {
      this.scheduled -= 1;
      if (this.roomChains.get(roomId) === next) this.roomChains.delete(roomId);
    });
  }

  private async routeWithRetries(event: RoomEvent, fresh = false): Promise<void> {
    const attempts = Math.max(1, this.deps.retry?.attempts ?? 8);
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.route(event, fresh);
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

  private async route(received: RoomEvent, fresh: boolean): Promise<void> {
    await this.observe(received);
    let event = received;
    if (event.type === "m.room.encrypted" && event.sender !== this.deps.botUserId && this.deps.isAllowedSender(event.sender)
      && (await this.deps.directory.isJoined(event.room_id))) {
      event = (await this.deps.encryptedNotice.onUnreadable(event)) ?? event; // readable now: its key came meanwhile
    }
    if (event.type === "m.room.redaction") await this.deps.changes?.redaction(event);
    if (this.deps.interrupts && event.sender !== this.deps.botUserId && this.deps.isAllowedSender(event.sender)
      && (await this.deps.interrupts.onEvent(event))) {
      await this.deps.journal.complete(event.room_id, event.event_id); // an answer: never a turn or a command
      return;
    }
    const turn = event.type === "m.room.message" ? await this.messageTurn(event) : undefined;
    if (turn === "taken") return; // an edit the turns took in: they settle it
    if (turn === undefined) {
      await this.deps.journal.complete(event.room_id, event.event_id);
      return;
    }
    if ("notice" in turn) {
      const startedAt = Date.now();
      const target = await this.target(event, turn.threadRootId, "");
      await TurnRun.notify(this.deps, target, turn.notice, turn.part);
      await this.deps.journal.complete(event.room_id, event.event_id);
      this.deps.log.info({ roomId: event.room_id, threadKey: target.threadKey, eventId: event.event_id,
        outcome: turn.part === "media" ? "media_notice" : "non_text",
        ms: Date.now() - startedAt }, "message handled");
      return;
    }
    if (fresh && turn.eventId === received.event_id && turn.editId === undefined) turn.fresh = true;
    this.deps.pipeline.submit(turn);
  }

  /** A message as a turn; an edit (m.replace) through the changes (it may change a turn, or ask anew). */
  private async messageTurn(event: RoomEvent): Promise<TurnMessage | Notice | "taken" | undefined> {
    if (relationOf(event).relType !== "m.replace") return this.toTurn(event, true);
    if (!this.deps.changes || event.sender === this.deps.botUserId || !this.deps.isAllowedSender(event.sender)) {
      return this.ignored(event, "edit");
    }
    const result = await this.deps.changes.edit(event, async (edited) => {
      const turn = await this.toTurn(edited, false);
      return turn && !("notice" in turn) ? turn : undefined;
    });
    if (result.kind === "ignored") return this.ignored(event, `edit: ${result.why}`);
    return result.kind === "submit" ? result.turn : "taken";
  }

  /** `commands`: whether a command in it is run (an edited message never runs one). */
  private async toTurn(event: RoomEvent, commands: boolean): Promise<TurnMessage | Notice | undefined> {
    const { botUserId, directory, log } = this.deps;
    if (event.sender === botUserId) return this.ignored(event, "own event");
    if (!this.deps.isAllowedSender(event.sender)) return this.ignored(event, "not allowed (ALLOWED_USERS)");
    if (!(await directory.isJoined(event.room_id))) return this.ignored(event, "not joined");
    const isDirect = await directory.isDirect(event.room_id);
    const relation = relationOf(event);
    let known: KnownThreadKey | undefined; // the thread key the command check looked up: the turn's too, in the same thread
    if (this.deps.commands && commands) {
      const root = relation.relType === "m.thread" ? relation.eventId : undefined;
      known = { root, key: await this.deps.threadKeyFor(event.room_id, root) };
      if (await this.deps.commands.handle(event, { isDirect, threadKey: known.key })) return this.ignored(event, "command"); // never sent to the agent
    }
    const replyTo = relation.inReplyTo;
    const replied = replyTo !== undefined && relation.relType !== "m.thread"
      ? await this.deps.fetchEvent(event.room_id, replyTo) : undefined;
    const roomName = isDirect ? undefined : await directory.displayName(event.room_id, botUserId);
    const classified = classifyMessage(event, {
      botUserId, isDirect, ...(this.deps.botDisplayName ? { botDisplayName: this.deps.botDisplayName } : {}),
      ...(roomName ? { botRoomDisplayName: roomName } : {}),
      ...(replied ? { repliedToSender: replied.sender } : {}),
    });
    if (classified.kind === "ignore") return this.ignored(event, classified.reason);
    // Locations, polls and the like: a notice when addressed. Attachments: passed on (src/media), or told why not;
    // in "all" mode an unaddressed one the agent cannot read is not a question. Notices go in the message's thread.
    const root = classified.threadRootId;
    const inThread = root !== undefined ? { threadRootId: root } : {};
    const nonText = { notice: FAILURE_TEXTS.non_text, part: "non-text", ...inThread };
    if (classified.kind === "non_text" || (classified.kind === "media" && !this.deps.media)) {
      return classified.addressed ? nonText : this.ignored(event, "not addressed (not text)");
    }
    const answerAll = !isDirect && (await this.deps.replyModeFor?.(event.room_id)) === "all";
    const inGroupThread = !isDirect && root !== undefined;
    if (!classified.addressed && !answerAll && !(inGroupThread && (await this.deps.threads?.addresses(event.room_id, root)))) {
      return this.ignored(event, "not addressed");
    }
    const media = classified.kind === "media" && this.deps.media
      ? await mediaForTurn(this.deps.media, event, classified.addressed, log, this.stopped.signal) : undefined;
    if (media && "notice" in media) return { notice: media.notice, part: "media", ...inThread };
    if (classified.kind === "media" && !media) return this.ignored(event, "not addressed (attachment the agent cannot read)");
    if (inGroupThread) await this.deps.threads?.asked(event.room_id, root);
    const text = classified.kind === "media" ? classified.caption ?? "" : classified.text;
    const target = await this.target(event, classified.threadRootId, text, isDirect, known);
    const quoted = typeof replied?.content["body"] === "string" ? replied.content["body"] : undefined;
    return { ...target, ...(quoted ? { inReplyTo: quoted } : {}), ...(media ? { media: media.media } : {}) };
  }

  /** One debug line per message the agent does not get, with the reason (never its text or a display name). */
  private ignored(event: RoomEvent, reason: string): undefined {
    this.deps.log.debug({ roomId: event.room_id, eventId: event.event_id, sender: event.sender, reason }, "message not answered");
    return undefined;
  }

  private async target(event: RoomEvent, threadRootId: string | undefined, text: string, isDirect?: boolean,
    known?: KnownThreadKey): Promise<TurnMessage> {
    const direct = isDirect ?? (await this.deps.directory.isDirect(event.room_id));
    const senderName = await this.deps.directory.displayName(event.room_id, event.sender);
    return {
      roomId: event.room_id, eventId: event.event_id, sender: event.sender, isDirect: direct, text,
      threadKey: known !== undefined && known.root === threadRootId ? known.key : await this.deps.threadKeyFor(event.room_id, threadRootId),
      ...(threadRootId ? { threadRootId } : {}), ...(senderName ? { senderName } : {}),
    };
  }
}
