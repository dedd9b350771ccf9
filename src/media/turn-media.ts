// The router's one step for a media message: the attachment for the turn, a notice for the user, or nothing (a
// picture in a reply-to-all room that this agent cannot read is not a question).
import type { Logger } from "pino";
import type { RoomEvent } from "../matrix/events";
import { parseMediaRef } from "./attachment";
import type { MediaIntake } from "./intake";
import type { PreparedMedia } from "./prepared";
import { MEDIA_TEXTS } from "./texts";

export type MediaTurnStep = { media: PreparedMedia } | { notice: string } | undefined;

export async function mediaForTurn(intake: MediaIntake, event: RoomEvent, addressed: boolean, log: Logger, signal?: AbortSignal): Promise<MediaTurnStep> {
  const where = { roomId: event.room_id, eventId: event.event_id };
  const parsed = parseMediaRef(event);
  if (!parsed.ok) {
    log.warn({ ...where, problem: parsed.problem }, "malformed attachment message; not passed to the agent");
    return addressed ? { notice: MEDIA_TEXTS.malformed } : undefined;
  }
  if (!addressed && !(await intake.wouldRead(parsed.ref, event.room_id))) return undefined;
  const outcome = await intake.prepare(parsed.ref, where, signal);
  if (signal?.aborted) {
    if (outcome.ok) outcome.media.release();
    throw new Error("stopping: the attachment is read again after the restart");
  }
  return outcome.ok ? { media: outcome.media } : { notice: outcome.notice };
}
