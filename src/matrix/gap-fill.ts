// Fills a `timeline.limited` gap: pages /messages backwards from prev_batch until an event already journaled
// (the last one seen) is reached, or a bound is hit (then the cut is logged: those messages are not answered).
import type { Logger } from "pino";
import { parseRoomEvent, type RoomEvent } from "./events";
import { enc, type MatrixHttp } from "./http";

export async function fillTimelineGap(http: MatrixHttp, roomId: string, prevBatch: string, timeline: RoomEvent[],
  opts: { userId: string; maxEvents: number; isKnown: (roomId: string, eventId: string) => Promise<boolean>; log: Logger; pageSize?: number },
): Promise<RoomEvent[]> {
  const inTimeline = new Set(timeline.map((e) => e.event_id));
  const missed: RoomEvent[] = []; // newest first while paging
  let from: string | undefined = prevBatch;
  while (from !== undefined) {
    const page: { chunk?: unknown[]; end?: string } = await http.request("GET",
      `/_matrix/client/v3/rooms/${enc(roomId)}/messages`,
      { query: { dir: "b", from, limit: Math.min(opts.pageSize ?? 100, opts.maxEvents) } });
    const chunk = page.chunk ?? [];
    for (const raw of chunk) {
      const parsed = parseRoomEvent(raw, roomId);
      if (!parsed.ok) continue;
      if (inTimeline.has(parsed.event.event_id)) continue;
      if (await opts.isKnown(roomId, parsed.event.event_id)) return missed.reverse();
      missed.push(parsed.event);
      if (isJoinOf(parsed.event, opts.userId)) return missed.reverse(); // older events predate the bot
      if (missed.length >= opts.maxEvents) {
        opts.log.warn({ roomId, kept: missed.length }, "sync gap larger than GAP_FILL_MAX_EVENTS; older missed messages are not answered");
        return missed.reverse();
      }
    }
    from = chunk.length > 0 && page.end !== undefined && page.end !== from ? page.end : undefined;
  }
  return missed.reverse();
}

function isJoinOf(event: RoomEvent, userId: string): boolean {
  return event.type === "m.room.member" && event.state_key === userId && event.content["membership"] === "join";
}
