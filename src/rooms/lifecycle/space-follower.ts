// Following spaces: the children a followed space lists are joined (when the bot may) through a bounded queue,
// children added later are joined, removed ones are left when nothing else keeps the bot there. Hostile spaces
// cost bounded work: at most maxChildrenPerSpace children each and maxRoomsPerInviter across the spaces and
// sub-spaces one user invited the bot to (SPACES_MAX_ROOMS), loops (a space listing itself or an ancestor) and
// malformed entries skipped, sub-spaces followed only to maxSpaceDepth. Each space's children are reconciled with
// its full state when it is followed and at every start (repairs whatever a crash cut short).
import type Keyv from "keyv";
import type { Logger } from "pino";
import type { RoomEvent } from "../../matrix/events";
import type { ChildJoiner } from "./child-joins";
import type { MatrixRooms } from "./matrix-rooms";
import type { LifecycleOptions } from "./options";
import type { RoomOrigins } from "./origins";
import { followedSpaceSchema, parseStored, type FollowedSpace } from "./records";
import { childrenInState, parseSpaceChild, SPACE_CHILD } from "./space-children";
import type { BackgroundTasks } from "./tasks";
import type { FairWorkQueue } from "./work-queue";
import { KeyedLock } from "../../util/keyed-lock";

interface SpaceState {
  depth: number;
  /** Who invited the bot to the outermost space (sub-spaces inherit it); unknown for spaces followed before. */
  inviter: string | undefined;
  ancestors: string[];
  children: Set<string>;
  /** Children whose join was attempted by this process and did not succeed: tried again at the next start only. */
  failed?: Set<string>;
  overCap: number;
  skipped: number;
  dirty: boolean;
  writing?: Promise<void>;
}

export interface SpaceFollowerDeps {
  rooms: MatrixRooms;
  origins: RoomOrigins;
  joiner: ChildJoiner;
  joined: { has(roomId: string): boolean };
  store: Keyv<unknown>;
  queue: FairWorkQueue;
  tasks: BackgroundTasks;
  options: LifecycleOptions;
  log: Logger;
  /** Leaves a room the bot no longer has a reason to be in. */
  leaveRoom: (roomId: string, reason: string) => Promise<void>;
}

export class SpaceFollower {
  private readonly spaces = new Map<string, SpaceState>();
  private readonly locks = new KeyedLock();

  constructor(private readonly deps: SpaceFollowerDeps) {}

  isFollowed(spaceId: string): boolean {
    return this.spaces.has(spaceId);
  }

  /** Loads the followed spaces and reconciles each in the background. */
  async start(): Promise<void> {
    const iterate = this.deps.store.iterator;
    if (!iterate) throw new Error("this store cannot list a namespace, which following spaces needs");
    const stored: Array<[string, unknown]> = [];
    for await (const [key, raw] of iterate(undefined)) if (typeof key === "string") stored.push([key, raw]);
    for (const [key, raw] of stored) { // listed first: reconciling writes to the namespace being listed
      const { value } = parseStored(followedSpaceSchema, raw);
      if (!value) {
        this.deps.log.warn({ spaceId: key }, "stored followed space is unreadable; following it afresh");
        this.spaces.set(key, newState(0, [], [], undefined));
      } else if (!this.spaces.has(key)) {
        this.spaces.set(key, newState(value.depth, value.ancestors, value.children, value.inviter));
      }
      this.reconcileSoon(key);
    }
  }

  /** Starts following a space the bot is in: records it, then joins its children in the background. */
  async follow(spaceId: string, depth: number, ancestors: string[], inviter: string | undefined): Promise<void> {
    if (this.spaces.has(spaceId)) return;
    const state = newState(depth, ancestors, [], inviter);
    this.spaces.set(spaceId, state);
    await this.deps.store.set(spaceId, snapshot(state));
    this.deps.log.info({ spaceId, depth }, "following the space's child rooms");
    this.reconcileSoon(spaceId);
  }

  /** An `m.space.child` event in a followed space (from sync's state block, the timeline or an appservice push). */
  async onChildEvent(event: RoomEvent): Promise<void> {
    if (event.type !== SPACE_CHILD || event.state_key === undefined || !this.spaces.has(event.room_id)) return;
    const spaceId = event.room_id;
    const child = parseSpaceChild(event.state_key, event.content, this.deps.options.maxViaServers);
    await this.locks.run(spaceId, async () => {
      const state = this.spaces.get(spaceId);
      if (!state) return;
      if (!child.ok) return this.skip(spaceId, state, event.state_key ?? "", child.reason);
      if (child.entry.present) this.consider(spaceId, state, child.entry.childId, child.entry.via);
      else await this.removeChild(spaceId, state, child.entry.childId);
    });
  }

  /** Resolves when the records being written are saved (call before the store closes). */
  async flush(): Promise<void> {
    await Promise.allSettled([...this.spaces.values()].map((s) => s.writing));
  }

  reconcileSoon(spaceId: string): void {
    this.deps.tasks.run("space reconciliation", { spaceId }, () => this.reconcile(spaceId));
  }

  /** The bot is no longer in the space (kicked, banned, left): stop following; its children stay. */
  async forget(spaceId: string): Promise<void> {
    await this.unfollow(spaceId, false);
  }

  /** Room upgrade of a followed space: the replacement is followed with the same children and ancestry. */
  async transfer(oldSpaceId: string, newSpaceId: string): Promise<void> {
    const old = this.spaces.get(oldSpaceId);
    if (!old || this.spaces.has(newSpaceId)) return;
    const state = newState(old.depth, old.ancestors, [...old.children], old.inviter);
    this.spaces.set(newSpaceId, state);
    await this.deps.store.set(newSpaceId, snapshot(state));
    for (const child of state.children) await this.deps.origins.addSpace(child, newSpaceId);
    await this.unfollow(oldSpaceId, false);
    this.deps.log.info({ oldSpaceId, newSpaceId }, "following the upgraded space instead of the old one");
    this.reconcileSoon(newSpaceId);
  }

  private async reconcile(spaceId: string): Promise<void> {
    if (!this.spaces.has(spaceId)) return;
    let events: unknown[];
    try {
      events = await this.deps.rooms.allState(spaceId);
    } catch (e) {
      const kind = (e as { kind?: unknown }).kind;
      if (kind === "forbidden" || kind === "not_found") {
        this.deps.log.info({ spaceId }, "the bot is no longer in a followed space; following stopped");
        await this.forget(spaceId);
        return;
      }
      throw e;
    }
    const { present, malformed } = childrenInState(events, this.deps.options.maxViaServers);
    await this.locks.run(spaceId, async () => {
      const state = this.spaces.get(spaceId);
      if (!state) return;
      state.overCap = 0;
      state.skipped = 0;
      const listed = new Set(present.map((p) => p.childId));
      for (const child of [...state.children]) if (!listed.has(child)) await this.removeChild(spaceId, state, child);
      for (const { childId, via } of present) {
        if (state.children.has(childId)) {
          if (!this.deps.joined.has(childId) && !state.failed?.has(childId)) this.enqueue(spaceId, state, childId, via);
        } else {
          this.consider(spaceId, state, childId, via);
        }
      }
      if (malformed > 0) this.deps.log.warn({ spaceId, malformed }, "space lists malformed children; they were skipped");
      this.deps.log.info({ spaceId, listed: present.length, followed: state.children.size, ignoredOverLimit: state.overCap,
        skipped: state.skipped, limit: this.deps.options.maxChildrenPerSpace }, "space children reconciled");
    });
  }

  private consider(spaceId: string, state: SpaceState, childId: string, via: string[]): void {
    if (state.children.has(childId)) return;
    if (childId === spaceId) return this.skip(spaceId, state, childId, "the space lists itself");
    if (state.ancestors.includes(childId)) return this.skip(spaceId, state, childId, "the space lists one of its ancestors (a loop)");
    if (state.children.size >= this.deps.options.maxChildrenPerSpace) {
      if (state.overCap === 0) {
        this.deps.log.warn({ spaceId, limit: this.deps.options.maxChildrenPerSpace },
          "space lists more children than the bot follows; the others are ignored");
      }
      state.overCap += 1;
      return;
    }
    if (this.roomsFollowedFor(state.inviter) >= this.deps.options.maxRoomsPerInviter) {
      if (state.overCap === 0) {
        this.deps.log.warn({ spaceId, inviter: state.inviter ?? null, limit: this.deps.options.maxRoomsPerInviter },
          "the spaces this user invited the bot to list more rooms than it follows per user (SPACES_MAX_ROOMS); the others are ignored");
      }
      state.overCap += 1;
      return;
    }
    state.children.add(childId);
    this.persist(spaceId, state);
    this.enqueue(spaceId, state, childId, via);
  }

  private enqueue(spaceId: string, state: SpaceState, childId: string, via: string[]): void {
    const added = this.deps.queue.add(spaceId, `${spaceId}|${childId}`, () => this.joinChild(spaceId, childId, via));
    if (added === "full") this.skip(spaceId, state, childId, "the join queue is full (tried again at the next start)");
  }

  private async joinChild(spaceId: string, childId: string, via: string[]): Promise<void> {
    const state = this.spaces.get(spaceId);
    if (!state?.children.has(childId) || this.deps.tasks.stopping) return; // removed or unfollowed meanwhile
    const outcome = await this.deps.joiner.join({ spaceId, childId, via, inviter: state.inviter });
    if (outcome !== "joined" && outcome !== "already-joined") {
      (state.failed ??= new Set()).add(childId); // bounded work: not again in this process
      return;
    }
    if (!this.spaces.get(spaceId)?.children.has(childId)) { // removed while the join was under way
      if ((await this.deps.origins.removeSpace(childId, spaceId)) === "leave") {
        await this.deps.leaveRoom(childId, "This room was removed from the space I followed it through.");
      }
      return;
    }
    const info = await this.deps.rooms.createInfo(childId);
    if (info?.type !== "m.space") return;
    if (state.depth + 1 > this.deps.options.maxSpaceDepth) {
      this.deps.log.info({ spaceId, childId, maxDepth: this.deps.options.maxSpaceDepth }, "sub-space joined but not followed: nested too deep");
      return;
    }
    await this.follow(childId, state.depth + 1, [...state.ancestors, spaceId], state.inviter);
  }

  /** Distinct rooms followed through the spaces of one inviter (bounded by maxRoomsPerInviter, so cheap to count). */
  private roomsFollowedFor(inviter: string | undefined): number {
    const rooms = new Set<string>();
    for (const space of this.spaces.values()) if (space.inviter === inviter) for (const child of space.children) rooms.add(child);
    return rooms.size;
  }

  private async removeChild(spaceId: string, state: SpaceState, childId: string): Promise<void> {
    if (!state.children.delete(childId)) return;
    this.persist(spaceId, state);
    const verdict = await this.deps.origins.removeSpace(childId, spaceId);
    if (verdict !== "leave") {
      this.deps.log.info({ spaceId, childId, verdict }, "space child removed; the bot stays (it has another reason to be there)");
      return;
    }
    this.deps.log.info({ spaceId, childId }, "space child removed; leaving it (the bot joined it only because of the space)");
    if (this.spaces.has(childId)) await this.unfollow(childId, true);
    await this.deps.leaveRoom(childId, "This room was removed from the space I followed it through.");
  }

  private async unfollow(spaceId: string, leaveChildren: boolean): Promise<void> {
    const state = this.spaces.get(spaceId);
    if (!state) return;
    this.spaces.delete(spaceId);
    this.deps.queue.dropGroup(spaceId);
    await state.writing;
    await this.deps.store.delete(spaceId);
    for (const child of state.children) {
      const verdict = await this.deps.origins.removeSpace(child, spaceId);
      if (!leaveChildren || verdict !== "leave") continue;
      if (this.spaces.has(child)) await this.unfollow(child, true);
      await this.deps.leaveRoom(child, "The space I followed this room through was removed.");
    }
    this.deps.log.info({ spaceId, children: state.children.size, leftChildren: leaveChildren }, "stopped following a space");
  }

  private skip(spaceId: string, state: SpaceState, childId: string, reason: string): void {
    if (state.skipped === 0) this.deps.log.warn({ spaceId, childId: childId.slice(0, 255), reason }, "space child skipped");
    else this.deps.log.debug({ spaceId, childId: childId.slice(0, 255), reason }, "space child skipped");
    state.skipped += 1;
  }

  /** Writes the space's record; writes requested while one is in flight coalesce into one more. */
  private persist(spaceId: string, state: SpaceState): void {
    state.dirty = true;
    if (state.writing) return;
    state.writing = (async () => {
      while (state.dirty && this.spaces.get(spaceId) === state) {
        state.dirty = false;
        await this.deps.store.set(spaceId, snapshot(state));
      }
    })().catch((e: unknown) => this.deps.log.warn({ spaceId, err: String(e) }, "could not save a followed space"))
      .finally(() => (state.writing = undefined));
  }
}

function newState(depth: number, ancestors: string[], children: string[], inviter: string | undefined): SpaceState {
  return { depth, inviter, ancestors, children: new Set(children), overCap: 0, skipped: 0, dirty: false };
}

function snapshot(state: SpaceState): FollowedSpace {
  return { depth: state.depth, ancestors: state.ancestors, children: [...state.children], ...(state.inviter ? { inviter: state.inviter } : {}) };
}
