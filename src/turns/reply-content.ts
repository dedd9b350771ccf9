// Builds the Matrix contents of an answer: formatted, split, with explicit m.mentions and the right relation
// (a reply in group rooms, plain in DMs, in-thread inside a Matrix thread).
import { buildMessageContents, mentionsFor } from "../matrix/format";

export interface ReplyTarget {
  roomId: string;
  /** The event being answered (the last of the batch). */
  eventId: string;
  sender: string;
  isDirect: boolean;
  threadRootId?: string;
}

type Content = Record<string, unknown>;

export function relationFor(target: ReplyTarget): Content | undefined {
  if (target.threadRootId !== undefined) {
    return { rel_type: "m.thread", event_id: target.threadRootId, is_falling_back: true,
      "m.in_reply_to": { event_id: target.eventId } };
  }
  if (!target.isDirect) return { "m.in_reply_to": { event_id: target.eventId } };
  return undefined;
}

/** The contents of one agent message: several when it must be split; only the first carries the reply. */
export function answerContents(text: string, target: ReplyTarget, msgtype: "m.text" | "m.notice" = "m.text",
  opts: { forEdit?: boolean } = {}): Content[] {
  // An edit carries its content twice (fallback body and m.new_content): parts meant for one get half the room.
  const parts = buildMessageContents(text, { msgtype, ...(opts.forEdit ? { maxEventBytes: 30_000 } : {}) });
  const mentions = mentionsFor({ userIds: target.isDirect ? [] : [target.sender] });
  return parts.map((part, i) => {
    const content: Content = { ...part, "m.mentions": i === 0 ? mentions : { user_ids: [] } };
    const relation = i === 0 || target.threadRootId !== undefined ? relationFor(target) : undefined;
    if (relation) content["m.relates_to"] = relation;
    return content;
  });
}

/** An edit (m.replace) of `originalEventId` into `newContent`. */
export function editContent(originalEventId: string, newContent: Content): Content {
  const { "m.relates_to": _relation, ...inner } = newContent;
  return {
    ...inner,
    body: `* ${String(newContent["body"] ?? "")}`,
    ...(typeof newContent["formatted_body"] === "string" ? { formatted_body: `* ${newContent["formatted_body"]}` } : {}),
    "m.new_content": inner,
    "m.relates_to": { rel_type: "m.replace", event_id: originalEventId },
  };
}
