// MSC3381 polls, in the form Element and Element X render: `org.matrix.msc3381.poll.start` with
// `org.matrix.msc1767.text` question and answers. Votes are read in the unstable (`org.matrix.msc3381.poll.response`,
// `answers`) and the stable (`m.poll.response`, with `answers` or `m.selections`) forms; the poll is ended with
// `org.matrix.msc3381.poll.end`.
import type { RoomEvent } from "../matrix/events";
import { relationOf } from "../turns/classify";

export const POLL_START = "org.matrix.msc3381.poll.start";
export const POLL_END = "org.matrix.msc3381.poll.end";
const POLL_RESPONSE = "org.matrix.msc3381.poll.response";
const POLL_RESPONSE_STABLE = "m.poll.response";
const TEXT = "org.matrix.msc1767.text";

type Content = Record<string, unknown>;

/** A poll's start event content; answer ids are `optionIds[i]`. `thread`: the m.thread relation it lives in. */
export function pollStartContent(question: string, options: string[], optionIds: string[], threadRootId?: string): Content {
  const fallback = `${question}\n${options.map((o, i) => `${i + 1}. ${o}`).join("\n")}`;
  return {
    [POLL_START]: {
      kind: "org.matrix.msc3381.poll.disclosed",
      max_selections: 1,
      question: { [TEXT]: question },
      answers: options.map((o, i) => ({ id: optionIds[i] ?? `o${i + 1}`, [TEXT]: o })),
    },
    [TEXT]: fallback,
    ...(threadRootId !== undefined ? { "m.relates_to": { rel_type: "m.thread", event_id: threadRootId, is_falling_back: true } } : {}),
  };
}

export function pollEndContent(pollEventId: string, text: string): Content {
  return { "m.relates_to": { rel_type: "m.reference", event_id: pollEventId }, [POLL_END]: {}, [TEXT]: text };
}

/** A vote (either form): the poll it is on and the answer ids chosen. */
export function voteOf(event: RoomEvent): { pollEventId: string; answers: string[] } | undefined {
  if (event.type !== POLL_RESPONSE && event.type !== POLL_RESPONSE_STABLE) return undefined;
  const rel = relationOf(event);
  if (rel.relType !== "m.reference" || !rel.eventId) return undefined;
  // Unstable (`org.matrix.msc3381.poll.response.answers`), stable as matrix-js-sdk sends it (`m.poll.response.answers`)
  // and as the spec has it (`m.selections`).
  const inner = (event.content[event.type] ?? event.content[POLL_RESPONSE]) as { answers?: unknown } | undefined;
  const raw = inner?.answers ?? event.content["m.selections"];
  const answers = Array.isArray(raw) ? raw.filter((a): a is string => typeof a === "string") : [];
  return { pollEventId: rel.eventId, answers };
}
