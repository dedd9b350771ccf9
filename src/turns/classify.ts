// Decides what an inbound room message is for the bot: ignored, a turn for the agent, or a non-text message.
// Pure: everything it needs about the room comes in `room`.
import type { RoomEvent } from "../matrix/events";
import { isMediaMsgtype } from "../media/attachment";

export interface RoomFacts {
  botUserId: string;
  botDisplayName?: string;
  /** The bot's display name in this room (what people see and type), when it differs from the configured one. */
  botRoomDisplayName?: string;
  isDirect: boolean;
  /** The sender of the replied-to event, when the message is a reply and it is known. */
  repliedToSender?: string;
}

export type Classified =
  | { kind: "ignore"; reason: string }
  | { kind: "text"; text: string; addressed: boolean; threadRootId?: string; replyToEventId?: string }
  | { kind: "non_text"; addressed: boolean; threadRootId?: string }
  /** m.image, m.file, m.audio, m.video: `caption` is MSC2530's (a body that differs from the filename). */
  | { kind: "media"; addressed: boolean; caption?: string; threadRootId?: string; replyToEventId?: string };

const TEXT_TYPES = new Set(["m.text", "m.emote"]);

export function relationOf(event: RoomEvent): { relType?: string; eventId?: string; inReplyTo?: string } {
  const rel = event.content["m.relates_to"];
  if (typeof rel !== "object" || rel === null) return {};
  const r = rel as Record<string, unknown>;
  const reply = r["m.in_reply_to"] as { event_id?: unknown } | undefined;
  return {
    relType: typeof r["rel_type"] === "string" ? r["rel_type"] : undefined,
    eventId: asEventId(r["event_id"]),
    inReplyTo: asEventId(reply?.event_id),
  };
}

/** A related event's id, when it is one ("$…", at most 255 characters, well-formed): anyone can send any JSON there. */
function asEventId(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 1 && value.length <= 255 && value.startsWith("$") && !/\p{Cs}/u.test(value)
    ? value : undefined;
}

/** Removes the legacy reply fallback (leading "> " lines and the blank line after them). */
export function stripReplyFallback(body: string): string {
  const lines = body.split("\n");
  let i = 0;
  while (i < lines.length && (lines[i] ?? "").startsWith(">")) i++;
  if (i === 0) return body;
  if (i < lines.length && (lines[i] ?? "") === "") i++;
  return lines.slice(i).join("\n");
}

export function isMentioned(event: RoomEvent, text: string, facts: RoomFacts): boolean {
  const mentions = event.content["m.mentions"] as { user_ids?: unknown } | undefined;
  if (Array.isArray(mentions?.user_ids) && mentions.user_ids.includes(facts.botUserId)) return true;
  const html = event.content["formatted_body"];
  if (typeof html === "string" && html.includes(`https://matrix.to/#/${facts.botUserId}`)) return true;
  if (typeof html === "string" && html.includes(`https://matrix.to/#/${encodeURIComponent(facts.botUserId)}`)) return true;
  const start = text.trimStart().toLowerCase();
  const localpart = facts.botUserId.slice(1).split(":")[0]?.toLowerCase() ?? "";
  const names = [facts.botUserId.toLowerCase(), localpart, facts.botDisplayName?.toLowerCase(), facts.botRoomDisplayName?.toLowerCase()].filter(
    (n): n is string => n !== undefined && n.length > 0);
  return names.some((n) => start.startsWith(n) && /^($|[\s:,])/.test(start.slice(n.length)));
}

export function classifyMessage(event: RoomEvent, facts: RoomFacts): Classified {
  if (event.sender === facts.botUserId) return { kind: "ignore", reason: "own event" };
  if (event.type !== "m.room.message") return { kind: "ignore", reason: "not a message" };
  if (event.unsigned?.["redacted_because"] !== undefined || Object.keys(event.content).length === 0) {
    return { kind: "ignore", reason: "redacted" };
  }
  const msgtype = event.content["msgtype"];
  if (msgtype === "m.notice") return { kind: "ignore", reason: "notice" };
  const relation = relationOf(event);
  if (relation.relType === "m.replace") return { kind: "ignore", reason: "edit" };
  const threadRootId = relation.relType === "m.thread" ? relation.eventId : undefined;
  const repliedToBot = facts.repliedToSender === facts.botUserId;
  if (isMediaMsgtype(msgtype)) {
    const { body, filename } = event.content;
    const caption = typeof body === "string" && typeof filename === "string" && body !== filename && body.trim() !== "" ? body : undefined;
    const addressed = facts.isDirect || repliedToBot || isMentioned(event, caption ?? "", facts);
    return {
      kind: "media", addressed, ...(caption !== undefined ? { caption } : {}), ...(threadRootId ? { threadRootId } : {}),
      ...(relation.inReplyTo ? { replyToEventId: relation.inReplyTo } : {}),
    };
  }
  if (typeof msgtype !== "string" || !TEXT_TYPES.has(msgtype) || typeof event.content["body"] !== "string") {
    const addressed = facts.isDirect || repliedToBot || isMentioned(event, "", facts);
    return { kind: "non_text", addressed, ...(threadRootId ? { threadRootId } : {}) };
  }
  const text = relation.inReplyTo ? stripReplyFallback(event.content["body"]) : event.content["body"];
  const addressed = facts.isDirect || repliedToBot || isMentioned(event, text, facts);
  return {
    kind: "text", text, addressed,
    ...(threadRootId ? { threadRootId } : {}),
    ...(relation.inReplyTo ? { replyToEventId: relation.inReplyTo } : {}),
  };
}
