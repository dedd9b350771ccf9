// Helpers for proactive fan-out tests: many rooms the bot is joined to, opted in directly through the bot's
// own store (while the bot is stopped), and per-room copy counts.
import { openStore } from "../../src/store";
import pino from "pino";
import type { Scenario } from "./scenario";

/** Creates `count` rooms with Alice and the bot joined (homeserver control API; quick). */
export function createJoinedRooms(s: Scenario, count: number): string[] {
  const rooms: string[] = [];
  for (let i = 0; i < count; i++) {
    const roomId = s.hs.createRoom(s.alice.userId, { name: `room ${i}`, invite: [s.botUserId] });
    s.hs.join(s.botUserId, roomId);
    rooms.push(roomId);
  }
  return rooms;
}

/** Writes the opt-in index the way `/proactive on` does. Call only while the bot is stopped. */
export async function optInDirectly(where: string | { store: { url: string } }, roomIds: string[]): Promise<void> {
  // A data dir (the bot's default sqlite store in it), or a scenario (its store, on any backend).
  const url = typeof where === "string" ? `sqlite://${where}/bot.sqlite` : where.store.url;
  const store = await openStore(url, { logger: pino({ level: "silent" }) });
  try {
    const index = store.namespace<number>("proactive-rooms");
    for (const roomId of roomIds) await index.set(roomId, Date.now());
  } finally {
    await store.close();
  }
}

/** How many copies of `body` each room holds (from the bot). One pass over the bot's messages. */
export function copiesPerRoom(s: Scenario, roomIds: string[], body: string): Map<string, number> {
  const counts = new Map<string, number>(roomIds.map((r) => [r, 0]));
  for (const e of s.hs.sent({ sender: s.botUserId, type: "m.room.message" })) {
    const n = counts.get(e.room_id);
    if (n !== undefined && e.content["body"] === body) counts.set(e.room_id, n + 1);
  }
  return counts;
}

/** Polling options for waits over many rooms: often enough, without starving the in-process bot. */
export const MANY_ROOMS_POLL = { intervalMs: 100 } as const;

export function allExactlyOnce(counts: Map<string, number>): boolean {
  return [...counts.values()].every((n) => n === 1);
}
