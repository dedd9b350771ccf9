// Joining one child room of a followed space: read its join rules when the bot can (public → join; restricted
// with an allow condition for this space → join; anything else → not joinable), else try the join with the
// child's `via` servers and read 403 as "not joinable". Every outcome is logged; nothing is thrown.
import type { Logger } from "pino";
import { MatrixRequestError } from "../../matrix/errors";
import { LifecycleStoppedError, type MatrixRooms } from "./matrix-rooms";
import type { RoomOrigins } from "./origins";
import { joinableFromSpace } from "./space-children";
import { describe } from "./tasks";

export interface ChildJoinRequest {
  spaceId: string;
  childId: string;
  via: string[];
}

export type ChildJoinOutcome = "joined" | "already-joined" | "not-joinable" | "not-found" | "failed";

export interface ChildJoinerDeps {
  rooms: MatrixRooms;
  origins: RoomOrigins;
  joined: { has(roomId: string): boolean; add(roomId: string): void };
  log: Logger;
}

export class ChildJoiner {
  constructor(private readonly deps: ChildJoinerDeps) {}

  async join(req: ChildJoinRequest): Promise<ChildJoinOutcome> {
    const { rooms, origins, joined, log } = this.deps;
    const fields = { spaceId: req.spaceId, childId: req.childId };
    if (joined.has(req.childId)) {
      await origins.addSpace(req.childId, req.spaceId);
      return "already-joined";
    }
    const rules = await this.readJoinRules(req.childId);
    if (rules !== "unreadable" && rules !== undefined) {
      const { joinable, rule } = joinableFromSpace(rules, req.spaceId);
      if (!joinable) {
        log.info({ ...fields, joinRule: rule }, "space child not joined: its join rule does not let space members in");
        return "not-joinable";
      }
    }
    try {
      await rooms.join(req.childId, req.via);
    } catch (e) {
      if (e instanceof LifecycleStoppedError) throw e;
      if (e instanceof MatrixRequestError && e.kind === "forbidden") {
        log.info({ ...fields, error: e.describe() }, "space child not joined: the homeserver refused (not joinable for the bot)");
        return "not-joinable";
      }
      if (e instanceof MatrixRequestError && e.kind === "not_found") {
        log.info({ ...fields, error: e.describe() }, "space child not joined: the room was not found");
        return "not-found";
      }
      log.warn({ ...fields, err: describe(e) }, "space child could not be joined; it is tried again at the next start");
      return "failed";
    }
    // A crash between the join and this write is repaired at the next start: the space is reconciled, the child
    // is found joined, and the origin is written then.
    await origins.addSpace(req.childId, req.spaceId);
    joined.add(req.childId);
    log.info({ ...fields, joinRule: rules === "unreadable" || rules === undefined ? "unknown" : rules["join_rule"] }, "joined a space child room");
    return "joined";
  }

  /** The child's join rules content; "unreadable" when the bot may not read them (not a member: the usual case). */
  private async readJoinRules(childId: string): Promise<Record<string, unknown> | "unreadable" | undefined> {
    try {
      return await this.deps.rooms.state(childId, "m.room.join_rules");
    } catch (e) {
      if (e instanceof LifecycleStoppedError) throw e;
      return "unreadable";
    }
  }
}
