// Creating a room exactly once across crashes. Each room the bot creates carries a marker state event
// (PROVISION_MARKER_TYPE: user, kind, request). Steps, each recorded right after it succeeded:
//   1. createIntent written (before createRoom);
//   2. createRoom;
//   3. roomId written.
// A crash between 2 and 3 leaves the intent without a room id: the next attempt first searches the bot's
// joined rooms for the marker, and creates a room only when none carries it. A transient createRoom failure
// (the room may exist anyway: a timeout after the server created it) is handled the same way.
import type { Logger } from "pino";
import { MatrixRequestError } from "../../matrix/errors";
import { checkpoint, type Checkpoint } from "../../util/checkpoints";
import { LifecycleStoppedError, type MatrixRooms } from "./matrix-rooms";
import type { RoomOrigins } from "./origins";
import { PROVISION_MARKER_TYPE, provisionMarkerSchema, type CreatedRoomSteps, type ProvisionMarker } from "./records";

export interface RoomRecipe {
  marker: ProvisionMarker;
  /** The createRoom body; the marker is added to its initial_state. */
  body: Record<string, unknown>;
  /** Crash-test checkpoint right after createRoom answered (before the room id is recorded). */
  checkpoint?: Checkpoint;
}

export class RoomCreator {
  constructor(private readonly rooms: MatrixRooms, private readonly origins: RoomOrigins,
    private readonly joined: { add(roomId: string): void }, private readonly log: Logger) {}

  /** The room of `steps`, created if needed; `save` persists `steps` (called after each step). */
  async ensure(steps: CreatedRoomSteps, recipe: RoomRecipe, save: () => Promise<void>): Promise<string> {
    if (steps.roomId !== undefined) return steps.roomId;
    if (steps.createIntent !== undefined) {
      const found = await this.findMarked(recipe.marker);
      if (found !== undefined) {
        this.log.info({ roomId: found, kind: recipe.marker.kind, userId: recipe.marker.user_id },
          "found the room created before a restart; not creating another");
        return this.adopt(steps, found, save);
      }
    }
    steps.createIntent = Date.now();
    await save();
    const body = withMarker(recipe.body, recipe.marker);
    for (let attempt = 1; ; attempt += 1) {
      try {
        const roomId = await this.rooms.createRoomOnce(body);
        if (recipe.checkpoint) checkpoint(recipe.checkpoint);
        this.log.info({ roomId, kind: recipe.marker.kind, userId: recipe.marker.user_id }, "room created");
        return await this.adopt(steps, roomId, save);
      } catch (e) {
        if (!(e instanceof MatrixRequestError) || !e.transient || attempt >= this.rooms.attempts) throw e;
        const found = await this.findMarked(recipe.marker);
        if (found !== undefined) return this.adopt(steps, found, save);
        if (!(await this.rooms.backoff(e, attempt))) throw new LifecycleStoppedError();
      }
    }
  }

  /** A joined room carrying exactly this marker, if any. */
  async findMarked(marker: ProvisionMarker): Promise<string | undefined> {
    for (const roomId of await this.rooms.joinedRooms()) {
      let content: Record<string, unknown> | undefined;
      try {
        content = await this.rooms.state(roomId, PROVISION_MARKER_TYPE);
      } catch (e) {
        if (e instanceof LifecycleStoppedError) throw e;
        continue;
      }
      const parsed = provisionMarkerSchema.safeParse(content);
      if (parsed.success && parsed.data.user_id === marker.user_id && parsed.data.kind === marker.kind &&
        parsed.data.request === marker.request) return roomId;
    }
    return undefined;
  }

  private async adopt(steps: CreatedRoomSteps, roomId: string, save: () => Promise<void>): Promise<string> {
    steps.roomId = roomId;
    await save();
    this.joined.add(roomId);
    await this.origins.markDirect(roomId);
    return roomId;
  }
}

function withMarker(body: Record<string, unknown>, marker: ProvisionMarker): Record<string, unknown> {
  const initial = Array.isArray(body["initial_state"]) ? body["initial_state"] : [];
  return { ...body, initial_state: [...initial, { type: PROVISION_MARKER_TYPE, state_key: "", content: marker }] };
}
