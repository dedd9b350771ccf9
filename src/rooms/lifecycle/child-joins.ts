// Joining one child room of a followed space. A child is joined only when it is public, or restricted to a room
// (a space) the inviter of the outermost space is joined to: a sub-space the bot reached through someone else's
// space does not open its restricted rooms to the bot. The join rule is read before the join when the bot can
// (rarely: it is usually not a member yet), and always after it: a room that turns out not to qualify is left at
// once, and nothing waits on it meanwhile (RoomChecks: no introduction, no thread). 403 on the join reads as "not
// joinable". Every outcome is logged; nothing is thrown.
import type { Logger } from "pino";
import { MatrixRequestError } from "../../matrix/errors";
import { LifecycleStoppedError, type MatrixRooms } from "./matrix-rooms";
import type { RoomOrigins } from "./origins";
import type { RoomChecks } from "./room-checks";
import { joinRuleOf } from "./space-children";
import { describe } from "./tasks";

export interface ChildJoinRequest {
  spaceId: string;
  childId: string;
  via: string[];
  /** Who invited the bot to the outermost space; unknown for spaces followed before it was recorded. */
  inviter: string | undefined;
}

export type ChildJoinOutcome = "joined" | "already-joined" | "not-joinable" | "not-found" | "failed";

export interface ChildJoinerDeps {
  rooms: MatrixRooms;
  origins: RoomOrigins;
  joined: { has(roomId: string): boolean; add(roomId: string): void };
  checks: RoomChecks;
  log: Logger;
}

/** Rooms of a restricted join rule's allow list looked at, at most (the list is whatever the room's admin wrote). */
const MAX_ALLOW_ROOMS = 10;

const NOT_ADMITTED = "space child not joined: its join rule does not let in members of a space the inviter is in";

export class ChildJoiner {
  constructor(private readonly deps: ChildJoinerDeps) {}

  async join(req: ChildJoinRequest): Promise<ChildJoinOutcome> {
    if (this.deps.joined.has(req.childId)) {
      await this.deps.origins.addSpace(req.childId, req.spaceId);
      return "already-joined";
    }
    let outcome: ChildJoinOutcome = "failed";
    await this.deps.checks.run(req.childId, async () => {
      outcome = await this.joinChecked(req);
      return outcome === "joined";
    });
    return outcome;
  }

  private async joinChecked(req: ChildJoinRequest): Promise<ChildJoinOutcome> {
    const { rooms, origins, joined, log } = this.deps;
    const fields = { spaceId: req.spaceId, childId: req.childId };
    const before = await this.readJoinRules(req.childId);
    if (typeof before === "object" && !(await this.admits(before, req))) {
      log.info({ ...fields, joinRule: joinRuleOf(before).rule }, NOT_ADMITTED);
      return "not-joinable";
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
    const rules = typeof before === "object" ? before : await this.readJoinRules(req.childId);
    if (typeof rules !== "object" || !(await this.admits(rules, req))) {
      await rooms.leave(req.childId, "This room is not open to the members of the space I was invited to.")
        .catch((e: unknown) => log.warn({ ...fields, err: describe(e) }, "could not leave the room"));
      log.info({ ...fields, joinRule: typeof rules === "object" ? joinRuleOf(rules).rule : "unknown" }, `${NOT_ADMITTED} (left it again)`);
      return "not-joinable";
    }
    // A crash between the join and this write is repaired at the next start: the space is reconciled, the child
    // is found joined, and the origin is written then.
    await origins.addSpace(req.childId, req.spaceId);
    joined.add(req.childId);
    log.info({ ...fields, joinRule: joinRuleOf(rules).rule }, "joined a space child room");
    return "joined";
  }

  /** Public, or restricted to a room the inviter is joined to (to this space when the inviter is unknown). */
  private async admits(rules: Record<string, unknown>, req: ChildJoinRequest): Promise<boolean> {
    const { rule, allowRooms } = joinRuleOf(rules);
    if (rule === "public") return true;
    if (rule !== "restricted" && rule !== "knock_restricted") return false;
    const inviter = req.inviter;
    if (inviter === undefined) return allowRooms.includes(req.spaceId);
    for (const roomId of allowRooms.slice(0, MAX_ALLOW_ROOMS)) {
      const members = await this.deps.rooms.joinedMembers(roomId).catch((e: unknown): string[] => {
        if (e instanceof LifecycleStoppedError) throw e;
        return []; // the bot cannot see who is in there: not a room it can vouch for
      });
      if (members.includes(inviter)) return true;
    }
    return false;
  }

  /** The child's join rules content; undefined when it has none; "unreadable" when the bot may not read them. */
  private async readJoinRules(childId: string): Promise<Record<string, unknown> | "unreadable" | undefined> {
    try {
      return await this.deps.rooms.state(childId, "m.room.join_rules");
    } catch (e) {
      if (e instanceof LifecycleStoppedError) throw e;
      return "unreadable";
    }
  }
}
