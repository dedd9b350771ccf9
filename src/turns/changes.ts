// Edits (m.replace) and redactions of questions, as people make them:
// - an edit of a question still waiting or being answered: the turn takes the new text (a run in flight is cancelled
//   and runs again, editing what it had posted);
// - an edit of the last question answered in its conversation, within EDIT_REANSWER_MS of the answer and while nothing
//   newer was asked there: answered again, the new answer edited into the old one (the agent is told which message
//   the new text replaces);
// - an edit that makes a recent unanswered message address the bot: answered like a new question;
// - edits by anyone but the question's sender, edits into a command, and edits of older questions are ignored;
// - a redaction of a question still waiting: dropped; being answered: the run is cancelled and what it posted is
//   redacted; answered already: the bot's messages of that answer are redacted.
import type { Logger } from "pino";
import type { RoomEvent } from "../matrix/events";
import type { RoomMessageSender } from "../matrix/sender";
import { retire } from "../render/takeover";
import type { RoomMemory } from "../rooms/room-memory";
import { relationOf } from "./classify";
import type { ChangeOutcome, TurnPipeline } from "./pipeline";
import { journalIdsOf, txnIdFor, type TurnMessage } from "./turn-run";

export interface ChangesDeps {
  pipeline: Pick<TurnPipeline, "redacted" | "revised" | "isIdle">;
  memory: Pick<RoomMemory, "answerTo" | "isLastOfItsThread" | "forgetAnswer">;
  /** Redactions of the bot's messages go through it (the outbox). */
  sender: Pick<RoomMessageSender, "sendEvent">;
  /** Marks an event handled in the journal. */
  complete(roomId: string, eventId: string): Promise<void>;
  threadKeyFor(roomId: string, threadRootId: string | undefined): Promise<string>;
  directory: { isDirect(roomId: string): Promise<boolean>; displayName(roomId: string, userId: string): Promise<string | undefined> };
  fetchEvent(roomId: string, eventId: string): Promise<RoomEvent | undefined>;
  /** Whether a message's content is a command typed with its prefix (an edit into one is ignored). */
  isCommand?(event: RoomEvent): boolean;
  /** EDIT_REANSWER_MS: how soon after its answer (or, unanswered, after it was sent) an edit of a question counts. */
  reanswerWithinMs: number;
  log: Logger;
  now?: () => number;
}

/** An edit event's target and new text; undefined when the event is no edit of a text message. */
export function editOf(event: RoomEvent): { original: string; text: string; newContent: Record<string, unknown> } | undefined {
  const relation = relationOf(event);
  if (relation.relType !== "m.replace" || relation.eventId === undefined) return undefined;
  const raw = event.content["m.new_content"];
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return undefined;
  const newContent = raw as Record<string, unknown>;
  const msgtype = newContent["msgtype"];
  if ((msgtype !== "m.text" && msgtype !== "m.emote") || typeof newContent["body"] !== "string") return undefined;
  return { original: relation.eventId, text: newContent["body"], newContent };
}

/** What became of an edit: it went into the turns (they settle its journal entry), or it was ignored. */
export type EditResult = { kind: "taken" } | { kind: "submit"; turn: TurnMessage } | { kind: "ignored"; why: string };

export class ConversationChanges {
  constructor(private readonly deps: ChangesDeps) {}

  /** A redaction (by anyone: the homeserver accepted it) of a message that may be a question. */
  async redaction(event: RoomEvent): Promise<void> {
    const raw = event.redacts ?? event.content["redacts"];
    if (typeof raw !== "string") return;
    const roomId = event.room_id;
    const outcome = await this.deps.pipeline.redacted(roomId, raw, event.event_id);
    if (outcome.kind === "waiting") {
      this.deps.log.info({ roomId, eventId: raw }, "a queued message was redacted; it will not be answered");
      for (const dropped of outcome.dropped) for (const id of journalIdsOf(dropped)) await this.deps.complete(roomId, id);
    }
    // Answered before (also a question redacted while its second answer waited or ran): that answer goes.
    const entry = await this.deps.memory.answerTo(roomId, raw);
    if (!entry) return;
    if (outcome.kind !== "running") {
      this.deps.log.info({ roomId, eventId: raw, messages: entry.events.length }, "an answered question was redacted; its answer is redacted too");
      await retire(this.deps.sender, this.deps.log, roomId, entry.events, txnIdFor(event.event_id, roomId, "retired"), "redacted");
    }
    await this.deps.memory.forgetAnswer(roomId, raw);
  }

  /** An edit (m.replace) by an allowed user. `asQuestion` turns the edited message into a turn if it addresses the bot. */
  async edit(event: RoomEvent, asQuestion: (edited: RoomEvent) => Promise<TurnMessage | undefined>): Promise<EditResult> {
    const edit = editOf(event);
    if (!edit) return { kind: "ignored", why: "not an edit of a text message" };
    const roomId = event.room_id;
    const newVersion: RoomEvent = { ...event, content: edit.newContent };
    if (this.deps.isCommand?.(newVersion)) return { kind: "ignored", why: "edited into a command" };
    const outcome: ChangeOutcome = await this.deps.pipeline.revised(roomId, edit.original, { editId: event.event_id, sender: event.sender, text: edit.text });
    if (outcome.kind === "waiting" || outcome.kind === "running") {
      this.deps.log.info({ roomId, eventId: edit.original, running: outcome.kind === "running" }, "a question not yet answered was edited; the new text is answered");
      return { kind: "taken" };
    }
    if (outcome.kind === "not_sender") return { kind: "ignored", why: "edited by someone else" };
    const entry = await this.deps.memory.answerTo(roomId, edit.original);
    if (entry) return this.reanswer(event, edit.original, edit.text, entry);
    return this.firstAsked(event, edit.original, edit.newContent, asQuestion);
  }

  private async reanswer(event: RoomEvent, original: string, text: string,
    entry: NonNullable<Awaited<ReturnType<ChangesDeps["memory"]["answerTo"]>>>): Promise<EditResult> {
    const roomId = event.room_id;
    if (entry.senders[entry.questions.indexOf(original)] !== event.sender) return { kind: "ignored", why: "edited by someone else" };
    if (!this.within(entry.at)) return { kind: "ignored", why: "answered longer ago than EDIT_REANSWER_MS" };
    const threadKey = await this.deps.threadKeyFor(roomId, entry.root);
    if (!(await this.deps.memory.isLastOfItsThread(roomId, entry)) || !this.deps.pipeline.isIdle(threadKey)) {
      return { kind: "ignored", why: "a newer question was asked since" };
    }
    const senderName = await this.deps.directory.displayName(roomId, event.sender);
    this.deps.log.info({ roomId, eventId: original }, "an answered question was edited; answering it again");
    return { kind: "submit", turn: {
      roomId, eventId: original, sender: event.sender, isDirect: await this.deps.directory.isDirect(roomId), threadKey, text,
      editId: event.event_id, replaces: true, previousAnswer: entry.events,
      ...(entry.root ? { threadRootId: entry.root } : {}), ...(senderName ? { senderName } : {}),
    } };
  }

  /** A message never answered, edited soon after it was sent: a question now if the new version addresses the bot. */
  private async firstAsked(event: RoomEvent, original: string, newContent: Record<string, unknown>,
    asQuestion: (edited: RoomEvent) => Promise<TurnMessage | undefined>): Promise<EditResult> {
    const before = await this.deps.fetchEvent(event.room_id, original);
    if (!before || before.sender !== event.sender) return { kind: "ignored", why: "edited by someone else, or not readable" };
    if (before.unsigned?.["redacted_because"] !== undefined) return { kind: "ignored", why: "the message was redacted" };
    if (!this.within(before.origin_server_ts ?? 0)) return { kind: "ignored", why: "sent longer ago than EDIT_REANSWER_MS" };
    // The new content in the original's place: its relation (thread, reply) is the original's.
    const relation = before.content["m.relates_to"];
    const turn = await asQuestion({ ...before, content: { ...newContent, ...(relation !== undefined ? { "m.relates_to": relation } : {}) } });
    return turn ? { kind: "submit", turn: { ...turn, editId: event.event_id } } : { kind: "ignored", why: "not addressed to the bot" };
  }

  /** Whether `at` is within EDIT_REANSWER_MS of now (0: never). */
  private within(at: number): boolean {
    return this.deps.reanswerWithinMs > 0 && (this.deps.now ?? Date.now)() - at <= this.deps.reanswerWithinMs;
  }
}
