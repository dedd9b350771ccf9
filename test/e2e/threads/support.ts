// What a person sees of the bot in a room's Matrix threads, read from the homeserver double as a client reads them:
// the bot's messages with their edits applied (test/support/bot-messages.ts), redacted ones gone, and which thread
// (m.thread relation) each one is in.
import { botMessagesIn } from "../../support/bot-messages";
import type { ClientEvent } from "../../support/homeserver/types";
import type { Scenario } from "../../support/scenario";

export const ECHO = (text: string): string => `You said: ${text}`;

/** The thread root an event is in (its m.thread relation), or undefined in the main timeline. */
export function threadOf(event: ClientEvent): string | undefined {
  const relation = event.content["m.relates_to"] as { rel_type?: unknown; event_id?: unknown } | undefined;
  return relation?.rel_type === "m.thread" && typeof relation.event_id === "string" ? relation.event_id : undefined;
}

/** The event an event replies to (m.in_reply_to), if any. */
export function replyOf(event: ClientEvent): string | undefined {
  const relation = event.content["m.relates_to"] as { "m.in_reply_to"?: { event_id?: unknown } } | undefined;
  const id = relation?.["m.in_reply_to"]?.event_id;
  return typeof id === "string" ? id : undefined;
}

/** Whether the homeserver redacted the event (its content stripped, `unsigned.redacted_because` set). */
export function isRedacted(event: ClientEvent): boolean {
  return event.unsigned?.["redacted_because"] !== undefined;
}

/** The bot's messages as a client shows them: edits applied, redacted ones left out. */
export function visibleBotMessages(s: Scenario, roomId: string): ClientEvent[] {
  const redacted = new Set(s.hs.timeline(roomId).filter(isRedacted).map((e) => e.event_id));
  return botMessagesIn(s.hs, roomId, s.botUserId).filter((m) => !redacted.has(m.event_id));
}

/** The bodies of the bot's visible messages in one thread (undefined root: the main timeline). */
export function botBodiesIn(s: Scenario, roomId: string, root: string | undefined): string[] {
  return visibleBotMessages(s, roomId).filter((m) => threadOf(m) === root).map((m) => String(m.content["body"]));
}

/** Waits until the bot shows `body` in the thread (or main timeline), and returns that message. */
export async function waitBotSays(s: Scenario, roomId: string, root: string | undefined, body: string | RegExp): Promise<ClientEvent> {
  return s.hs.waitFor(() => visibleBotMessages(s, roomId).find((m) => threadOf(m) === root
    && (typeof body === "string" ? m.content["body"] === body : body.test(String(m.content["body"])))),
  { what: `the bot to say ${String(body)} ${root ? `in thread ${root}` : "in the main timeline"}`, timeoutMs: 15_000 });
}

/** Mention content for the bot (a pill), as Element sends it. */
export function mention(s: Scenario, text: string): Record<string, unknown> {
  return {
    body: `Agent Bot: ${text}`, format: "org.matrix.custom.html",
    formatted_body: `<a href="https://matrix.to/#/${s.botUserId}">Agent Bot</a>: ${text}`, "m.mentions": { user_ids: [s.botUserId] },
  };
}
